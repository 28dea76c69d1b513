"""Draw docs/top_timing.png from the tables of docs/top_timing.md: the routed Fmax of the block top and the
whole digits top, fix by fix, against the 150 MHz goal. The measured figures live only in that file.

    python examples/plot_top_timing.py [--md docs/top_timing.md] [--png docs/top_timing.png]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def read_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """``{section title: rows}`` of every markdown table under a ``## `` heading (cells by column name)."""
    tables: dict[str, list[dict[str, str]]] = {}
    title, header = None, None
    for line in text.splitlines():
        if line.startswith("## "):
            title, header = line[3:].strip(), None
        elif title and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not re.fullmatch(r"[-: ]+", "".join(cells)):
                tables.setdefault(title, []).append(dict(zip(header, cells, strict=True)))
    return tables


def plot(tables: dict[str, list[dict[str, str]]], path: Path, goal_mhz: float = 150.0) -> None:
    """One line per table: routed Fmax by step, the harness steps marked, the goal as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    # the first table's labels above its points, the second's below (the lines may cross)
    for (title, rows), colour, dy in zip(tables.items(), ("#4c72b0", "#c44e52"), (8, -22), strict=False):
        fmax = [float(r["Fmax (MHz)"]) for r in rows]
        ax.plot(range(len(rows)), fmax, "o-", color=colour, label=title)
        for i, r in enumerate(rows):
            ax.annotate(f"{r['step']}\n{float(r['Fmax (MHz)']):.1f}", (i, fmax[i]), textcoords="offset points",
                        xytext=(0, dy), ha="center", fontsize=7, color=colour,
                        fontweight="bold" if r["ports"] == "harness" else "normal")
    ax.axhline(goal_mhz, ls="--", color="grey", lw=1)
    ax.text(0, goal_mhz + 2, f"goal {goal_mhz:g} MHz", fontsize=8, color="grey")
    ax.set_xlabel("fix, in the order made (bold: placed inside the on-chip harness)")
    ax.set_ylabel("Fmax after routing (MHz), ECP5-85k")
    ax.set_ylim(60, goal_mhz + 20)
    ax.set_title("Digits Verilog tops: routed Fmax fix by fix (nextpnr router2, seed 1)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--md", type=Path, default=root / "docs" / "top_timing.md")
    ap.add_argument("--png", type=Path, default=root / "docs" / "top_timing.png")
    args = ap.parse_args()
    tables = read_tables(args.md.read_text(encoding="utf-8"))
    plot(tables, args.png)
    for title, rows in tables.items():
        print(f"{title}: " + ", ".join(f"{r['step']} {r['Fmax (MHz)']}" for r in rows))
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
