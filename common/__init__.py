"""What every room shares and nothing of ours beneath it: atomic files and staging folders, pid
checks, the user's dirs, and the bundled tiny model. Imports no other cookbook_tui package."""
