"""Creating the QApplication and the window (shared by ``__main__`` and the screenshot script)."""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from frontend.config import SettingsStore

from .fonts import pick_cjk_font

DESKTOP_ID = "io.github.shuru.Shuru"


def create_app(argv: list[str]) -> QApplication:
    """The application, with a CJK-capable UI font so menus and labels can show Chinese."""
    app = QApplication(argv)
    app.setApplicationName("Shuru")
    app.setApplicationDisplayName("Shuru")
    app.setOrganizationName("shuru")
    app.setDesktopFileName(DESKTOP_ID)  # the desktop entry (packaging/linux): the Wayland app id
    ui_font, found = pick_cjk_font("", QFont().pointSize() if QFont().pointSize() > 0 else 10)
    if found:
        app.setFont(ui_font)
    return app


def create_window(engine_options=None, store: SettingsStore | None = None):
    from .window import MainWindow

    return MainWindow(engine_options, store)
