"""ROM initialisers as ``$readmemh`` files for synthesis.

The GEMM engines write their weight and bias ROMs as one ``initial`` block of constant word
assignments (``w_rom[i] = 128'h...;``), which every simulator reads directly. Yosys's Verilog
frontend turns each such assignment into a process case tree and removes signals from it one by
one: the time grows with the square of the word count (YosysHQ/yosys issue 4601), so a DeiT-tiny
block (about 30,000 ROM words) spent most of an hour in ``read_verilog``. ``$readmemh`` of the same
words becomes one ``$meminit`` per file and reads in well under a second.

:func:`rom_initials_to_hex` rewrites a module's text for the synthesis copy only: every ``initial``
block that assigns consecutive words 0..n-1 of one memory becomes ``$readmemh("FILE", MEM);`` and
FILE's text is returned beside it. The words are equal (two's complement, the memory's width), so
the synthesised ROM holds the same contents as the simulated one.
"""

from __future__ import annotations

import re
from pathlib import Path

_BLOCK = re.compile(r"^(?P<ind>[ \t]*)initial begin\n(?P<body>(?:[ \t]*\w+\[\d+\] = -?\d+'s?[dhb][0-9a-fA-F_]+;\n)+)"
                    r"[ \t]*end\n", re.M)
_WORD = re.compile(r"(\w+)\[(\d+)\] = (-?)(\d+)'s?([dhb])([0-9a-fA-F_]+);")
_BASE = {"d": 10, "h": 16, "b": 2}


def word_value(sign: str, width: int, base: str, digits: str) -> int:
    """The unsigned ``width``-bit pattern of a sized Verilog literal (``-`` negates modulo 2^width)."""
    value = int(digits.replace("_", ""), _BASE[base])
    return (-value if sign else value) % (1 << width)


def rom_initials_to_hex(text: str, stem: str) -> tuple[str, dict[str, str]]:
    """``text`` with each whole-memory ``initial`` block replaced by ``$readmemh``, and the hex files
    (name -> text, named ``<stem>_<memory>.hex``). Blocks that are not one memory's words 0..n-1 in
    order are left as they are."""
    files: dict[str, str] = {}

    def swap(m: re.Match[str]) -> str:
        words = _WORD.findall(m.group("body"))
        names = {w[0] for w in words}
        if len(names) != 1 or [int(w[1]) for w in words] != list(range(len(words))):
            return m.group(0)
        mem = words[0][0]
        width = int(words[0][3])
        digits = -(-width // 4)
        fname = f"{stem}_{mem}.hex"
        files[fname] = "".join(f"{word_value(s, width, b, d):0{digits}x}\n" for _, _, s, _, b, d in words)
        return f'{m.group("ind")}initial $readmemh("{fname}", {mem});\n'

    return _BLOCK.sub(swap, text), files


def synth_copies(sources: list[Path], work: Path) -> list[Path]:
    """``sources`` for synthesis in ``work``: a file with whole-memory ``initial`` blocks is written
    there rewritten (:func:`rom_initials_to_hex`) with its hex files; the others are returned as given."""
    out = []
    for src in sources:
        text = src.read_text(encoding="utf-8")
        new, files = rom_initials_to_hex(text, src.stem)
        if not files:
            out.append(src)
            continue
        work.mkdir(parents=True, exist_ok=True)
        for name, body in files.items():
            (work / name).write_text(body, encoding="utf-8")
        (work / src.name).write_text(new, encoding="utf-8")
        out.append(work / src.name)
    return out
