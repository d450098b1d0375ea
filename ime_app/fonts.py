"""Choosing a font that can draw Chinese: without one the window shows empty boxes."""
from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase

# Best first: fonts commonly installed by Linux distributions, macOS and Windows.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC",
    "Hiragino Sans GB", "Sarasa Gothic SC", "Noto Serif CJK SC", "AR PL UMing CN",
    "Droid Sans Fallback", "SimSun",
)
INSTALL_HINT = "no Chinese font found: install one (Debian/Ubuntu: apt-get install fonts-noto-cjk)"


def cjk_families() -> list[str]:
    """Installed families that can draw Simplified Chinese, preferred ones first."""
    installed = QFontDatabase.families()
    simplified = set(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))
    ranked = [f for f in PREFERRED_FAMILIES if f in installed]
    return ranked + sorted(f for f in simplified if f not in ranked)


def pick_cjk_font(family: str = "", point_size: int = 14) -> tuple[QFont, bool]:
    """``(font, found)``: ``family`` if given and installed, else the best CJK family.

    ``found`` is False when no CJK-capable family is installed; the font is then the
    default one (Chinese will show as boxes) and the caller should tell the user
    :data:`INSTALL_HINT`.
    """
    families = cjk_families()
    if family and family in QFontDatabase.families():
        chosen = family
    elif families:
        chosen = families[0]
    else:
        chosen = QFont().family()
    font = QFont(chosen, point_size)
    if families:
        # Latin text keeps a Latin face where the chosen family has none.
        font.setFamilies([chosen, families[0]])
    return font, bool(families)
