"""The desktop entry and AppStream metainfo pass the validators distributions use."""
import configparser
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ime_app.app import DESKTOP_ID

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{DESKTOP_ID}.desktop"
METAINFO = LINUX / f"{DESKTOP_ID}.metainfo.xml"


@pytest.mark.parametrize("command", [["desktop-file-validate", str(DESKTOP)],
                                     ["appstreamcli", "validate", "--no-net", str(METAINFO)]])
def test_the_files_validate(command):
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_they_describe_this_version_and_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP, encoding="utf-8")
    assert entry["Desktop Entry"]["Exec"].split()[0] in project["scripts"]
    assert entry["Desktop Entry"]["Icon"] == DESKTOP_ID
    meta = ET.parse(METAINFO).getroot()
    assert meta.findtext("id") == DESKTOP_ID
    assert meta.find("releases/release").get("version") == project["version"]
    assert meta.findtext("launchable") == DESKTOP.name
    assert (ROOT / "shuru_ibus/shuru.svg").exists()  # the icon packages install as DESKTOP_ID.svg
