"""Which device a fine-tune runs on, in words a user understands.

CUDA, then Apple's MPS, when the installed torch supports them; else the CPU with all its
cores. ``torch`` is passed in so tests can hand a stand-in with a CUDA device.
"""
from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeviceInfo:
    """kind: "cuda" | "mps" | "cpu"; name: what the dialog shows; threads: CPU threads used."""

    kind: str
    name: str
    threads: int

    def to_dict(self) -> dict:
        return asdict(self)


def read_cpuinfo() -> str:
    """Linux's /proc/cpuinfo ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_name(cpuinfo: str | None = None) -> str:
    """The CPU's model name (``cpuinfo``'s text, by default /proc/cpuinfo; else platform), e.g.
    'Intel(R) Xeon(R) Processor'."""
    for line in (read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "CPU"


def cpu_threads() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def detect_device(torch) -> DeviceInfo:
    """The device a fine-tune uses with this torch: CUDA, else MPS, else the CPU."""
    threads = cpu_threads()
    try:
        if torch.cuda.is_available():
            return DeviceInfo("cuda", f"{torch.cuda.get_device_name(0)} (CUDA)", threads)
    except Exception:  # a broken driver: the CPU still works  # noqa: BLE001
        pass
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    if mps is not None and mps.is_available():
        return DeviceInfo("mps", "Apple GPU (Metal, MPS)", threads)
    return DeviceInfo("cpu", f"{cpu_name()}, {threads} thread{'s' if threads != 1 else ''}", threads)
