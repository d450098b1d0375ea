"""A Qt application with one QLineEdit (not Shuru's window), typed into through IBus (QT_IM_MODULE=ibus).

It prints one JSON line when it has the keyboard focus (``{"ready": ...}``) and one whenever
its text or its preedit changes (``{"text": ..., "preedit": ...}``).
"""
import json
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QLineEdit

state = {"text": "", "preedit": ""}


def report(**changes) -> None:
    state.update(changes)
    print(json.dumps(state, ensure_ascii=False), flush=True)


class LineEdit(QLineEdit):
    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        super().inputMethodEvent(event)
        if event.preeditString() != state["preedit"]:
            report(preedit=event.preeditString())


def main() -> int:
    app = QApplication(sys.argv)
    edit = LineEdit()
    edit.setWindowTitle("shuru-e2e-qt")
    edit.textChanged.connect(lambda text: report(text=text))
    edit.resize(400, 40)
    edit.show()

    timer = QTimer()

    def focus() -> None:
        """Until the line edit has the keyboard focus (no window manager gives it): then say so, once."""
        edit.activateWindow()
        edit.setFocus()
        if edit.isActiveWindow() and edit.hasFocus():
            timer.stop()
            print(json.dumps({"ready": True}), flush=True)

    timer.timeout.connect(focus)
    timer.start(100)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
