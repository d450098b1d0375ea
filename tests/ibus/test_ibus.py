"""The IBus front end without a bus: keyvals, the component XML, and the engine glue as specs.

The glue (:class:`~shuru_ibus.composer.IBusComposer`) runs on the real engine (shipped lexicon
and n-gram, no neural model) behind a recording display (:mod:`tests.ibus_harness`); keys
go in as IBus keyvals, named as xdotool names them.
"""
from __future__ import annotations

import multiprocessing
import shlex
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from frontend.actions import PageDown, SelectOnPage
from frontend.config import Settings
from frontend.keytable import KEY_NAMES
from shuru_ibus import keys as k
from shuru_ibus.component import (ENGINE_NAME, EngineCannotStart, check_engine, checkout_command,
                                    render_component, write_component)
from tests.ibus_harness import FakeInputContext, keysym

REPO = Path(__file__).resolve().parents[2]
SHIFT, CTRL, ALT = k.SHIFT_MASK, k.CONTROL_MASK, k.MOD1_MASK
NUM_LOCK = 1 << 4  # IBus.ModifierType.MOD2_MASK


# Keyvals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("keyval,state,name,text,ctrl_alt", [
    (0x6E, 0, "", "n", False),  # n
    (0x41, SHIFT, "", "A", False),  # Shift+a
    (0x20, 0, "space", " ", False),
    (0x31, 0, "", "1", False),
    (0xFFB1, 0, "", "1", False),  # KP_1 picks like 1
    (0x3D, 0, "equal", "=", False),
    (0x2D, 0, "minus", "-", False),
    (0x2C, 0, "comma", ",", False),
    (0xFF55, 0, "page_up", "", False),  # Prior
    (0xFF56, 0, "page_down", "", False),  # Next
    (0xFF0D, 0, "return", "", False),
    (0xFF8D, 0, "enter", "", False),
    (0xFF1B, 0, "escape", "", False),
    (0xFF08, 0, "backspace", "", False),
    (0xFFFF, CTRL, "delete", "", True),
    (0xFE20, SHIFT, "backtab", "", False),  # Shift+Tab is ISO_Left_Tab
    (0x63, CTRL, "", "c", True),
    (0x63, ALT, "", "c", True),
    (0x63, k.SUPER_MASK, "", "c", True),
    (0x61, k.LOCK_MASK | NUM_LOCK, "", "a", False),  # Caps Lock and Num Lock are no shortcuts
    (0x01004F60, 0, "", "你", False),  # a Unicode keysym
    (0xFFBE, 0, "", "", False),  # F1
])
def test_ibus_keys_translate_to_the_table_names(keyval, state, name, text, ctrl_alt):
    key = k.key_press(keyval, state)
    assert (key.name, key.text, key.ctrl_alt) == (name, text, ctrl_alt)
    assert set(k.IBUS_KEY_NAMES.values()) == KEY_NAMES


def test_releases_modifiers_and_ctrl_alone_are_told_apart():
    assert k.key_press(0xFFE1, SHIFT | k.RELEASE_MASK)[:] == ("", "", False, False, True, True, True)
    assert k.key_press(0x20, CTRL).ctrl_only and not k.key_press(0x20, CTRL | ALT).ctrl_only
    assert k.key_press(0xFFE3, 0).is_modifier and not k.key_press(0xFFE3, 0).is_shift  # Control_L


# The component -----------------------------------------------------------------------------

def test_the_component_describes_the_shuru_engine():
    xml = render_component(["/usr/bin/ibus-engine-shuru"], setup_argv=["/usr/bin/shuru", "--settings"])
    root = ET.fromstring(xml)
    assert root.findtext("name") == "org.freedesktop.IBus.Shuru"
    assert root.findtext("exec") == "/usr/bin/ibus-engine-shuru --ibus"
    engine = root.find("engines/engine")
    assert {t: engine.findtext(t) for t in ("name", "language", "layout")} == {
        "name": ENGINE_NAME, "language": "zh_CN", "layout": "us"}
    assert Path(engine.findtext("icon")).is_file()
    assert engine.findtext("setup") == "/usr/bin/shuru --settings"


