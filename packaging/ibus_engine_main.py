"""Entry point of the frozen IBus engine (PyInstaller): the same ``ibus-engine-shuru`` command as the console script."""
import sys

from ime_app.ibus.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
