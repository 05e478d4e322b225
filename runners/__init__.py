"""cookbook-tui runners."""
