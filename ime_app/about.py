"""Help → About: the version, the engine and model in use, the sizes of the data, the licences.

Everything is read from the files themselves (the model's ``manifest.json``, the assets' sizes),
so the box describes what is installed; the whole model card stays one click away
(:func:`model_card_text`). No Qt here: the window shows the HTML.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

CODE_LICENCE = "MIT"
DATA_LICENCE = "CC BY-SA 4.0"  # the lexicon and n-gram contain Wikipedia titles; the replay sample OI wiki text
LICENCES_FILE = "LICENSES.md"  # beside the lexicon: every source, its licence and attribution
DATA_FILES = (("lexicon.npz", "lexicon"), ("ngram.npz", "n-gram model"))
MODEL_CARD_NAMES = ("MODEL_CARD.md", "model_card.md", "README.md")


@dataclass(frozen=True)
class AboutFacts:
    """What the About box describes; ``model_dir`` is None when no neural model is loaded."""

    version: str
    engine_status: str
    model_name: str
    model_dir: Path | None
    assets_dir: Path


def about_html(facts: AboutFacts) -> str:
    """The About box: a few labelled lines, each a sentence (no raw JSON, nothing cut short)."""
    rows = [("Engine", escape(facts.engine_status)),
            ("Model", escape(model_description(facts.model_name, facts.model_dir))),
            ("Data", escape(data_sizes(facts.assets_dir))),
            ("Licences", licences_html(facts.assets_dir))]
    body = "".join(f"<tr><td valign=top><b>{label}</b></td><td>{text}</td></tr>" for label, text in rows)
    return (f"<h3>Shuru 输入 {escape(facts.version)}</h3>"
            "<p>A pinyin input method that runs entirely on this computer.</p>"
            f"<table cellspacing=0 cellpadding=3>{body}</table>")


def model_description(name: str, model_dir: Path | None) -> str:
    """Two sentences about the neural model in use, from its manifest: which one it is (and what
    it learned from), then its shape and file size."""
    if model_dir is None:
        return "None loaded: the statistical scorers (lexicon and n-gram) rank the candidates."
    manifest = _read_manifest(model_dir)
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    training = manifest.get("training") if isinstance(manifest.get("training"), dict) else {}
    which = {"base": "The base model shipped with Shuru",
             "custom": f"The model folder given on the command line ({model_dir})"}.get(
        name, f"Your personal model {name}")
    texts = training.get("texts") if isinstance(training.get("texts"), list) else []
    if texts:
        which += ", fine-tuned on " + ", ".join(Path(str(t)).name for t in texts)
    if manifest.get("exported_at"):
        which += f"; made {str(manifest['exported_at']).replace('T', ' ')[:16]}"
    shape = (f"A character transformer of {cfg.get('n_layer', '?')} layers (width {cfg.get('d_model', '?')}) over "
             f"{_count(manifest.get('vocab_size', cfg.get('vocab_size')))} characters") if cfg else ""
    onnx = model_dir / str((manifest.get("files") or {}).get("onnx", "model.onnx"))
    size = (f"model file {format_size(onnx.stat().st_size)}" + (" (int8)" if manifest.get("quantized") else "")
            if onnx.is_file() else "")
    details = "; ".join(p for p in (shape, size) if p)
    return f"{which}." + (f" {details[0].upper()}{details[1:]}." if details else "")


def data_sizes(assets_dir: Path) -> str:
    """"lexicon 52.5 MB, n-gram model 49.4 MB" (a missing file says so)."""
    parts = []
    for name, label in DATA_FILES:
        path = Path(assets_dir) / name
        parts.append(f"{label} {format_size(path.stat().st_size)}" if path.is_file() else f"{label} missing")
    return ", ".join(parts) + "."


def licences_html(assets_dir: Path) -> str:
    """The licences in two sentences and a link to the file naming every source."""
    path = Path(assets_dir) / LICENCES_FILE
    link = (f"<a href='{path.resolve().as_uri()}'>{LICENCES_FILE}</a>" if path.is_file()
            else escape(LICENCES_FILE))
    return (f"Shuru's code: {CODE_LICENCE}. The lexicon, the n-gram model and the general-text sample used "
            f"for fine-tuning: {DATA_LICENCE}, built from Chinese Wikipedia titles, word lists and corpus text; "
            f"the neural model is trained on that corpus. Every source and its attribution: {link}.")


def model_card_text(model_dir: Path | None) -> str:
    """The model's whole card (its README), else a readable summary of its manifest, or ""."""
    if model_dir is None:
        return ""
    for name in MODEL_CARD_NAMES:
        try:
            return (Path(model_dir) / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return manifest_summary(_read_manifest(model_dir), Path(model_dir))


def manifest_summary(manifest: dict, model_dir: Path) -> str:
    """A model's manifest as lines of ``key: value`` text (for a model that ships no card)."""
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    lines = [f"Model folder: {model_dir}",
             f"Transformer character LM: {cfg.get('n_layer', '?')} layers, d_model {cfg.get('d_model', '?')}, "
             f"{cfg.get('n_head', '?')} heads, vocabulary {manifest.get('vocab_size', '?')}, "
             f"context {cfg.get('max_len', '?')} characters"]
    if manifest.get("exported_at"):
        lines.append(f"Exported: {manifest['exported_at']}" + (" (int8)" if manifest.get("quantized") else ""))
    for key in ("training", "metrics"):
        if isinstance(manifest.get(key), dict) and manifest[key]:
            lines.append(f"{key.capitalize()}:")
            lines += [f"  {k}: {_plain(v)}" for k, v in manifest[key].items()]
    return "\n".join(lines)


def format_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _plain(value) -> str:
    """A manifest value as text: lists and mappings inline, numbers and strings as they are."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


def _read_manifest(model_dir: Path) -> dict:
    try:
        raw = json.loads((Path(model_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}
