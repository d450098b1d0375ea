"""The model registry: the shipped base model and the user's fine-tuned models, and which is in use.

Personal models live under ``<user data dir>/shuru/models/``, one folder per fine-tune
(``models/personal-20261201-1530``), each with the ``manifest.json`` the trainer writes.
``models/active.json`` (``{"active": "<id>"}``, or ``{"active": null}`` for the base model)
names the one in use; it is written atomically (a temporary file, then ``os.replace``) so
the window and the IBus engine never read half of it. Layout before the registry: a
``models/personal`` folder and no ``active.json`` -- that folder is then the active model.

A corrupt ``active.json`` is set aside as ``active.json.corrupt-<time>`` and the base model
is used. ``models/.pending.json`` remembers the folder of an unfinished fine-tune of a set of
files, so running the same files again resumes into the same folder. Toolkit-free, no torch.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import set_aside, write_bytes_atomic
from .errors import ShuruError
from .paths import BASE_MODEL_DIR, user_data_dir

log = logging.getLogger(__name__)

ACTIVE_FILE = "active.json"
PENDING_FILE = ".pending.json"
MANIFEST = "manifest.json"
LEGACY_ID = "personal"  # the one personal model of Shuru 0.3
BASE_ID = "base"
ID_PREFIX = "personal-"


class ModelError(ShuruError):
    """A model registry operation was refused (unknown model, deleting the one in use)."""


@dataclass(frozen=True)
class ModelInfo:
    """One model a user can choose: the shipped base model or a personal fine-tune."""

    id: str
    path: Path
    kind: str  # "base" | "personal"
    created: str = ""  # "YYYY-MM-DD HH:MM" (manifest exported_at, else the folder's time)
    source_files: tuple[str, ...] = ()  # the text files it was fine-tuned on
    size_bytes: int = 0
    metrics: dict = field(default_factory=dict)  # manifest "metrics" ("report": the before/after accuracy)
    training: dict = field(default_factory=dict)  # manifest "training"


def default_models_dir() -> Path:
    """``<the user data folder>/models``."""
    return user_data_dir() / "models"


class ModelRegistry:
    """The models under ``root`` plus the base model in ``base_dir`` (``assets/model``)."""

    def __init__(self, root: Path | None = None, base_dir: Path | None = None):
        self.root = Path(root) if root is not None else default_models_dir()
        self.base_dir = Path(base_dir) if base_dir is not None else BASE_MODEL_DIR

    # -- reading --------------------------------------------------------------------------
    def list_models(self) -> list[ModelInfo]:
        """The base model first, then personal models, newest first."""
        personal = [model_info(p, p.name, "personal") for p in self._personal_dirs()]
        personal.sort(key=lambda m: (m.created, m.id), reverse=True)
        return [model_info(self.base_dir, BASE_ID, "base")] + personal

    def get(self, model_id: str | None) -> ModelInfo:
        """The model with this id (None or "base": the base model); ModelError if unknown."""
        if model_id in (None, BASE_ID):
            return model_info(self.base_dir, BASE_ID, "base")
        path = self.root / str(model_id)
        if not _is_model_id(str(model_id)) or not (path / MANIFEST).is_file():
            raise ModelError(f"no personal model named {model_id!r} in {self.root}")
        return model_info(path, str(model_id), "personal")

    def active_id(self) -> str | None:
        """The id of the model in use (None: the base model)."""
        path = self.root / ACTIVE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            chosen = raw["active"]
            if chosen is not None and not isinstance(chosen, str):
                raise ValueError("'active' is not a model name")
        except FileNotFoundError:
            legacy = self.root / LEGACY_ID / MANIFEST
            return LEGACY_ID if legacy.is_file() else None
        except (OSError, ValueError, KeyError, TypeError) as e:
            self._set_aside(path, e)
            return None
        if chosen is not None and not (self.root / chosen / MANIFEST).is_file():
            log.warning("active model %r is missing from %s; using the base model", chosen, self.root)
            return None
        return chosen

    def active_model(self) -> ModelInfo:
        """The model in use (the base model when none is chosen or the choice is unusable)."""
        return self.get(self.active_id())

    def active_path(self) -> Path:
        """Folder of the model in use, read without collecting its sizes and metrics."""
        chosen = self.active_id()
        return self.base_dir if chosen is None else self.root / chosen

    # -- changing -------------------------------------------------------------------------
    def set_active(self, model_id: str | None) -> None:
        """Use this personal model (None or "base": the base model); written atomically."""
        chosen = None if model_id in (None, BASE_ID) else self.get(model_id).id
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(self.root / ACTIVE_FILE, {"active": chosen})

    def discard(self, model_id: str) -> None:
        """Delete a personal model (and its unfinished checkpoint); the one in use is refused."""
        if model_id in (None, BASE_ID):
            raise ModelError("the base model ships with Shuru and cannot be deleted")
        if model_id == self.active_id():
            raise ModelError(f"{model_id} is the model in use: switch to another one before deleting it")
        path = self.root / model_id
        if not _is_model_id(model_id) or not path.exists():
            raise ModelError(f"no personal model named {model_id!r} in {self.root}")
        shutil.rmtree(path)
        shutil.rmtree(work_dir(path), ignore_errors=True)
        pending = self.pending()
        if pending and Path(pending["dir"]) == path:
            self.clear_pending()

    def new_model_dir(self) -> Path:
        """A fresh folder path for a fine-tune to write into (not created, not active)."""
        stem = ID_PREFIX + time.strftime("%Y%m%d-%H%M")
        pending = self.pending()
        taken = {Path(pending["dir"]).name} if pending else set()
        path, n = self.root / stem, 2
        while path.exists() or work_dir(path).exists() or path.name in taken:
            path, n = self.root / f"{stem}-{n}", n + 1
        return path

    # -- unfinished fine-tunes ------------------------------------------------------------
    def pending(self) -> dict | None:
        """``{"files": [...], "dir": "..."}`` of the unfinished fine-tune, or None."""
        try:
            raw = json.loads((self.root / PENDING_FILE).read_text(encoding="utf-8"))
            return raw if isinstance(raw.get("files"), list) and isinstance(raw.get("dir"), str) else None
        except (OSError, ValueError, AttributeError):
            return None

    def dir_for_files(self, files: list[Path]) -> Path:
        """Where a fine-tune of ``files`` writes: the unfinished run's folder for the same set of
        files (the trainer resumes it), else a new folder, remembered as the pending one."""
        key = sorted(str(Path(f).resolve()) for f in files)
        pending = self.pending()
        if pending and sorted(pending["files"]) == key and not (Path(pending["dir"]) / MANIFEST).exists():
            return Path(pending["dir"])
        path = self.new_model_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(self.root / PENDING_FILE, {"files": key, "dir": str(path)})
        return path

    def clear_pending(self) -> None:
        """Forget the unfinished fine-tune (it finished, or was discarded)."""
        try:
            (self.root / PENDING_FILE).unlink()
        except FileNotFoundError:
            pass

    # -- internals ------------------------------------------------------------------------
    def _personal_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if _is_model_id(p.name) and (p / MANIFEST).is_file()]

    def _set_aside(self, path: Path, error: Exception) -> None:
        aside = set_aside(path)
        if aside is None:
            log.warning("%s is unreadable (%s) and could not be set aside; using the base model", path, error)
        else:
            log.warning("%s is unreadable (%s): kept as %s; using the base model", path, error, aside.name)


def model_info(path: Path, model_id: str, kind: str) -> ModelInfo:
    """A model folder's description from its manifest (missing parts left empty)."""
    manifest = _read_json(path / MANIFEST)
    training = manifest.get("training") if isinstance(manifest.get("training"), dict) else {}
    metrics = dict(manifest.get("metrics")) if isinstance(manifest.get("metrics"), dict) else {}
    texts = training.get("texts") if isinstance(training.get("texts"), list) else []
    return ModelInfo(model_id, path, kind, _created(path, manifest), tuple(Path(str(t)).name for t in texts),
                     _folder_size(path), metrics, training)


