"""Session behaviour: what a user does with an input method."""
import pytest


@pytest.fixture
def session(engine):
    return engine.new_session(page_size=5)


def type_(session, letters):
    for ch in letters:
        session.insert(ch)
    return session.view()


def test_typing_shows_segmented_preedit_and_candidates(session):
    v = type_(session, "woxianghuijia")
    assert v.preedit == "wo'xiang'hui'jia"
    assert v.preedit_cursor == len(v.preedit)
    assert v.candidates[0].text == "我想回家"
    assert v.composing and v.page == 0 and v.highlight == 0


def test_space_commits_highlighted_and_resets(session):
    type_(session, "nihao")
    assert session.commit() == "你好"
    v = session.view()
    assert not v.composing and v.candidates == () and v.preedit == ""


def test_select_by_number_on_page(session):
    v = type_(session, "nihao")
    second = v.candidates[1].text
    assert session.select_on_page(1) == second


def test_partial_selection_then_continue(session):
    type_(session, "woxianghuijia")
    idx = next(i for i, c in enumerate(session.candidates()) if c.text == "我想")
    assert session.select(idx) is None  # partial: not finished yet
    v = session.view()
    assert v.preedit.startswith("我想") and v.letters == "huijia"
    assert v.candidates[0].text == "回家"
    assert session.commit() == "我想回家"


def test_backspace_after_partial_selection_edits_then_undoes_it(session):
    type_(session, "woxianghuijia")
    session.select(next(i for i, c in enumerate(session.candidates()) if c.text == "我想"))
    session.backspace()
    assert session.view().letters == "huiji"
    session.set_cursor(0)
    session.backspace()  # nothing before the caret: the selection comes back as letters
    v = session.view()
    assert v.letters == "woxianghuiji" and v.preedit.startswith("wo'xiang")


def test_backspace_and_delete_inside_the_pinyin(session):
    type_(session, "nihaoa")
    session.backspace()
    assert session.view().letters == "nihao"
    session.move_cursor(-3)
    session.backspace()
    v = session.view()
    assert v.letters == "nhao" and v.cursor == 1
    session.delete()
    assert session.view().letters == "nao"


def test_cursor_moves_are_clamped_and_shown_in_preedit(session):
    type_(session, "woxiang")
    session.move_cursor(-100)
    assert session.view().preedit_cursor == 0
    session.move_cursor(2)
    v = session.view()
    assert v.cursor == 2 and v.preedit[v.preedit_cursor:] == "xiang"  # caret before the next letter


def test_paging_and_highlight(session):
    v = type_(session, "shi")
    assert v.page_count > 2 and len(v.candidates) == 5
    first_page = v.candidates
    assert session.page_down()
    v = session.view()
    assert v.page == 1 and v.candidates != first_page
    assert session.page_up() and not session.page_up()
    session.move_highlight(1)
    v = session.view()
    assert v.highlight == 1
    assert session.commit() == v.candidates[1].text


def test_highlight_crosses_page_edge(session):
    type_(session, "shi")
    session.move_highlight(5)
    v = session.view()
    assert v.page == 1 and v.highlight == 0


def test_cancel_drops_everything(session):
    type_(session, "woxianghuijia")
    session.select(next(i for i, c in enumerate(session.candidates()) if c.text == "我想"))
    session.cancel()
    v = session.view()
    assert not v.composing and v.preedit == "" and v.letters == ""


def test_enter_commits_raw_letters(session):
    type_(session, "woxianghuijia")
    session.select(next(i for i, c in enumerate(session.candidates()) if c.text == "我想"))
    assert session.commit_raw() == "我想huijia"
    assert not session.composing


def test_uppercase_and_junk_are_handled(session):
    session.insert("NiHao")
    session.insert("3!")
    v = session.view()
    assert v.letters == "nihao" and v.candidates[0].text == "你好"


