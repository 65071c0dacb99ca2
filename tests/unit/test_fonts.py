"""The pages ask for the fonts the intranet's PCs have, in that order: the 统信 UOS / 麒麟 interface fonts first,
then WenQuanYi, then Windows and macOS, with digits of one width, so countdowns and Chinese match and do not jitter."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "api" / "static" / "desk.css"


def test_the_intranet_fonts_come_before_the_windows_and_mac_ones():
    body = CSS.read_text(encoding="utf-8").split(":root {", 1)[1].split("}", 1)[0]
    stack = [name.strip().strip('"') for name in re.search(r"font-family:([^;]+);", body).group(1).split(",")]
    assert stack[0] == "Noto Sans CJK SC" and "思源黑体" in stack and "方正黑体_GBK" in stack
    order = {name: i for i, name in enumerate(stack)}
    for intranet in ("Noto Sans CJK SC", "思源黑体", "方正黑体_GBK", "WenQuanYi Micro Hei", "文泉驿微米黑"):
        assert order[intranet] < order["Microsoft YaHei"] < order["PingFang SC"] < order["sans-serif"], intranet
    assert "font-variant-numeric: tabular-nums" in body
