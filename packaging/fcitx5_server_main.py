"""Entry point of the frozen fcitx5 engine process (PyInstaller): the same ``shuru-fcitx5-server`` command as the console script."""
import sys

from engine.core.libime import MERGE_FLAG
from shuru_fcitx5.__main__ import main

if __name__ == "__main__":
    if sys.argv[1:2] == [MERGE_FLAG]:  # the engine's background merge of libime's model (engine.libime)
        from engine.core.libime import main as merge_main

        sys.exit(merge_main(sys.argv[2:]))
    sys.exit(main())