def test_context_is_capped_and_used(engine):
    s = engine.new_session(context="x" * 100 + "我们的数学")
    for ch in "gongshi":
        s.insert(ch)
    assert "公式" in [c.text for c in s.view().candidates[:3]]


def test_committed_text_becomes_context_for_the_next_input(engine):
    s = engine.new_session()
    for ch in "womendeshuxue":
        s.insert(ch)
    s.select(next(i for i, c in enumerate(s.candidates()) if c.text == "我们的数学"))
    for ch in "gongshi":
        s.insert(ch)
    assert "公式" in [c.text for c in s.view().candidates[:3]]


def test_view_tells_the_chosen_prefix(session):
    type_(session, "woxianghuijia")
    session.select(next(i for i, c in enumerate(session.candidates()) if c.text == "我想"))
    v = session.view()
    assert v.chosen == "我想" and v.preedit.startswith(v.chosen)


def test_page_size_can_change_mid_input(session):
    type_(session, "shi")
    session.move_highlight(7)
    highlighted = session.candidates()[7].text
    session.set_page_size(3)
    v = session.view()
    assert len(v.candidates) == 3 and v.candidates[v.highlight].text == highlighted


def _pick_first_word(session, letters):
    type_(session, letters)
    idx = next(i for i, c in enumerate(session.candidates()) if c.kind == "word" and c.consumed < len(letters))
    assert session.select(idx) is None
    return idx


def _idle_until_done(session, limit=200):
    steps = 0
    while session.idle():
        steps += 1
        assert steps < limit, "idle work never ends"
    return steps


@pytest.mark.parametrize("letters, after, edit", [
    ("woxianghuijia", "hao", ""),  # typed on after the pick
    ("woxianghuijia", "haoma", "\b\b"),  # typed on, then backspaced
    ("nihaoshijie", "", ""),  # nothing typed since the pick
])
def test_idle_work_catches_up_the_undo_so_it_matches_a_fresh_decode(engine, letters, after, edit):
    s = engine.new_session(page_size=5)
    _pick_first_word(s, letters)
    for ch in after + edit:
        s.backspace() if ch == "\b" else s.insert(ch)
        s.view()
        _idle_until_done(s)
    assert not s.idle()  # caught up: nothing left to do
    s.set_cursor(0)
    s.backspace()  # undo the pick
    undone = [c.text for c in s.candidates()]
    fresh = engine.new_session(page_size=5)
    type_(fresh, s.letters)
    assert s.letters == (letters + after)[: len(letters + after) - edit.count("\b")]
    assert undone == [c.text for c in fresh.candidates()]


def test_idle_work_is_bounded_and_optional(engine):
    s = engine.new_session(page_size=5)
    assert not s.idle()  # nothing typed
    type_(s, "nihao")
    assert not s.idle()  # no partial selection to prepare an undo for
    _pick_first_word(s, "shijie")  # "nihaoshijie", pick 你好
    type_(s, "women")
    steps = _idle_until_done(s)
    assert 1 <= steps <= len("women") + 1  # about one step per letter typed since the pick
    s.insert("a")  # without idle work the undo decodes what is missing itself
    s.set_cursor(0)
    s.backspace()
    fresh = engine.new_session(page_size=5)
    type_(fresh, s.letters)
    assert [c.text for c in s.candidates()] == [c.text for c in fresh.candidates()]


# -- a bounded search per view (front ends: DECODE_BUDGET_MS) ---------------------------------
# budget_ms=0 stops each view after one letter, so these specs do not depend on the machine's speed.
LONG = "woxianghuijiakankanbabamamazenmeyangle"


def _texts(session):
    return [c.text for c in session.candidates()]


def _fresh(engine, letters):
    s = engine.new_session(page_size=5)
    s.insert(letters)
    return s


