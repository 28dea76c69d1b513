"""The DATAFLOW rules of the HLS lint: single producer / single consumer, no bypass, canonical form.

A region is the block (function or loop body) holding ``#pragma HLS DATAFLOW``. Its processes are the
calls and loops among the block's statements, in order; its channels are the variables declared in the
block and the arguments of the function. What a process does with a channel (read ``r``, write ``w``)
comes from the code it runs: a stream's ``read``/``write``/``>>``/``<<``, an element on the left of an
assignment, and through calls into the callee's use of its parameter (followed into templates and
helpers; a ``const`` parameter only reads). What cannot be resolved counts as both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .lint import Finding
from .lint_rules import Unit, call_targets, is_const, is_stream, kids, operator_token, walk

ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
READ_MEMBERS = {"read", "read_nb", "empty"}
WRITE_MEMBERS = {"write", "write_nb", "full"}
RW = frozenset("rw")


def _read_only(t: Any) -> bool:
    """A const array, pointer to const or reference to const (dependent types: the declared spelling)."""
    if t.kind.name in ("POINTER", "LVALUEREFERENCE"):
        return is_const(t.get_pointee())
    return t.kind.name.endswith("ARRAY") and is_const(t)


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


class Access:
    """Memoised access analysis of references and parameters over one unit."""

    def __init__(self, u: Unit):
        self.u, self.K = u, u.ci.CursorKind
        self.memo: dict[tuple[Any, int], frozenset[str]] = {}

    def param(self, func: Any, index: int) -> frozenset[str]:
        """What ``func`` does with its parameter ``index``."""
        key = (func, index)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = frozenset()  # a cycle contributes nothing
        params = [c for c in kids(func) if c.kind == self.K.PARM_DECL]
        if index >= len(params):
            result = RW
        else:
            p = params[index]
            if any(_read_only(t) for t in (p.type, p.type.get_canonical())):
                result = frozenset("r")
            else:
                result = frozenset().union(*(self.ref(c, ps) for c, ps in walk(func)
                                             if c.kind == self.K.DECL_REF_EXPR and _same(c.referenced, p)))
        self.memo[key] = result
        return result

    def _operator(self, ks: list[Any]) -> tuple[str, list[Any]] | None:
        """An overloaded operator call's name and operands (resolved: ``operator=``; dependent: the
        callee is a reference to an ``operator>>`` overload set); None for a plain call."""
        for k in ks:
            names = [k.spelling, *(g.spelling for g in kids(k) if g.kind == self.K.OVERLOADED_DECL_REF)]
            op = next((n for n in names if n.startswith("operator")), None)
            if op is not None:
                return op, [x for x in ks if x != k]
        return None

    def _call(self, call: Any, child: Any, element: bool, stream: bool) -> frozenset[str]:
        ks = kids(call)
        found = self._operator(ks) if call.spelling.startswith("operator") or not call.spelling else None
        if found is not None:
            name, operands = found
            first = bool(operands) and operands[0] == child
            op = name[len("operator"):]
            if first and op in ASSIGN:
                return frozenset("w") if op == "=" else RW
            if first and stream and op in ("<<", ">>"):
                return frozenset("w" if op == "<<" else "r")
            if first and op in ("++", "--"):
                return RW
            return frozenset("r")
        if element:
            return frozenset("r")  # an element passed by value
        index = next((i for i, a in enumerate(call.get_arguments()) if a == child), None)
        if index is None:  # a dependent call: find the argument among the children after the callee
            args = ks[1:]
            index = next((i for i, a in enumerate(args) if a == child), None)
        defs = call_targets(self.u, call)
        if index is None or not defs:
            return RW
        return frozenset().union(*(self.param(d, index) for d in defs))

    def ref(self, ref: Any, parents: tuple) -> frozenset[str]:
        """What the code around one reference does with the referenced variable."""
        K = self.K
        target = ref.referenced
        stream = target is not None and is_stream(target.type)
        child, element = ref, False
        for parent in reversed(parents):
            k = parent.kind
            if k in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
                child = parent
                continue
            if k == K.MEMBER_REF_EXPR:
                member = parent.spelling or [t.spelling for t in parent.get_tokens()][-1]
                if member in WRITE_MEMBERS:
                    return frozenset("w")
                return frozenset("r") if member in READ_MEMBERS or not stream else RW
            if k == K.ARRAY_SUBSCRIPT_EXPR:
                if kids(parent)[0] != child:
                    return frozenset("r")
                child, element = parent, True
                continue
            if k in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
                op = operator_token(self.u, parent)
                first = kids(parent)[0] == child
                if first and op in ASSIGN:
                    return frozenset("w") if op == "=" else RW
                if first and stream and op in ("<<", ">>"):
                    return frozenset("w" if op == "<<" else "r")
                return frozenset("r")
            if k == K.UNARY_OPERATOR:
                op = operator_token(self.u, parent)
                if op in ("++", "--"):
                    return RW
                if op in ("*", "&"):
                    child, element = parent, op == "*"
                    continue
                return frozenset("r")
            if k == K.CALL_EXPR:
                return self._call(parent, child, element, stream)
            if k == K.VAR_DECL:
                t = parent.type.get_canonical()
                return RW if t.kind.name in ("POINTER", "LVALUEREFERENCE") and not is_const(t.get_pointee()) else \
                    frozenset("r")
            return frozenset("r")
        return frozenset("r")


def _stmt(u: Unit, s: Any) -> Any:
    K = u.ci.CursorKind
    while s.kind in (K.LABEL_STMT, K.UNEXPOSED_EXPR) and kids(s):
        s = kids(s)[-1]
    return s


def _region(u: Unit, func: Any, offset: int) -> Any | None:
    K = u.ci.CursorKind
    best = None
    for c, _ in walk(func):
        if c.kind == K.COMPOUND_STMT and c.extent.start.offset < offset < c.extent.end.offset:
            if best is None or c.extent.start.offset >= best.extent.start.offset:
                best = c
    return best


def _depths(u: Unit, name: str, region: Any) -> set[str]:
    """Streams given an explicit depth by a STREAM pragma inside ``region``."""
    lo, hi = region.extent.start.offset, region.extent.end.offset
    return {p.target() for p in u.pragmas[name] if p.name == "STREAM" and "depth" in p.options
            and lo < p.offset < hi}


def check_region(u: Unit, acc: Access, func: Any, region: Any, name: str) -> Iterator[Finding]:
    """The findings of one DATAFLOW region."""
    K = u.ci.CursorKind
    loops = (K.FOR_STMT, K.WHILE_STMT, K.DO_STMT, K.CXX_FOR_RANGE_STMT)
    channels = {c: c for c in kids(func) if c.kind == K.PARM_DECL}
    processes: list[Any] = []
    for s in (_stmt(u, k) for k in kids(region)):
        if s.kind == K.DECL_STMT:
            channels.update({v: v for v in kids(s) if v.kind == K.VAR_DECL})
        elif s.kind == K.CALL_EXPR or s.kind in loops:
            processes.append(s)
        elif s.kind in (K.IF_STMT, K.SWITCH_STMT, K.CONDITIONAL_OPERATOR):
            yield u.finding(s, "dataflow-form", "conditional execution in a DATAFLOW region (processes must run "
                            "unconditionally)")
            processes.append(s)  # its channels still count, once
        elif s.kind not in (K.NULL_STMT, K.RETURN_STMT):
            yield u.finding(s, "dataflow-form", "a DATAFLOW region holds declarations and process calls or loops "
                            "only; move this statement into a process")
    uses: dict[Any, list[tuple[int, frozenset[str]]]] = {}
    for i, proc in enumerate(processes):
        seen: dict[Any, frozenset[str]] = {}
        for c, ps in walk(proc):
            if c.kind == K.DECL_REF_EXPR and c.referenced is not None and c.referenced in channels:
                v = channels[c.referenced]
                seen[v] = seen.get(v, frozenset()) | acc.ref(c, ps)
        for v, a in seen.items():
            uses.setdefault(v, []).append((i, a))
    deep = _depths(u, name, region)
    for v, us in uses.items():
        writers = [i for i, a in us if "w" in a]
        readers = [i for i, a in us if "r" in a]
        where = lambda ids: ", ".join(f"line {processes[i].location.line}" for i in ids)  # noqa: E731
        port = v.kind == K.PARM_DECL
        if len(writers) > 1 or len(readers) > 1 or (port and writers and readers):
            what = "argument" if port else "channel"
            yield u.finding(v, "dataflow-spsc", f"{what} '{v.spelling}' has {len(writers)} writer(s) ({where(writers)})"
                            f" and {len(readers)} reader(s) ({where(readers)}); one of each (fan out through a "
                            "copy process)")
            continue
        if port or is_const(v.type):
            continue
        if not writers or not readers:
            missing = "written" if not writers else "read"
            yield u.finding(v, "dataflow-spsc", f"channel '{v.spelling}' is never {missing} in the DATAFLOW region")
            continue
        w, r = writers[0], readers[0]
        if r < w:
            yield u.finding(v, "dataflow-form", f"'{v.spelling}' is read (line {processes[r].location.line}) before "
                            f"it is written (line {processes[w].location.line}): feedback between processes")
        elif r > w + 1:
            skipped = r - w - 1
            if is_stream(v.type) and v.spelling not in deep:
                yield u.finding(v, "dataflow-bypass", f"stream '{v.spelling}' skips {skipped} process(es) with no "
                                "'#pragma HLS STREAM depth=' (it must hold what the skipped processes keep in flight)")
            elif not is_stream(v.type):
                yield u.finding(v, "dataflow-bypass", f"'{v.spelling}' bypasses {skipped} process(es) (written line "
                                f"{processes[w].location.line}, read line {processes[r].location.line}); pass it "
                                "along the stream chain", severity="warning")


def check_dataflow(u: Unit) -> Iterator[Finding]:
    """Every DATAFLOW region of the unit."""
    acc = Access(u)
    for name, pragmas in u.pragmas.items():
        for p in pragmas:
            if p.name != "DATAFLOW" or p.macro_in_loop is not None:
                continue
            func = u.function_at(name, p.offset)
            region = _region(u, func, p.offset) if func is not None else None
            if region is None:
                yield u.finding(name, "dataflow-form", "'#pragma HLS DATAFLOW' outside a function body", line=p.line)
                continue
            yield from check_region(u, acc, func, region, name)
