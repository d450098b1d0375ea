"""`--key=value` overrides for the config dataclasses (nanoGPT's configurator, typed).

An unknown key or a value that does not parse as the field's type is a ConfigError.
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, get_type_hints

from .errors import ConfigError

T = TypeVar("T")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def parse_value(text: str, typ: Any, key: str) -> Any:
    """`text` as type `typ` (bool, int, float, str, or an Optional of one)."""
    if getattr(typ, "__args__", None) and type(None) in typ.__args__:  # Optional[X] / X | None
        if text.lower() in {"none", ""}:
            return None
        typ = next(t for t in typ.__args__ if t is not type(None))
    try:
        if typ is bool:
            low = text.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(text)
            return low in _TRUE
        if typ is int:
            return int(text.replace("_", ""))
        if typ is float:
            return float(text)
        if typ is str:
            return text
    except ValueError:
        raise ConfigError(f"--{key}={text}: expected {typ.__name__}") from None
    raise ConfigError(f"--{key}: unsupported field type {typ}")


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """A copy of dataclass `cfg` with `--key=value` overrides applied (dashes or
    underscores in keys)."""
    hints = get_type_hints(type(cfg))
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for arg in overrides:
        if not arg.startswith("--") or "=" not in arg:
            raise ConfigError(f"expected --key=value, got {arg!r}")
        key, value = arg[2:].split("=", 1)
        key = key.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"unknown config key --{key} (known: {', '.join(sorted(fields))})")
        changes[key] = parse_value(value, hints[key], key)
    return dataclasses.replace(cfg, **changes)


def config_help(cfg: Any) -> str:
    """One `--key=default` line per field, for --help."""
    return "\n".join(f"  --{f.name}={getattr(cfg, f.name)!r}" for f in dataclasses.fields(cfg))
