"""Deploy step: compile the shipped lexicon and n-gram model from ../shared/data.

Run ``python -m tools.build --help``. The runtime (``engine``) only loads the
compiled files; see ``assets/FORMATS.md`` for what they contain.
"""
