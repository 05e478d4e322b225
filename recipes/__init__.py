"""cookbook-tui recipes."""
