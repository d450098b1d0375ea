"""Registering the fcitx5 addon for one user: the .conf files fcitx5 reads, the launcher, and removal."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shuru_fcitx5 import register as reg


@pytest.fixture
def addon_conf(tmp_path):
    conf = tmp_path / "build" / "shuru-addon.conf"
    conf.parent.mkdir()
    conf.write_text("[Addon]\nName=Shuru\nLibrary=/somewhere/build/shuru\nType=SharedLibrary\n", encoding="utf-8")
    return conf


def test_register_puts_both_conf_files_where_fcitx5_reads_them(tmp_path, addon_conf):
    placed = reg.register(addon_conf, tmp_path / "data")
    assert placed == [tmp_path / "data/fcitx5/addon/shuru.conf", tmp_path / "data/fcitx5/inputmethod/shuru.conf"]
    assert "Library=/somewhere/build/shuru" in placed[0].read_text(encoding="utf-8")
    method = placed[1].read_text(encoding="utf-8")
    assert "[InputMethod]" in method and "Addon=shuru" in method and "LangCode=zh_CN" in method


def test_unregister_removes_them_and_is_quiet_when_nothing_is_there(tmp_path, addon_conf):
    placed = reg.register(addon_conf, tmp_path / "data")
    assert reg.unregister(tmp_path / "data") == placed
    assert not any(p.exists() for p in placed)
    assert reg.unregister(tmp_path / "data") == []


def test_the_launcher_runs_the_given_command_with_its_own_arguments(tmp_path):
    launcher = reg.write_launcher(tmp_path, [sys.executable, "-c", "import sys; print(sys.argv[1:])"])
    assert launcher.name == "shuru-fcitx5-server" and os.access(launcher, os.X_OK)
    done = subprocess.run([str(launcher), "--settings", "a b"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['--settings', 'a b']"


def test_the_checkout_command_runs_this_checkouts_engine_process():
    argv = reg.checkout_server_command(python="/venv/bin/python")
    assert argv[0] == "/usr/bin/env" and argv[1].startswith("PYTHONPATH=") and argv[2:] == [
        "/venv/bin/python", "-m", "shuru_fcitx5"]


def test_building_without_cmake_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(reg.shutil, "which", lambda name: None)
    with pytest.raises(reg.AddonBuildError, match="libfcitx5core-dev"):
        reg.build_addon(tmp_path)


def test_settings_replaces_the_process_with_the_settings_window(monkeypatch):
    from shuru_fcitx5 import __main__ as cli

    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(argv))
    cli.main(["--settings"])
    assert len(calls) == 1 and calls[0][-2:] == ["ime_app", "--settings"]
