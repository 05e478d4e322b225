"""cookbook-tui screens."""