def work_dir(model_dir: Path) -> Path:
    """The trainer's checkpoint folder beside a model folder (trainer.finetune's default)."""
    return model_dir.with_name(f".{model_dir.name}-finetune")


def _is_model_id(name: str) -> bool:
    return (name == LEGACY_ID or name.startswith(ID_PREFIX)) and "/" not in name and "\\" not in name


def _created(path: Path, manifest: dict) -> str:
    stamp = str(manifest.get("exported_at") or "")
    if stamp:
        return stamp.replace("T", " ")[:16]
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    except OSError:
        return ""


def _folder_size(path: Path) -> int:
    """Bytes of the files in ``path`` and its sub-folders (a personal pinyin-reading model)."""
    try:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def _read_json(path: Path) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _write_json_atomic(path: Path, data: dict) -> None:
    write_bytes_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def personal_model_dir() -> Path:
    """The folder of the personal model in use (the registry's active one), else where the
    single personal model of earlier versions lived."""
    registry = ModelRegistry()
    chosen = registry.active_id()
    return registry.root / (chosen or LEGACY_ID)


def active_model_dir(options) -> tuple[Path | None, str]:
    """Which model is active (the one answer to it): an explicit folder (``options.model_dir``),
    else the registry's active personal model, else the shipped one under ``options.assets_dir``.
    The name is "custom", the model's id, or "base"; the folder is None where it does not exist."""
    if options.model_dir is not None:
        return (options.model_dir if Path(options.model_dir).exists() else None), "custom"
    base = Path(options.assets_dir) / "model"
    if getattr(options, "personal", True):
        registry = ModelRegistry(getattr(options, "models_dir", None), base)
        chosen = registry.active_id()
        if chosen is not None:
            return registry.root / chosen, chosen
    return (base if (base / "manifest.json").exists() else None), "base"