def test_paths_with_spaces_are_quoted_for_ibus_daemon():
    root = ET.fromstring(render_component(["/opt/my shuru/bin/python", "-m", "shuru_ibus"]))
    assert shlex.split(root.findtext("exec")) == ["/opt/my shuru/bin/python", "-m", "shuru_ibus", "--ibus"]


def test_an_empty_command_is_refused():
    with pytest.raises(ValueError, match="empty"):
        render_component([])


def test_write_component_runs_this_checkouts_engine(tmp_path):
    """The command others test with: the exec is this venv's python on this checkout."""
    run = subprocess.run([sys.executable, "-m", "shuru_ibus", "--write-component", str(tmp_path / "c"),
                          "--no-neural"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    argv = shlex.split(ET.parse(tmp_path / "c" / "shuru.xml").getroot().findtext("exec"))
    assert argv == ["/usr/bin/env", f"PYTHONPATH={REPO}", str(Path(sys.executable).absolute()),
                    "-m", "shuru_ibus", "--no-neural", "--ibus"]
    assert Path(argv[2]).is_absolute() and Path(argv[2]).exists()
    assert write_component(tmp_path / "d").read_text(encoding="utf-8").count("<engine>") == 1
    assert checkout_command()[1] == f"PYTHONPATH={REPO}"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A fresh venv's Python: the standard library only, no PyGObject."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    return venv / "bin" / "python"


def gi_without_ibus(folder: Path) -> Path:
    """A PyGObject that has no IBus typelib (what it raises when gir1.2-ibus-1.0 is missing)."""
    (folder / "gi").mkdir(parents=True)
    (folder / "gi" / "__init__.py").write_text(
        "def require_version(namespace, version):\n"
        "    raise ValueError(f'Namespace {namespace} not available')\n")
    return folder


# (engine command that cannot serve IBus) -> what the refusal says
CANNOT_START = [
    ("a Python without PyGObject", lambda tmp, bare: checkout_command(python=str(bare)),
     ["cannot import PyGObject", "-m pip install 'PyGObject>=3.42,<3.51'", "./dev.sh ibus"]),
    ("PyGObject without IBus's typelib",
     lambda tmp, bare: ["/usr/bin/env", f"PYTHONPATH={gi_without_ibus(tmp / 'fake')}:{REPO}", sys.executable,
                        "-m", "shuru_ibus"],
     ["no IBus typelib (Namespace IBus not available)", "gir1.2-ibus-1.0"]),
    ("a Python that is not there", lambda tmp, bare: checkout_command(python=str(tmp / "no" / "python")),
     ["No such file or directory"]),
]


@pytest.mark.parametrize("command,says", [c[1:] for c in CANNOT_START], ids=[c[0] for c in CANNOT_START])
def test_a_component_that_cannot_start_is_not_written(tmp_path, bare_python, command, says):
    with pytest.raises(EngineCannotStart) as refused:
        write_component(tmp_path / "c", command(tmp_path, bare_python))
    for part in says:
        assert part in str(refused.value)
    assert not (tmp_path / "c" / "shuru.xml").exists()


def test_write_component_from_a_python_without_pygobject_fails_and_says_what_to_install(tmp_path, bare_python):
    """The command line dev.sh runs, with a venv that cannot import gi: exit 1, the reason, no file."""
    run = subprocess.run([str(bare_python), "-m", "shuru_ibus", "--write-component", str(tmp_path / "c")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("Shuru's IBus component was not written: The IBus engine cannot start: "
                                 f"{bare_python} cannot import PyGObject")
    assert not (tmp_path / "c").exists()


def test_the_engine_check_passes_where_the_engine_can_start():
    run = subprocess.run([sys.executable, "-m", "shuru_ibus", "--check"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert (run.returncode, run.stderr) == (0, "")
    assert check_engine(checkout_command()) == ""


def test_the_ibus_front_end_never_loads_qt():
    """Everything an engine process imports (the gi modules only where PyGObject is installed); nor the window's package."""
    modules = ["shuru_ibus.composer", "shuru_ibus.keys", "frontend.loader",
               "shuru_ibus.private_bus", "shuru_ibus.__main__"]
    code = ("import importlib, importlib.util, sys\n"
            f"mods = {modules!r}\n"
            "if importlib.util.find_spec('gi'): mods += ['shuru_ibus.service', 'shuru_ibus.engine']\n"
            "[importlib.import_module(m) for m in mods]\n"
            "from engine import Engine, EngineOptions\n"
            "from shuru_ibus.composer import IBusComposer\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'torch', 'ime_app')))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# The glue: the window's keys through IBus keyvals -------------------------------------------

@pytest.fixture
def ic(engine):
    return FakeInputContext(engine)


def test_nihao_space_commits_the_first_candidate_and_shows_segmented_pinyin(ic):
    ic.keys(*"nihao")
    assert ic.preedit == "ni'hao" and ic.display.preedit_cursor == len("ni'hao")
    assert ic.display.page[0] == "你好" and ic.display.page_size == 5 and ic.display.cursor == 0
    ic.keys("space")
    assert (ic.text, ic.preedit, ic.display.candidates) == ("你好", "", [])


def test_a_partial_pick_keeps_converting_the_rest(ic):
    ic.keys(*"woxianghuijia")
    page = ic.composer.runner.session.view().candidates
    digit, partial = next((i + 1, c) for i, c in enumerate(page) if c.consumed < len("woxianghuijia"))
    ic.keys(str(digit))
    assert ic.text == "" and ic.preedit.startswith(partial.text) and ic.display.candidates
    rest = ic.display.page[0]
    ic.keys("space")
    assert ic.text == partial.text + rest


def test_backspace_at_the_start_undoes_a_partial_pick(ic):
    ic.keys(*"woxianghuijia")
    page = ic.composer.runner.session.view().candidates
    digit = next(i + 1 for i, c in enumerate(page) if c.consumed < len("woxianghuijia"))
    shown = ic.preedit
    ic.keys(str(digit), "BackSpace")
    assert ic.preedit.startswith(page[digit - 1].text) and not ic.preedit.endswith("jia")  # a letter went
    ic.keys("a")
    assert not ic.composer.runner.session.idle()  # the undo was prepared between keys
    ic.keys("Home", "BackSpace")  # at the start of the pinyin: the pick is undone
    assert ic.preedit == shown and ic.text == ""


@pytest.mark.parametrize("forward,back", [("equal", "minus"), ("Page_Down", "Page_Up")])
def test_page_keys_turn_pages(ic, forward, back):
    ic.keys(*"shi")
    first = ic.display.page
    ic.keys(forward)
    second = ic.display.page
    assert ic.display.cursor == 5 and second != first and len(ic.display.candidates) >= 10
    ic.keys(back)
    assert ic.display.page == first
    ic.keys(forward, "1")
    assert ic.text == second[0] and ic.text not in first


def test_arrows_move_the_highlight_and_across_the_page_edge(ic):
    ic.keys(*"shi", "Down", "Down")
    assert ic.display.cursor == 2
    ic.keys("Up", "Up", "Up")
    assert ic.display.cursor == 0
    ic.keys(*["Down"] * 5)
    assert ic.display.cursor == 5  # the next page
    ic.keys("space")
    assert ic.text == ic.display.commits[-1] and ic.preedit == ""


def test_esc_cancels_and_enter_commits_the_letters(ic):
    assert ic.press("n") and ic.press("Escape")
    assert (ic.text, ic.preedit) == ("", "")
    ic.keys(*"nihao", "Return")
    assert ic.text == "nihao"


def test_keys_with_no_meaning_pass_through_when_idle_and_are_eaten_while_composing(ic):
    assert not ic.press("1") and not ic.press("space") and not ic.press("BackSpace")
    assert ic.press("n") and ic.press("0") is True  # 0 means nothing while composing
    assert not ic.press("c", CTRL)  # shortcuts go to the application, the input stays
    assert ic.preedit == "n"


def test_shift_alone_toggles_english_and_commits_what_is_typed(ic):
    ic.keys(*"nihao", "Shift_L")
    assert ic.text == "nihao" and not ic.composer.chinese and ic.display.modes == (False, True)
    assert not ic.press("n")  # English: the application types it
    ic.keys("Shift_L")
    assert ic.composer.chinese and ic.press("n")


def test_shift_with_another_key_is_no_tap(ic):
    composer = ic.composer
    composer.process_key(0xFFE1, 0)
    composer.process_key(0x41, SHIFT)  # Shift+a
    composer.process_key(0xFFE1, SHIFT | k.RELEASE_MASK)
    assert composer.chinese


def test_ctrl_space_and_ctrl_period_toggle_mode_and_punctuation(ic):
    assert ic.press("space", CTRL) and not ic.composer.chinese
    assert ic.press("period", CTRL) and not ic.composer.fullwidth
    assert ic.display.modes == (False, False)


@pytest.mark.parametrize("keys,text", [
    (["comma"], "，"),
    (["3", "period", "1", "4"], "3.14"),  # after a digit , and . stay ASCII
    (["apostrophe", "apostrophe"], "‘’"),  # quotes alternate
    ([*"nihao", "comma", *"wohenhao", "period"], "你好，我很好。"),  # composing: commit, then the mark
])
def test_full_width_punctuation(ic, keys, text):
    ic.keys(*keys)
    assert ic.text == text


def test_half_width_punctuation_passes_as_typed(engine):
    ic = FakeInputContext(engine, Settings(fullwidth_punct=False))
    ic.keys(*"nihao", "comma")
    assert ic.text == "你好,"


def test_comma_and_period_turn_pages_with_the_setting(engine):
    ic = FakeInputContext(engine, Settings(comma_period_paging=True))
    ic.keys(*"shi", "period")
    assert ic.display.cursor == 5 and ic.text == ""


def test_a_long_search_shows_what_is_decoded_then_the_whole_conversion(engine, monkeypatch):
    from frontend.session_runner import SessionRunner

    monkeypatch.setattr(SessionRunner, "budget_ms", 0)  # one letter per view or idle step
    ic = FakeInputContext(engine, run_idle=False)
    for ch in "woxianghuijia":
        ic.press(ch)
    ic.idle.pop(0)()  # the burst's one refresh: the first letter decoded, every letter shown
    assert ic.preedit.replace("'", "") == "woxianghuijia" and ic.composer.runner.decoding
    ic.flush()  # idle steps decode the rest, then the view is shown again
    assert not ic.composer.runner.decoding and ic.display.page[0] == "我想回家"
    ic.keys("space")
    assert ic.text == "我想回家"


def test_a_burst_of_keys_is_decoded_once(engine):
    ic = FakeInputContext(engine, run_idle=False)
    for ch in "nihao":
        assert ic.press(ch)
    assert len(ic.idle) == 1 and ic.preedit == ""
    ic.flush()
    assert ic.preedit == "ni'hao"


def test_keys_typed_while_the_engine_loads_are_applied_when_it_is_ready(engine):
    ic = FakeInputContext()
    ic.keys(*"nihaoo", "BackSpace")
    assert ic.preedit == "nihao" and ic.display.candidates == []  # shown as typed meanwhile
    ic.keys("space")
    assert ic.text == ""
    ic.composer.engine_ready(engine)
    ic.flush()
    assert ic.text == "你好" and ic.preedit == ""


def test_enter_while_loading_commits_the_letters(engine):
    ic = FakeInputContext()
    ic.keys(*"abc", "Return")
    assert ic.text == "abc"
    ic.composer.engine_ready(engine)
    ic.flush()
    assert ic.text == "abc" and ic.preedit == ""


def test_an_engine_that_cannot_load_leaves_english_typing(engine):
    ic = FakeInputContext()
    ic.keys(*"nih")
    ic.composer.engine_failed("lexicon.npz is damaged: reinstall Shuru")
    assert ic.text == "nih" and ic.display.problems == ["lexicon.npz is damaged: reinstall Shuru"]
    assert ic.display.modes == (False, True) and not ic.press("a")


def test_a_failing_decode_commits_the_letters_as_typed(engine, monkeypatch):
    ic = FakeInputContext(engine)
    ic.keys(*"nih")
    monkeypatch.setattr(ic.composer.runner.session, "view", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    ic.keys("a")
    assert ic.text == "niha" and "boom" in ic.display.problems[0]


def test_settings_changes_apply_to_an_input_context(engine):
    ic = FakeInputContext(engine)
    old, new = Settings(), Settings(page_size=3, fullwidth_punct=False)
    ic.keys(*"shi")
    ic.composer.apply_settings(old, new)
    ic.flush()
    assert ic.display.page_size == 3 and len(ic.display.page) == 3 and not ic.composer.fullwidth


def test_a_reset_drops_the_input(ic):
    ic.keys(*"nihao")
    ic.composer.reset()
    assert ic.preedit == "" and not ic.composer.composing
    ic.keys(*"nihao", "space")
    assert ic.text == "你好"


def test_panel_clicks_and_page_buttons_are_session_actions(ic):
    ic.keys(*"shi")
    ic.composer.send(PageDown())
    ic.flush()
    second = ic.display.page
    ic.composer.send(SelectOnPage(1))
    assert ic.text == second[1]


# The application's surrounding text: the IBus.Engine subclass without a bus -------------------

class FakeService:
    """What a ShuruEngine asks of the running service, with ``engine`` loaded."""

    def __init__(self, engine, defer):
        self.engine, self.defer, self.settings = engine, defer, Settings()

    def attach(self, context) -> None:
        context.composer.engine_ready(self.engine)

    def detach(self, context) -> None:
        pass

    def check_for_changes(self) -> None:
        pass


@pytest.fixture
def make_engine_ic():
    """``make(engine)``: a ShuruEngine (the IBus.Engine subclass ibus-daemon gets) built without a daemon,
    and the text field typed into through its composer: ``(ibus_engine, FakeInputContext)``."""
    pytest.importorskip("gi")
    from shuru_ibus.engine import ShuruEngine

    made = []

    def make(engine):
        ic = FakeInputContext()
        ShuruEngine.service = FakeService(engine, ic.idle.append)
        ibus_engine = ShuruEngine(engine_name=ENGINE_NAME, object_path=f"/org/freedesktop/IBus/Engine/{len(made) + 1}")
        ibus_engine.composer.display = ic.display  # what it shows and commits is recorded
        ic.composer = ibus_engine.composer
        made.append(ibus_engine)
        return ibus_engine, ic

    yield make
    for ibus_engine in made:
        ibus_engine.destroy()


def _surrounding(ibus_engine, text: str, cursor: int | None = None, anchor: int | None = None) -> None:
    """The application reports its text (the cursor at its end unless given), as ibus-daemon does."""
    from gi.repository import IBus

    cursor = len(text) if cursor is None else cursor
    ibus_engine.do_set_surrounding_text(IBus.Text.new_from_string(text), cursor, cursor if anchor is None else anchor)


def _capabilities(surrounding: bool) -> int:
    from gi.repository import IBus

    caps = IBus.Capabilite.PREEDIT_TEXT | IBus.Capabilite.FOCUS
    return int(caps | IBus.Capabilite.SURROUNDING_TEXT) if surrounding else int(caps)


def _first(ic: FakeInputContext, letters: str) -> str:
    """The first candidate for ``letters`` (then Esc: nothing committed)."""
    ic.keys(*letters)
    first = ic.display.page[0]
    ic.keys("Escape")
    return first


# (the application's text, where the cursor and the anchor are, pinyin) -> the first candidate then
SURROUNDING_CASES = [("老师", None, None, "jiao", "教"), ("中国", None, None, "dian", "电"),
                     ("中国老师", 2, 2, "dian", "电"),  # only what is before the cursor
                     ("老师教书", 4, 2, "jiao", "教")]  # a selection: what is before it (typing replaces it)


@pytest.mark.parametrize("text,cursor,anchor,pinyin,first", SURROUNDING_CASES)
def test_the_applications_text_before_the_cursor_is_the_context(engine, make_engine_ic, text, cursor, anchor,
                                                              pinyin, first):
    assert _first(FakeInputContext(engine), pinyin) != first  # not without the context
    ibus_engine, ic = make_engine_ic(engine)
    ibus_engine.do_set_capabilities(_capabilities(surrounding=True))
    _surrounding(ibus_engine, text, cursor, anchor)
    assert _first(ic, pinyin) == first
    ic.keys(*pinyin, "space")
    assert ic.text == first


def test_the_text_is_read_at_focus_in_and_ignored_while_composing(engine, make_engine_ic):
    ibus_engine, ic = make_engine_ic(engine)
    ibus_engine.do_set_capabilities(_capabilities(surrounding=True))
    _surrounding(ibus_engine, "老师")
    ibus_engine.do_focus_out()  # the context is unknown meanwhile
    ibus_engine.do_focus_in()  # what the application sent last (it sends it again when it changes)
    assert _first(ic, "jiao") == "教"
    _surrounding(ibus_engine, "")
    ic.keys(*"jia")
    _surrounding(ibus_engine, "老师")  # while composing: the application's text does not hold the input yet
    ic.keys("o")
    assert ic.display.page[0] == _first(FakeInputContext(engine), "jiao") != "教"


@pytest.mark.parametrize("purpose", ["PASSWORD", "PIN"])
def test_password_fields_give_no_context_and_are_never_read(engine, make_engine_ic, monkeypatch, purpose):
    from gi.repository import IBus

    plain = _first(FakeInputContext(engine), "jiao")
    ibus_engine, ic = make_engine_ic(engine)
    ibus_engine.do_set_capabilities(_capabilities(surrounding=True))
    _surrounding(ibus_engine, "老师")
    ibus_engine.do_set_content_type(int(getattr(IBus.InputPurpose, purpose)), 0)
    assert _first(ic, "jiao") == plain  # the context it had is forgotten
    _surrounding(ibus_engine, "老师")
    monkeypatch.setattr(ibus_engine, "get_surrounding_text", lambda: pytest.fail("a password field was read"))
    ibus_engine.do_focus_in()
    assert _first(ic, "jiao") == plain
    ibus_engine.do_set_content_type(int(IBus.InputPurpose.FREE_FORM), 0)  # an ordinary field again
    _surrounding(ibus_engine, "老师")
    assert _first(ic, "jiao") == "教"


def test_without_surrounding_text_the_context_is_what_the_engine_committed(engine, make_engine_ic):
    ibus_engine, ic = make_engine_ic(engine)
    ibus_engine.do_set_capabilities(_capabilities(surrounding=False))
    _surrounding(ibus_engine, "中国")  # not sent by such a client; were it, it would not count
    ibus_engine.do_focus_in()
    assert _first(ic, "dian") == _first(FakeInputContext(engine), "dian") != "电"
    ic.keys(*"laoshi", "space", *"jiao", "space")
    assert ic.text == "老师教"


def test_nothing_is_learned_from_the_applications_text(tmp_path, make_engine_ic):
    import numpy as np

    from engine import Engine, EngineOptions

    e = Engine.load(EngineOptions(use_neural=False, personal=False, libime="off", history_path=tmp_path / "user.db"))
    ibus_engine, ic = make_engine_ic(e)
    ibus_engine.do_set_capabilities(_capabilities(surrounding=True))

    def pick(letters: str, word: str) -> None:
        ic.keys(*letters)
        ic.keys(str(ic.display.page.index(word) + 1))

    def paired(first: str, then: str) -> bool:
        prev, tok = e.lexicon.token_id(first), e.lexicon.token_id(then)
        return (e.history.prob(np.array([prev]), np.array([tok]))[0]
                - e.history.prob(np.array([0]), np.array([tok]))[0]) > 0

    _surrounding(ibus_engine, "我们今天")
    pick("qu", "去")
    _surrounding(ibus_engine, "我们今天去")  # the application reports its text again after the commit
    pick("wan", "玩")
    assert ic.text == "去玩"
    assert sorted(w for w, _, _ in e.history.words()) == sorted(["去", "玩"])  # the application's text: never
    assert not paired("今天", "去")  # a word typed after the application's text is learned alone
    assert paired("去", "玩")  # the words the user typed one after the other are still a pair
    e.close()


# Learning: the window's store, shared by processes -------------------------------------------

def _commit_in_process(db: str, letters: str, times: int) -> None:
    from engine import Engine, EngineOptions

    ic = FakeInputContext(Engine.load(EngineOptions(use_neural=False, history_path=Path(db))))
    for _ in range(times):
        ic.keys(*letters, "space")


def test_two_engine_processes_learning_at_once_lose_nothing(tmp_path):
    """The IBus engine and another Shuru process commit into the same user.db at the same time."""
    db = tmp_path / "user.db"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_commit_in_process, args=(str(db), letters, 40)) for letters in ("nihao", "shiyan")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    with sqlite3.connect(db) as conn:
        clock = float(conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])
    assert clock == 80  # every commit of one word counted once


def test_what_the_ibus_engine_learns_the_window_sees(tmp_path):
    from engine import Engine, EngineOptions

    db = tmp_path / "user.db"
    ibus_side = FakeInputContext(Engine.load(EngineOptions(use_neural=False, history_path=db)))
    ibus_side.keys(*"shiyan")
    chosen = ibus_side.display.page[2]  # the third candidate, typed three times
    for _ in range(3):
        ibus_side.keys(str(ibus_side.display.page.index(chosen) + 1), *"shiyan")
    ibus_side.keys("Escape")
    assert ibus_side.text == chosen * 3
    window_side = Engine.load(EngineOptions(use_neural=False, history_path=db)).new_session(5)
    window_side.insert("shiyan")
    assert window_side.view().candidates[0].text == chosen


# Shuangpin and traditional output through the composer ---------------------------------------

def _configured(engine, **overrides):
    """A copy of the shared engine with other settings (as the service's configure() gives)."""
    import copy

    e = copy.copy(engine)
    e.configure(**overrides)
    return e


def test_shuangpin_keys_and_traditional_output_in_an_input_context(engine):
    settings = Settings(layout="microsoft", script="traditional")
    ic = FakeInputContext(_configured(engine, layout="microsoft", script="traditional"), settings)
    ic.keys(*"vsgo")
    assert ic.preedit == "zhong'guo"
    ic.keys("space")
    assert ic.text == "中國"
    ic.keys("p", ";")  # ; is ing in Microsoft shuangpin, typed into the input
    assert ic.preedit == "ping"
    ic.keys("Escape", ";")  # idle, it is punctuation as usual
    assert ic.text == "中國；"


def test_quick_phrases_and_dates_in_an_input_context(engine):
    import datetime as dt

    from engine.pinyin.phrases import QuickPhrases

    e = _configured(engine)
    e.phrases = QuickPhrases({"yx": ["someone@example.com"]}, clock=lambda: dt.datetime(2026, 12, 1, 9, 5))
    ic = FakeInputContext(e)
    ic.keys("x", "q")
    assert ic.display.page[1:3] == ["星期二", "周二"]  # after the first candidate
    ic.keys("Escape", "y", "x", "2")
    assert ic.text == "someone@example.com"


def test_the_script_menu_entry_toggles_and_saves_the_output_script(config_dir):
    pytest.importorskip("gi")
    from frontend.config import SettingsStore
    from shuru_ibus.service import Service

    class Recorder:
        def __init__(self):
            self.scripts, self.display, self.composer = [], self, self

        def set_orientation(self, orientation):
            pass

        def script_changed(self, simplified):
            self.scripts.append(simplified)

        def apply_settings(self, old, new):
            pass

    service, context = Service(), Recorder()
    service.engines.add(context)
    service.toggle_script()
    assert SettingsStore().load().script == "traditional" and context.scripts == [False]
    service.toggle_script()
    assert SettingsStore().load().script == "simplified" and context.scripts == [False, True]
