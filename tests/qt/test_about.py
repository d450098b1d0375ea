"""Help → About reads as sentences: version, engine, model, data sizes, licences; the whole model
card (or a readable summary of a manifest) is one click further. No JSON, nothing cut mid-word."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from ime_app.about import AboutFacts, about_html, manifest_summary, model_card_text
from tests.engine.test_models import make_model

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BASE = ASSETS / "model"


def plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def personal_model(tmp_path: Path) -> Path:
    """A fine-tune's folder: a manifest with training and metrics, and no card of its own."""
    folder = make_model(tmp_path / "models", "personal-20261201-1530", texts=("diary.txt", "letters.md"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(config={"n_layer": 4, "d_model": 256, "n_head": 4, "max_len": 128}, vocab_size=7490,
                    quantized=True, files={"onnx": "model.onnx"})
    manifest["metrics"]["report"] = {"user": {"top1": [61.7, 70.0], "clauses": 60}}
    manifest["training"]["config"] = {"lr": 0.0005, "batch_size": 32, "replay_fraction": 0.5} | {
        f"option_{i}": "a long value " * 4 for i in range(10)}  # far beyond what a box can show
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


# (model name, folder maker, what the Model line says)
MODELS = [
    ("base", lambda tmp: BASE, ["The base model shipped with Shuru; made 2026-11-22 21:04.",
                                "A character transformer of 4 layers (width 256) over 7,490 characters; "
                                "model file 5.2 MB (int8)."]),
    ("personal-20261201-1530", personal_model, ["Your personal model personal-20261201-1530, fine-tuned on "
                                                "diary.txt, letters.md; made 2026-12-01 15:30.",
                                                "model file 1 kB (int8)."]),
    ("custom", lambda tmp: make_model(tmp, "elsewhere"), ["The model folder given on the command line (",
                                                         "elsewhere), fine-tuned on notes.txt"]),
    ("none", lambda tmp: None, ["None loaded: the statistical scorers (lexicon and n-gram) rank the candidates."]),
]


@pytest.mark.parametrize("name,folder,says", MODELS, ids=[m[0] for m in MODELS])
def test_the_about_box_is_a_readable_summary(tmp_path, name, folder, says):
    html = about_html(AboutFacts("0.3.5", "neural (base) + n-gram", name, folder(tmp_path), ASSETS))
    text = " ".join(plain(html).split())
    assert "Shuru 输入 0.3.5" in text and "Engine neural (base) + n-gram" in text
    for fragment in says:
        assert fragment in text
    lexicon, ngram = ((ASSETS / f).stat().st_size / 1e6 for f in ("lexicon.npz", "ngram.npz"))
    assert f"lexicon {lexicon:.1f} MB, n-gram model {ngram:.1f} MB" in text
    assert "Shuru's code: MIT" in text and "CC BY-SA 4.0" in text
    assert (ASSETS / "LICENSES.md").resolve().as_uri() in html  # the link to every source's attribution
    assert "{" not in text and "…" not in text  # no raw JSON, nothing cut short


def test_missing_data_files_are_named(tmp_path):
    text = plain(about_html(AboutFacts("0.3.5", "failed to load", "none", None, tmp_path)))
    assert "lexicon missing, n-gram model missing" in text and "LICENSES.md" in text


def test_the_whole_card_is_the_models_readme():
    assert model_card_text(BASE) == (BASE / "README.md").read_text(encoding="utf-8")
    assert model_card_text(None) == ""


def test_a_model_without_a_card_is_summarised_line_by_line(tmp_path):
    folder = personal_model(tmp_path)
    card = model_card_text(folder)
    assert "Transformer character LM: 4 layers, d_model 256, 4 heads, vocabulary 7490, context 128" in card
    assert "Exported: 2026-12-01T15:30:00 (int8)" in card and str(folder) in card
    assert "  texts: /home/me/diary.txt, /home/me/letters.md" in card
    assert "  report: user top1 61.7, 70.0, clauses 60" in card
    assert "{" not in card and "\"" not in card  # key: value lines, not JSON
    assert card.count("a long value") == 40  # every value whole


def test_a_manifest_with_unexpected_shapes_still_reads(tmp_path):
    text = manifest_summary({"config": "not a dict", "training": [1, 2], "metrics": {}}, tmp_path)
    assert text.splitlines()[1] == "Transformer character LM: ? layers, d_model ?, ? heads, vocabulary ?, context ? characters"
