"""python -m tools.upgrade_models DIR...: bring model dirs of an earlier format version to this
one in place (the neural character model and the pinyin-reading model: format version 2 takes
and returns float16 caches and log-probabilities; the character model's version 3 returns the new
positions' keys and values only; the weights are unchanged). Used on the
shipped assets/model and assets/pinyin-model; a user's own models still load as they are."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def upgrade(model_dir: Path) -> str:
    """Upgrade one dir; a line saying what was done."""
    from engine.core.model_format import FORMAT as CHAR_FORMAT
    from engine.pinyin.pinyin_format import FORMAT as PINYIN_FORMAT

    try:
        fmt = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError) as e:
        raise SystemExit(f"upgrade_models: {model_dir} has no readable manifest.json: {e}")
    if fmt == CHAR_FORMAT:
        from trainer.export import upgrade_model_dir as up
    elif fmt == PINYIN_FORMAT:
        from trainer.pinyin_export import upgrade_pinyin_model_dir as up
    else:
        raise SystemExit(f"upgrade_models: {model_dir} is not a Shuru model dir (format {fmt!r})")
    return f"{model_dir}: {'upgraded' if up(model_dir) else 'already the current format'}"


def main(argv: list[str] | None = None) -> int:
    dirs = sys.argv[1:] if argv is None else argv
    if not dirs:
        print(__doc__, file=sys.stderr)
        return 2
    for d in dirs:
        print(upgrade(Path(d)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
