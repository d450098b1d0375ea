"""``python -m tools``: development commands (see tools/cli.py)."""
import sys

from .cli import main

sys.exit(main())
