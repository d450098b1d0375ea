"""User settings of every front end (the window edits them, the IBus engine follows them), persisted as
JSON under the user config directory.

The directory is ``platformdirs.user_config_dir("shuru")`` unless ``SHURU_CONFIG_DIR``
is set (tests and the screenshot script point it at a temporary folder). Writes are
atomic: a temporary file in the same folder, then ``os.replace``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from engine import paths
from engine.pinyin.phrases import FILE_NAME as PHRASES_FILE
from engine.pinyin.script import SCRIPT_NAMES, SIMPLIFIED
from engine.pinyin.shuangpin import FULL_PINYIN, LAYOUT_NAMES

log = logging.getLogger(__name__)

CONFIG_ENV = paths.CONFIG_ENV
SETTINGS_FILE = "settings.json"
MAX_RECENT_FILES = 8
ORIENTATIONS = ("horizontal", "vertical")


@dataclass
class Settings:
    """Everything the Settings dialog edits, plus window state. Defaults are first-run values."""

    page_size: int = 5  # candidates per page, 1-9 (digit keys pick them)
    orientation: str = "horizontal"  # candidate window layout: "horizontal" | "vertical"
    font_family: str = ""  # editor and candidate font; "" = best CJK font found
    font_size: int = 14  # points
    fuzzy_pairs: list[str] = field(default_factory=list)  # names from engine.pinyin.syllables.FUZZY_PAIR_NAMES
    fullwidth_punct: bool = True  # punctuation width when the window opens
    chinese_mode: bool = True  # input mode when the window opens
    learning: bool = True  # let the engine learn from what is chosen
    comma_period_paging: bool = False  # "," and "." turn pages while composing (else they type ，。)
    prediction: bool = False  # after a commit, offer the likely next words (digits or a click pick one)
    layout: str = FULL_PINYIN  # "full" pinyin or a shuangpin layout (engine.pinyin.shuangpin.LAYOUT_NAMES)
    script: str = SIMPLIFIED  # output: "simplified" | "traditional" | "tw" | "hk" (engine.pinyin.script)
    traditional_script: str = "traditional"  # what the 简/繁 toggle switches to from simplified
    geometry: str = ""  # QMainWindow.saveGeometry(), base64
    recent_files: list[str] = field(default_factory=list)  # newest first

    def normalized(self) -> "Settings":
        """A copy with every field clamped to a valid value (hand-edited files stay usable)."""
        s = Settings(**asdict(self))
        s.page_size = min(9, max(1, int(s.page_size)))
        s.font_size = min(72, max(6, int(s.font_size)))
        if s.orientation not in ORIENTATIONS:
            s.orientation = "horizontal"
        s.fuzzy_pairs = sorted({str(p) for p in s.fuzzy_pairs})
        if s.layout not in (FULL_PINYIN,) + LAYOUT_NAMES:
            s.layout = FULL_PINYIN
        if s.script not in SCRIPT_NAMES:
            s.script = SIMPLIFIED
        if s.traditional_script not in SCRIPT_NAMES or s.traditional_script == SIMPLIFIED:
            s.traditional_script = "traditional"
        s.recent_files = [str(p) for p in s.recent_files][:MAX_RECENT_FILES]
        return s


def engine_overrides(settings: Settings) -> dict:
    """The EngineOptions fields that come from the user's settings (every front end loads with them)."""
    return {"fuzzy_pairs": frozenset(settings.fuzzy_pairs), "learning": settings.learning,
            "layout": settings.layout, "script": settings.script, "phrases_path": phrases_path(),
            "prediction": settings.prediction}


def toggled_script(settings: Settings) -> Settings:
    """The settings after the 简/繁 toggle: simplified <-> the traditional script last chosen."""
    s = Settings(**asdict(settings))
    if s.script == SIMPLIFIED:
        s.script = s.traditional_script
    else:
        s.traditional_script, s.script = s.script, SIMPLIFIED
    return s