@pytest.mark.parametrize("edit", ["paste", "edit_at_start", "edit_in_the_middle"])
def test_a_long_search_goes_on_in_idle_steps_and_ends_as_a_full_decode(engine, edit):
    s = engine.new_session(page_size=5, budget_ms=0)
    if edit == "paste":
        s.insert(LONG)
    else:
        s.insert(LONG)
        s.view()
        _idle_until_done(s, limit=400)
        s.set_cursor(0 if edit == "edit_at_start" else len(LONG) // 2)
        s.insert("a")
    view = s.view()
    assert not view.complete and s.decoding
    assert all(1 <= c.consumed < len(s.letters) for c in view.candidates)  # of the letters decoded so far
    assert view.preedit.replace("'", "") == s.letters  # all the letters are shown
    steps = _idle_until_done(s, limit=400)
    assert steps >= len(LONG) // 2  # one letter per step
    view = s.view()
    assert view.complete and not s.decoding
    assert _texts(s) == _texts(_fresh(engine, s.letters))


def test_space_during_a_long_search_converts_the_whole_input(engine):
    s = engine.new_session(page_size=5, budget_ms=0)
    s.insert(LONG)
    assert not s.view().complete
    assert s.commit() == _fresh(engine, LONG).commit()


@pytest.mark.parametrize("keys", ["commit", "select 1", "select 2"])
def test_keys_that_come_before_any_view_choose_from_the_whole_input(engine, keys):
    """Letters and then Space or a digit in one burst (no view between): the whole input's list."""
    s = engine.new_session(page_size=5, budget_ms=0)
    full = _fresh(engine, "nihaoshijie")
    s.insert("nihaoshijie")
    if keys == "commit":
        assert s.commit() == full.commit()
    else:
        k = int(keys.split()[1]) - 1
        want = full.candidates()[k]
        done = s.select(k)
        assert done == want.text if want.consumed == len("nihaoshijie") else s.view().chosen == want.text


def test_a_pick_during_a_long_search_takes_what_was_shown_and_goes_on(engine):
    s = engine.new_session(page_size=9, budget_ms=0)  # the app's page: it shows a prefix word
    s.insert(LONG)
    s.view()  # the first letter
    for _ in range(8):
        assert s.idle()
    view = s.view()
    assert not view.complete
    k, shown = next((k, c) for k, c in enumerate(view.candidates) if c.consumed < 9)
    assert s.select_on_page(k) is None  # a partial selection of what the user saw
    assert s.view().chosen == shown.text and s.letters == LONG[shown.consumed:]
    _idle_until_done(s, limit=400)
    assert s.view().complete
    # the same as picking it after typing those 9 letters, then typing the rest
    typed = engine.new_session(page_size=9)
    type_(typed, LONG[:9])
    assert typed.select(k) is None
    type_(typed, LONG[9:])
    assert _texts(s) == _texts(typed)


def test_without_a_budget_every_view_is_complete(engine):
    s = engine.new_session(page_size=5)
    s.insert(LONG)
    assert s.view().complete and not s.decoding and not s.idle()


# (how much of the context the user typed) -> whether 去 is learned as following 今天
@pytest.mark.parametrize("typed, paired", [(None, True), (2, True), (0, False), (1, False)])
def test_learning_pairs_a_word_only_with_text_the_user_typed(tmp_path, typed, paired):
    import numpy as np

    from engine import Engine, EngineOptions

    e = Engine.load(EngineOptions(use_neural=False, personal=False, libime="off", history_path=tmp_path / "user.db"))
    s = e.new_session()
    s.set_context("我们今天", typed=typed)  # typed=0: an application's own text (fcitx5's surrounding text)
    s.insert("qu")
    k = next(i for i, c in enumerate(s.candidates()) if c.text == "去")
    assert s.select(k) == "去"
    prev, tok = e.lexicon.token_id("今天"), e.lexicon.token_id("去")
    pair = e.history.prob(np.array([prev]), np.array([tok]))[0] - e.history.prob(np.array([0]), np.array([tok]))[0]
    assert (pair > 0) == paired
    assert [w for w, _, _ in e.history.words()] == ["去"]  # the context itself is never learned
    e.close()
