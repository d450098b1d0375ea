"""The key reference has one definition (frontend.keytable.KEY_REFERENCE): the window's
Help → Keys and Shortcuts shows it, and README.md's table under "Using the app" is it."""
from __future__ import annotations

from pathlib import Path

import pytest

from ime_app.key_reference import KeyReferenceDialog, markdown_cell_html
from frontend.keytable import KEY_REFERENCE, key_reference_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_key_table() -> str:
    """The first table under README.md's "## Using the app"."""
    section = README.read_text(encoding="utf-8").split("\n## Using the app\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def test_the_readme_table_is_the_apps_key_reference():
    assert readme_key_table() == key_reference_markdown()


def test_help_shows_every_row(qtbot):
    dialog = KeyReferenceDialog()
    qtbot.addWidget(dialog)
    shown = dialog.browser.toPlainText()
    for keys, what in KEY_REFERENCE:
        for cell in (keys, what):
            assert cell.replace("`", "") in shown.replace("\n", " ").replace("\t", " "), cell
    assert "`" not in shown  # code spans are typeset, not shown as Markdown


@pytest.mark.parametrize("markdown,html", [
    ("Space", "Space"),
    ("letters, `'`", "letters, <code>'</code>"),
    ("`nihao!` → 你好！", "<code>nihao!</code> → 你好！"),
    ("a <b> & c", "a &lt;b&gt; &amp; c"),
])
def test_markdown_cells_become_html(markdown, html):
    assert markdown_cell_html(markdown) == html