def config_dir() -> Path:
    """Where settings live: ``$SHURU_CONFIG_DIR`` or the platform's user config dir."""
    return paths.config_dir()


def phrases_path() -> Path:
    """The user's quick phrases: ``phrases.txt`` beside ``settings.json`` (format: engine/pinyin/phrases.py)."""
    return config_dir() / PHRASES_FILE


def read_phrases_text(path: Path | None = None) -> str:
    """The quick-phrases file as text ("" when there is none or it cannot be read; logged)."""
    path = path or phrases_path()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        log.warning("could not read quick phrases %s: %s", path, e)
        return ""


def write_phrases_text(text: str, path: Path | None = None) -> bool:
    """Write the quick-phrases file atomically; False (logged) when it could not be written."""
    path = path or phrases_path()
    try:
        from engine.atomic import write_bytes_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, text.encode("utf-8"))
        return True
    except OSError as e:
        log.warning("could not save quick phrases to %s: %s", path, e)
        return False


class SettingsStore:
    """Loads and saves :class:`Settings` as ``settings.json`` in one directory."""

    def __init__(self, directory: Path | None = None):
        self.path = (directory or config_dir()) / SETTINGS_FILE
        self.error = ""  # why the last load fell back to the defaults (shown in the status bar)

    def load(self) -> Settings:
        """The saved settings; defaults when the file is missing or unusable (logged, never raised).
        A damaged file is kept as ``settings.json.corrupt-<time>``, so saving does not overwrite it."""
        self.error = ""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings()
        except OSError as e:
            return self._fall_back(f"settings file {self.path} unreadable ({e.strerror or e})", keep=False)
        except ValueError as e:
            return self._fall_back(f"settings file {self.path} damaged ({e})")
        if not isinstance(raw, dict):
            return self._fall_back(f"settings file {self.path} holds no settings (a JSON {type(raw).__name__})")
        known = {f.name for f in fields(Settings)}
        try:
            return Settings(**{k: v for k, v in raw.items() if k in known}).normalized()
        except (TypeError, ValueError, AttributeError) as e:
            return self._fall_back(f"settings file {self.path} has invalid values ({e})")

    def _fall_back(self, problem: str, keep: bool = True) -> Settings:
        """Log ``problem``, set a damaged file aside (``keep``), and return the defaults."""
        from engine.atomic import set_aside

        aside = set_aside(self.path) if keep else None
        self.error = problem + (f"; kept as {aside.name}, using the defaults" if aside else "; using the defaults")
        log.warning("%s", self.error)
        return Settings()

    def file_contents(self) -> dict[str, bytes]:
        """The settings file as a backup carries it ({} when there is none yet)."""
        return {self.path.name: self.path.read_bytes()} if self.path.is_file() else {}

    def restore(self, files: dict[str, bytes]) -> str:
        """Save the settings a backup carried (``files`` as :meth:`file_contents` gives them), checked
        first; "" when they were restored or there were none, else why not."""
        data = files.get(self.path.name)
        if data is None:
            return ""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / self.path.name).write_bytes(data)
            carried = SettingsStore(Path(tmp))
            settings = carried.load()
        if carried.error:
            return f"settings not restored ({carried.error})"
        self.save(settings)
        return ""

    def save(self, settings: Settings) -> None:
        """Write atomically; a failure is logged (settings are a convenience, not data)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            from engine.atomic import write_bytes_atomic  # the old file stays whole on a full disk

            write_bytes_atomic(self.path, json.dumps(asdict(settings), ensure_ascii=False, indent=2).encode("utf-8"))
        except OSError as e:
            log.warning("could not save settings to %s: %s", self.path, e)


def add_recent(recent: list[str], path: str) -> list[str]:
    """``recent`` with ``path`` moved to the front, capped at :data:`MAX_RECENT_FILES`."""
    return ([path] + [p for p in recent if p != path])[:MAX_RECENT_FILES]
