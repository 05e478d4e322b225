"""cookbook-tui app."""
