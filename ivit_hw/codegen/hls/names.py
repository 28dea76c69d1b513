"""IR names become valid, unique C identifiers; the raw names never reach the generated code."""

from __future__ import annotations

import re

_BAD = re.compile(r"[^A-Za-z0-9_]+")
# C and C++ keywords plus names the generated code and the kernels use themselves.
RESERVED = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires return short signed sizeof static static_assert static_cast struct switch template
this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t
while xor xor_eq main std hls ivit ap_int ap_uint
""".split())


class Namer:
    """Turns IR names into C identifiers: ``[A-Za-z0-9_]`` only, never a keyword, never a reserved
    ``_X``/``__`` form, unique within one namer (a clash gets ``_2``, ``_3``, ... in first-come order)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._by_name: dict[str, str] = {}
        self._used: set[str] = set()

    def __call__(self, name: str) -> str:
        """The identifier of ``name`` (the same one on every call)."""
        if name in self._by_name:
            return self._by_name[name]
        base = _BAD.sub("_", name).strip("_") or "t"
        base = re.sub(r"_+", "_", base)
        if base[0].isdigit():
            base = "n" + base
        base = self.prefix + base
        if base in RESERVED:
            base += "_"
        ident, k = base, 2
        while ident in self._used:
            ident, k = f"{base}_{k}", k + 1
        self._used.add(ident)
        self._by_name[name] = ident
        return ident


_COMMENT_OK = re.compile(r"[A-Za-z0-9_.:,\[\] -]")


def comment_text(name: str) -> str:
    """``name`` for a ``//`` comment or a tcl/markdown line: letters, digits and ``_.:,[] -`` kept,
    anything else (quotes, ``;``, ``*``, ``/``, backslashes, control characters) shown as ``?``."""
    return "".join(ch if _COMMENT_OK.fullmatch(ch) else "?" for ch in name)
