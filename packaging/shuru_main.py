"""Entry point of the frozen app (PyInstaller): the same ``shuru`` command as the console script."""
import sys

from ime_app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
