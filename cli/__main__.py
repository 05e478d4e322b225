"""`python -m cookbook_tui.cli …`: how the TUI starts runner and `serve` processes."""

import sys

from cookbook_tui.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
