"""The candidate window stays on screen: layout and placement as specs, offscreen, no engine.

Each case gives the candidates, the orientation, the screen's available area (injected, so a
small screen can be assumed) and the caret; the whole window must lie inside the area and
every item and the page indicator inside the window.
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QRect, QSize

from ime_app.candidates import CandidateWindow, fair_cap, fit_position
from ime_app.fonts import pick_cjk_font

SENTENCE = "我今天早上去公园散步然后在湖边的长椅上坐了一会儿看书喝茶聊天晒太阳最后回家做饭"[:40]
LONG = [SENTENCE[i:] + SENTENCE[:i] for i in range(0, 9 * 3, 3)]  # nine different 40-character sentences
SHORT = ["你好", "你", "尼", "拟好", "泥"]
LAPTOP = QRect(0, 0, 1366, 740)  # below the panel
SMALL = QRect(0, 0, 640, 480)
NARROW = QRect(0, 0, 320, 480)
SECOND = QRect(1366, 0, 800, 600)  # a second monitor to the right


def caret_at(area: QRect, fx: float, fy: float) -> QRect:
    """A caret 18 px high at fractions ``fx``, ``fy`` of the area."""
    return QRect(area.x() + int(fx * (area.width() - 1)), area.y() + int(fy * (area.height() - 18)), 1, 18)


@pytest.fixture
def bar(qtbot):
    w = CandidateWindow()
    qtbot.addWidget(w)
    w.set_font(pick_cjk_font("", 14)[0])
    return w


def shown(bar: CandidateWindow, texts, area: QRect, caret: QRect, vertical=False, page=(0, 3)):
    bar.set_vertical(vertical)
    bar.show_page(texts, 0, *page)
    bar.place_at(caret, area)
    bar.show()
    return bar


@pytest.mark.parametrize("texts,area,fx,fy,vertical,want_vertical,want_elided", [
    (SHORT, LAPTOP, 0.5, 0.5, False, False, False),
    (SHORT, LAPTOP, 1.0, 1.0, False, False, False),  # bottom-right corner: above the caret, shifted left
    (LONG[:5], LAPTOP, 0.0, 0.3, False, False, True),  # five sentences elided to share the width
    (LONG[:5], LAPTOP, 0.9, 0.95, False, False, True),
    (LONG[:5], SMALL, 0.5, 0.5, False, False, True),
    (LONG[:9], SMALL, 0.7, 0.1, False, True, True),  # too many to fit a row even elided: vertical
    (LONG[:5], NARROW, 0.5, 0.9, False, True, True),
    (LONG[:5], SECOND, 0.95, 0.5, False, False, True),
    (LONG[:5], SMALL, 0.5, 0.5, True, True, True),  # vertical by choice: each row elided
    (LONG[:1] + SHORT[:4], SMALL, 0.3, 0.5, False, False, True),
    (SHORT, NARROW, 1.0, 0.0, True, True, False),
])
def test_the_whole_bar_is_on_screen(bar, texts, area, fx, fy, vertical, want_vertical, want_elided):
    shown(bar, texts, area, caret_at(area, fx, fy), vertical)
    assert area.contains(bar.geometry()), (bar.geometry(), area)
    inside = bar.rect()
    assert all(inside.contains(r) for r in bar.item_rects() + bar.indicator_rects())
    assert len(bar.item_rects()) == len(texts)
    assert bar.laid_out_vertical == want_vertical
    assert (bar.shown_texts != list(texts)) == want_elided
    assert bar.texts == list(texts)  # the full texts are kept: a pick commits the whole candidate


def test_items_do_not_overlap_and_keep_their_order(bar):
    shown(bar, LONG[:5], SMALL, caret_at(SMALL, 0.5, 0.5))
    rects = bar.item_rects() + bar.indicator_rects()[:1]
    assert all(a.right() < b.left() for a, b in zip(rects, rects[1:]))


def test_elided_texts_keep_both_ends(bar):
    shown(bar, LONG[:5], LAPTOP, caret_at(LAPTOP, 0.5, 0.5))
    for full, text in zip(bar.texts, bar.shown_texts):
        head, _, tail = text.partition("…")
        assert tail and full.startswith(head) and full.endswith(tail)


def test_short_candidates_stay_whole_next_to_a_long_one(bar):
    shown(bar, LONG[:1] + SHORT[:4], SMALL, caret_at(SMALL, 0.5, 0.5))
    assert bar.shown_texts[1:] == SHORT[:4] and "…" in bar.shown_texts[0]


def test_below_the_caret_when_there_is_room_else_above(bar):
    caret = caret_at(SMALL, 0.2, 0.2)
    shown(bar, SHORT, SMALL, caret)
    assert bar.geometry().top() > caret.bottom()
    caret = caret_at(SMALL, 0.2, 1.0)
    shown(bar, SHORT, SMALL, caret)
    assert bar.geometry().bottom() < caret.top()


@pytest.mark.parametrize("widths,budget,cap", [
    ([10, 20, 30], 100, 30),  # everything fits: nothing cut
    ([10, 20, 30], 50, 20),  # the widest is cut first
    ([10, 100, 100], 110, 50),  # the short one stays whole, the two long ones share the rest
    ([100, 100], 0, 0),
    ([], 10, 0),
])
def test_fair_cap(widths, budget, cap):
    assert fair_cap(widths, budget) == cap
    assert sum(min(w, cap) for w in widths) <= max(budget, 0) or not widths


@pytest.mark.parametrize("caret,size,want", [
    (QRect(100, 100, 1, 18), QSize(200, 40), (100, 122)),  # below
    (QRect(600, 100, 1, 18), QSize(200, 40), (440, 122)),  # shifted left
    (QRect(100, 450, 1, 18), QSize(200, 40), (100, 406)),  # above
    (QRect(-50, -50, 1, 18), QSize(200, 40), (0, 0)),  # caret off the area: clamped
    (QRect(100, 10, 1, 18), QSize(200, 470), (100, 0)),  # fits neither below nor above: at the top
])
def test_fit_position(caret, size, want):
    pos = fit_position(caret, size, SMALL)
    assert (pos.x(), pos.y()) == want
    assert SMALL.contains(QRect(pos, size))
