"""python -m tools.build {counts,lexicon,ngram,all,bench-inputs}: compile assets from ../shared/data."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.corpus import DEFAULT_DATA_DIR

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.build", description=__doc__)
    ap.add_argument("step", choices=["counts", "lexicon", "ngram", "all", "bench-inputs"])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="shared data folder")
    ap.add_argument("--work", type=Path, default=ROOT / "build", help="scratch folder (not in git)")
    ap.add_argument("--assets", type=Path, default=ROOT / "assets", help="output folder")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--open-domain", default="zhwiki",
                    help="open-domain word lists for lexicon v2, comma-separated: zhwiki (shipped), wordfreq, essay; '' = none")
    args = ap.parse_args(argv)
    if not (args.data / "corpus").is_dir() or not (args.data / "lexicons").is_dir():
        print(f"tools.build: no corpus and lexicons under {args.data}: the asset build needs the development data "
              "(../shared/data beside a checkout, or --data DIR); it is not part of the repository, and the built "
              "assets already ship in assets/", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "bench-inputs":
        from .bench_inputs import build_bench_inputs

        print(build_bench_inputs(args.data))
        return 0
    steps = ["counts", "lexicon", "ngram"] if args.step == "all" else [args.step]
    for step in steps:
        if step == "counts":
            from .counts import count_corpus
            from .words import candidate_words, pypinyin_chars

            count_corpus(candidate_words(args.data), pypinyin_chars(), args.work / "counts.npz", args.procs,
                         data_dir=args.data, extra_words=_open_domain(args).all_words(),
                         titles=_open_domain(args).titles)
        elif step == "lexicon":
            from .lexicon_build import build_lexicon

            build_lexicon(args.work / "counts.npz", args.assets, args.data, open_domain=_open_domain(args))
        elif step == "ngram":
            from .ngram_build import build_ngram

            build_ngram(args.work / "counts.npz", args.assets)
    return 0


def _open_domain(args):
    from .words import open_domain_words

    if not hasattr(args, "_lists"):
        names = frozenset(x for x in args.open_domain.split(",") if x)
        args._lists = open_domain_words(args.data, names)
    return args._lists


if __name__ == "__main__":
    sys.exit(main())
