"""The ``#pragma HLS`` lines and ``_Pragma("HLS ...")`` operators of a source file, for the HLS lint.

Clang drops pragmas it does not know, so they are read from the text (comments blanked first, offsets
kept so that they can be placed in the AST). A ``_Pragma`` inside a ``#define`` has no place in the AST
(it lands wherever the macro expands): whether it sits in a loop body is read from the macro's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LOGICAL = re.compile(r"^[ \t]*#[ \t]*(pragma|define)\b((?:\\\n|[^\n])*)", re.M)
_OPERATOR = re.compile(r'_Pragma\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
_LEXEMES = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\S")


@dataclass(frozen=True)
class Pragma:
    """One HLS pragma: where it is, its directive name (upper case), its ``key=value`` options and flags."""

    line: int
    offset: int
    name: str
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    flags: frozenset[str] = frozenset()
    macro_in_loop: bool | None = None  # set for a _Pragma inside a #define: is it in a loop of that macro

    def target(self) -> str | None:
        """The variable (or port) the pragma names, if any."""
        return self.options.get("variable") or self.options.get("port")


def blank_comments(text: str) -> str:
    """``text`` with // and /* */ comments replaced by spaces (newlines kept); string literals untouched."""
    def blank(m: re.Match) -> str:
        t = m.group(0)
        return t if t[0] in "\"'" else re.sub(r"[^\n]", " ", t)
    return _LEXEMES.sub(blank, text)


def _parse(body: str, line: int, offset: int, macro_in_loop: bool | None = None) -> Pragma | None:
    words = re.sub(r"\s*=\s*", "=", body.replace("\\\n", " ")).split()
    if len(words) < 2 or words[0].upper() != "HLS":
        return None
    options, flags = {}, set()
    for w in words[2:]:
        if "=" in w:
            k, v = w.split("=", 1)
            options[k.lower()] = v
        else:
            flags.add(w.lower())
    return Pragma(line, offset, words[1].upper(), options, frozenset(flags), macro_in_loop)


def in_loop_text(code: str) -> bool:
    """Whether the end of ``code`` lies inside a loop body (braced, or the single statement of a loop)."""
    stack: list[bool] = []
    pending, depth, header = False, 0, False
    for tok in _TOKEN.findall(code):
        if header:
            depth += {"(": 1, ")": -1}.get(tok, 0)
            if depth == 0:
                header, pending = False, True
            continue
        if tok in ("for", "while"):
            header, depth = True, 0
        elif tok == "do":
            pending = True
        elif tok == "{":
            stack.append(pending)
            pending = False
        elif tok == "}":
            if stack:
                stack.pop()
        elif tok == ";":
            pending = False
        elif pending:
            pass  # a single-statement loop body begins here; still inside it
    return pending or any(stack)


def pragmas_in(text: str) -> list[Pragma]:
    """Every HLS pragma of a source text, in order."""
    if "pragma" not in text.lower():
        return []
    clean = blank_comments(text)
    found: list[Pragma] = []
    in_define: list[tuple[int, int]] = []
    for m in _LOGICAL.finditer(clean):
        line = clean.count("\n", 0, m.start()) + 1
        if m.group(1) == "pragma":
            p = _parse(m.group(2), line, m.start())
            if p is not None:
                found.append(p)
            continue
        in_define.append((m.start(), m.end()))
        for op in _OPERATOR.finditer(clean, m.start(), m.end()):
            where = op.start()
            p = _parse(op.group(1), clean.count("\n", 0, where) + 1, where,
                       in_loop_text(clean[m.start(2):where]))
            if p is not None:
                found.append(p)
    for op in _OPERATOR.finditer(clean):
        if not any(a <= op.start() < b for a, b in in_define):
            p = _parse(op.group(1), clean.count("\n", 0, op.start()) + 1, op.start())
            if p is not None:
                found.append(p)
    return sorted(found, key=lambda p: p.offset)
