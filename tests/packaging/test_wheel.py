"""pip installs a working Shuru: the wheel carries the assets, and the engine finds them as package data."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSET_FILES = ["engine/assets/lexicon.npz", "engine/assets/ngram.npz", "engine/assets/LICENSES.md",
               "engine/assets/model/manifest.json", "engine/assets/model/model.onnx",
               "engine/assets/model/vocab.txt", "engine/assets/pinyin-model/manifest.json",
               "engine/assets/pinyin-model/encoder.onnx", "engine/assets/pinyin-model/decoder.onnx"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True)
    (path,) = out.glob("shuru-*.whl")
    return path


def test_the_wheel_carries_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert all(f in names for f in ASSET_FILES), sorted(set(ASSET_FILES) - names)
    assert not [n for n in names if n.startswith(("tools/", "tests/"))]  # development tooling stays out
    assert wheel.stat().st_size < 150e6


def test_the_engine_installed_from_the_wheel_converts_pinyin(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, text=True)
    elsewhere = tmp_path / "elsewhere"  # no checkout on the path: only the installed package
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    before = {p: p.stat().st_mtime for p in site.rglob("*")}
    code = "import engine, sys; print(engine.__file__)"
    where = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(site))
    out = subprocess.run([sys.executable, "-m", "engine", "convert", "--topk", "3"], input="nihao\n", cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["candidates"][0] == "你好"
    assert "engine: neural (base)" in out.stderr  # the model came along too (and onnxruntime with it)
    assert "pinyin-reading model" in out.stderr and "not used" not in out.stderr  # and the pinyin-reading model
    # the install folder is only read (a system install is read-only): nothing written or changed there
    assert {p: p.stat().st_mtime for p in site.rglob("*")} == before
