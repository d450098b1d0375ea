"""Entry point of the frozen trainer (PyInstaller): ``shuru-trainer finetune --text FILE`` is ``python -m trainer finetune``."""
import sys

from trainer.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
