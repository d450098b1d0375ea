"""Where the window finds the trainer it runs for Tools → Personalise… (no Qt window, no trainer run)."""
from pathlib import Path

import pytest

from ime_app.training import NO_TRAINER, trainer_command

HOME = Path("/home/u")
DEB = "/opt/shuru-trainer/shuru-trainer"
USER = "/home/u/.local/opt/shuru-trainer/shuru-trainer"


@pytest.mark.parametrize("frozen, executable, importable, installed, on_path, expected", [
    # a checkout or a pip install with the trainer extra: the same Python runs it
    (False, "/src/.venv/bin/python", True, [DEB], None, ["/src/.venv/bin/python", "-m", "trainer"]),
    # the frozen .deb app: the trainer .deb's, never a Python that is not there
    (True, "/opt/shuru/shuru", True, [DEB], None, [DEB]),
    # the user install (~/.local/opt/shuru) finds the trainer beside it before the system's
    (True, "/home/u/.local/opt/shuru/shuru", False, [USER, DEB], None, [USER]),
    (True, "/home/u/.local/opt/shuru/shuru", False, [DEB], None, [DEB]),
    (True, "/opt/shuru/shuru", False, [USER], None, [USER]),
    # elsewhere on PATH
    (True, "/opt/shuru/shuru", False, [], "/usr/local/bin/shuru-trainer", ["/usr/local/bin/shuru-trainer"]),
    # a pip install without the trainer extra looks for an installed one too
    (False, "/usr/bin/python3", False, [DEB], None, [DEB]),
    # none anywhere: None (the window then says how to get it)
    (True, "/opt/shuru/shuru", False, [], None, None),
])
def test_the_trainer_is_found_where_it_is_installed(frozen, executable, importable, installed, on_path, expected):
    found = trainer_command(frozen=frozen, executable=executable, importable=importable, home=HOME,
                            which=lambda name: on_path if name == "shuru-trainer" else None,
                            is_executable=lambda path: str(path) in installed)
    assert found == expected


def test_without_a_trainer_the_message_says_which_package_to_install():
    assert "shuru-trainer" in NO_TRAINER and ".deb" in NO_TRAINER
