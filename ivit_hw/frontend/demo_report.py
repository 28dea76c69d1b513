"""Steps after ``ivit-hw demo`` (the HLS C-sim, the RTL check) add their result to the demo's report.

Each step owns one key of ``report.json`` and one ``## Title`` section of
``report.md``; running a step again replaces its own key and section and
leaves the others as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def replace_section(md: str, title: str, body: str) -> str:
    """``md`` with its ``## title`` section (up to the next ``## `` heading) replaced by ``body``, else appended."""
    heading = f"## {title}\n"
    section = f"{heading}\n{body.strip()}\n"
    if md.startswith(heading) or f"\n{heading}" in md:
        start = 0 if md.startswith(heading) else md.index(f"\n{heading}") + 1
        end = md.find("\n## ", start + len(heading))
        rest = md[end + 1:] if end >= 0 else ""
        return md[:start] + section + ("\n" + rest if rest else "")
    return md.rstrip("\n") + "\n\n" + section


def add_to_report(demo_dir: str | Path, key: str, result: dict[str, Any], title: str, body: str) -> None:
    """Set ``report.json[key] = result`` and the ``## title`` section of ``report.md`` in ``demo_dir``."""
    demo = Path(demo_dir)
    report_path = demo / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    report[key] = result
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    md = demo / "report.md"
    if md.is_file():
        md.write_text(replace_section(md.read_text(encoding="utf-8"), title, body), encoding="utf-8")
