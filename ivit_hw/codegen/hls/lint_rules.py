"""The rules of the HLS lint over one parsed unit (see :mod:`.lint` for what is parsed and why).

:class:`Unit` holds the translation unit, which files are in scope, the in-scope functions and the
pragmas of every in-scope file; each ``check_*`` function yields :class:`~.lint.Finding` objects.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .lint import Finding, LintInput, _cindex
from .lint_pragmas import Pragma, pragmas_in

ALLOC_CALLS = {"malloc", "calloc", "realloc", "free", "alloca", "aligned_alloc", "posix_memalign"}
STD_DYNAMIC = {"vector", "basic_string", "string", "list", "forward_list", "deque", "map", "multimap", "set",
               "multiset", "unordered_map", "unordered_set", "unordered_multimap", "unordered_multiset",
               "unique_ptr", "shared_ptr", "weak_ptr", "function", "queue", "stack", "priority_queue", "any"}
LOOP_PRAGMAS = {"PIPELINE", "UNROLL", "LOOP_TRIPCOUNT", "LOOP_FLATTEN", "LOOP_MERGE"}
PARTITION_PRAGMAS = {"ARRAY_PARTITION", "ARRAY_RESHAPE"}


def kids(c: Any) -> list[Any]:
    """The children of a cursor, as a list."""
    return list(c.get_children())


def walk(c: Any, parents: tuple = ()) -> Iterator[tuple[Any, tuple]]:
    """Every descendant of ``c`` (``c`` included) with the tuple of its ancestors below ``c``'s own.

    The values of an initializer list (the ROM tables: no code, up to millions of literals) are skipped.
    """
    yield c, parents
    if c.kind.name == "INIT_LIST_EXPR":
        return
    inner = (*parents, c)
    for k in c.get_children():
        yield from walk(k, inner)


def _lib(ci: Any) -> Any:
    """libclang with the operator-kind entry points (LLVM 17+) that the Python bindings do not wrap."""
    lib = ci.conf.lib
    if not getattr(lib, "_ivit_ops", False):
        for what in ("Binary", "Unary"):
            getattr(lib, f"clang_getCursor{what}OperatorKind").argtypes = [ci.Cursor]
            getattr(lib, f"clang_getCursor{what}OperatorKind").restype = ctypes.c_int
            spell = getattr(lib, f"clang_get{what}OperatorKindSpelling")
            spell.argtypes, spell.restype, spell.errcheck = [ctypes.c_int], ci._CXString, ci._CXString.from_result
        lib._ivit_ops = True
    return lib


def is_const(t: Any) -> bool:
    """Whether a type (an array: its elements) is const-qualified."""
    ci = _cindex()
    while t.kind in (ci.TypeKind.CONSTANTARRAY, ci.TypeKind.INCOMPLETEARRAY, ci.TypeKind.DEPENDENTSIZEDARRAY):
        t = t.get_array_element_type()
    return t.is_const_qualified()


def qualified(c: Any) -> str:
    """``ns::name`` of a declaration."""
    ci = _cindex()
    parts = [c.spelling]
    p = c.semantic_parent
    while p is not None and p.kind != ci.CursorKind.TRANSLATION_UNIT:
        parts.append(p.spelling)
        p = p.semantic_parent
    return "::".join(reversed(parts))


class Unit:
    """One parsed unit and what the rules share: scope, functions, pragmas, the top function."""

    def __init__(self, tu: Any, inp: LintInput):
        self.ci = ci = _cindex()
        self.tu, self.inp = tu, inp
        self.root = inp.scope_root.resolve()
        self.display = (inp.display_root or self.root).resolve()
        self.lib_dirs = [Path(d).resolve() for d in inp.include_dirs]
        self._scope: dict[str, bool] = {}
        self._nodes: list[tuple[Any, tuple]] | None = None
        self.decls = list(self._in_scope_decls(tu.cursor))
        func_kinds = {ci.CursorKind.FUNCTION_DECL, ci.CursorKind.FUNCTION_TEMPLATE, ci.CursorKind.CXX_METHOD,
                      ci.CursorKind.CONSTRUCTOR, ci.CursorKind.DESTRUCTOR}
        self.functions = [c for c, _ in self.body_nodes()
                          if c.kind in func_kinds and c.is_definition() and self.in_scope(c)]
        self.function_set = set(self.functions)
        self.function_names = {f.spelling for f in self.functions}
        self.top = next((f for f in self.functions if f.kind == ci.CursorKind.FUNCTION_DECL and f.spelling == inp.top),
                        None)
        self._loops: dict[Any, list[tuple[int, int]]] = {}
        self._names: dict[Any, set[str]] = {}
        self.pragmas: dict[str, list[Pragma]] = {}
        for name in sorted(n for n, ok in self._scope.items() if ok):
            self.pragmas[name] = pragmas_in(Path(name).read_text(encoding="utf-8", errors="replace"))

    def in_scope(self, c: Any) -> bool:
        """Whether a cursor (or file name) belongs to the synthesised sources."""
        f = c if isinstance(c, str) else (c.location.file.name if c.location.file else None)
        if f is None:
            return False
        if f not in self._scope:
            p = Path(f).resolve()
            ok = p.is_relative_to(self.root) and p.relative_to(self.root).as_posix() not in self.inp.exclude
            self._scope[f] = ok
        return self._scope[f]

    def in_library(self, c: Any) -> bool:
        """Whether a declaration comes from the ap_int / hls_stream headers."""
        f = c.location.file
        return f is not None and any(Path(f.name).resolve().is_relative_to(d) for d in self.lib_dirs)

    def _in_scope_decls(self, c: Any) -> Iterator[Any]:
        for k in c.get_children():
            if k.kind in (self.ci.CursorKind.NAMESPACE, self.ci.CursorKind.LINKAGE_SPEC):
                if self.in_scope(k):  # one cursor per `namespace x {` block: std's never are
                    yield from self._in_scope_decls(k)
            elif self.in_scope(k):
                yield k

    def rel(self, name: str) -> str:
        """A file name as findings show it: relative to the project folder when inside it."""
        p = Path(name).resolve()
        return p.relative_to(self.display).as_posix() if p.is_relative_to(self.display) else str(p)

    def finding(self, where: Any, rule: str, message: str, severity: str = "error", line: int | None = None) -> Finding:
        """A finding at a cursor (or at ``line`` of the file name ``where``)."""
        if isinstance(where, str):
            return Finding(self.rel(where), line or 0, rule, message, severity)
        return Finding(self.rel(where.location.file.name), where.location.line, rule, message, severity)

    def function_at(self, name: str, offset: int) -> Any | None:
        """The innermost in-scope function definition of file ``name`` whose extent holds ``offset``."""
        best = None
        for f in self.functions:
            e = f.extent
            if e.start.file and e.start.file.name == name and e.start.offset <= offset < e.end.offset:
                if best is None or e.start.offset >= best.extent.start.offset:
                    best = f
        return best

    def in_loop(self, func: Any, offset: int) -> bool:
        """Whether ``offset`` lies in the body of a loop of ``func``."""
        if func not in self._loops:
            kinds = {self.ci.CursorKind.FOR_STMT, self.ci.CursorKind.WHILE_STMT, self.ci.CursorKind.DO_STMT,
                     self.ci.CursorKind.CXX_FOR_RANGE_STMT}
            self._loops[func] = [(c.extent.start.offset, c.extent.end.offset) for c, _ in walk(func) if c.kind in kinds]
        return any(a < offset < b for a, b in self._loops[func])

    def names(self, func: Any | None) -> set[str]:
        """The variables a pragma in ``func`` may name: its parameters and locals, and the globals."""
        if func not in self._names:
            K = self.ci.CursorKind
            if func is None:
                self._names[None] = {c.spelling for c, _ in self.body_nodes() if c.kind == K.VAR_DECL
                                     and c.semantic_parent is not None
                                     and c.semantic_parent.kind in (K.NAMESPACE, K.TRANSLATION_UNIT)}
            else:
                self._names[func] = self.names(None) | {c.spelling for c, _ in walk(func)
                                                        if c.kind in (K.VAR_DECL, K.PARM_DECL)}
        return self._names[func]

    def body_nodes(self) -> list[tuple[Any, tuple]]:
        """Every in-scope declaration and what it contains, with ancestors (walked once)."""
        if self._nodes is None:
            self._nodes = [n for d in self.decls for n in walk(d)]
        return self._nodes


def check_parse(u: Unit) -> list[Finding]:
    errors = [d for d in u.tu.diagnostics if d.severity >= u.ci.Diagnostic.Error]
    return [Finding(u.rel(d.location.file.name) if d.location.file else "?", d.location.line, "parse", d.spelling)
            for d in errors]


def check_dynamic(u: Unit) -> Iterator[Finding]:
    K = u.ci.CursorKind
    for c, _ in u.body_nodes():
        if c.kind in (K.CXX_NEW_EXPR, K.CXX_DELETE_EXPR):
            yield u.finding(c, "dynamic-alloc", f"'{'new' if c.kind == K.CXX_NEW_EXPR else 'delete'}' allocates "
                            "memory at run time; use a fixed-size array")
        elif c.kind == K.CALL_EXPR and c.spelling in ALLOC_CALLS:
            yield u.finding(c, "dynamic-alloc", f"'{c.spelling}' allocates memory at run time; use a fixed-size array")
        elif c.kind in (K.TYPE_REF, K.TEMPLATE_REF) and c.referenced is not None:
            q = qualified(c.referenced)
            if q.startswith("std::") and q.split("::")[-1] in STD_DYNAMIC:
                yield u.finding(c, "dynamic-alloc", f"'{q}' uses dynamic memory; use a fixed-size array or hls::stream")


def _callees(u: Unit, c: Any) -> list[Any]:
    """The in-scope function definitions a call or reference may reach (templates: the template)."""
    K = u.ci.CursorKind
    ref = c.referenced
    if ref is not None and ref.kind == K.OVERLOADED_DECL_REF:  # a dependent call's callee: ns::f<CFG>
        c = ref
    if c.spelling not in u.function_names:  # ap_int operators and the like: never in scope
        return []
    cands = []
    if c.kind == K.OVERLOADED_DECL_REF:
        n = u.ci.conf.lib.clang_getNumOverloadedDecls(c)
        cands = [u.ci.conf.lib.clang_getOverloadedDecl(c, i) for i in range(n)]
    elif ref is not None:
        cands = [ref]
    out = []
    for cand in cands:
        tmpl = u.ci.conf.lib.clang_getSpecializedCursorTemplate(cand)
        if tmpl is not None and not tmpl.kind.is_invalid():
            cand = tmpl
        d = cand.get_definition()
        if d is not None and d in u.function_set:
            out.append(d)
    return out


def _arity_ok(u: Unit, d: Any, nargs: int) -> bool:
    """Whether ``d`` can take ``nargs`` arguments (parameters with a default may be left out)."""
    params = [k for k in kids(d) if k.kind == u.ci.CursorKind.PARM_DECL]
    optional = sum(any(t.spelling == "=" for t in p.get_tokens()) for p in params)
    return len(params) - optional <= nargs <= len(params)


def call_targets(u: Unit, call: Any) -> list[Any]:
    """The in-scope definitions a call may run (a dependent call: the overloads that fit its arguments)."""
    ks = kids(call)
    defs = _callees(u, call)
    if defs:
        return defs
    if not ks:
        return []
    nargs = len(list(call.get_arguments())) or len(ks) - 1
    return [d for d in _callees(u, ks[0]) if _arity_ok(u, d, nargs)]


def call_graph(u: Unit) -> dict[Any, set[Any]]:
    """In-scope function -> the in-scope functions it calls."""
    K = u.ci.CursorKind
    return {f: {d for c, _ in walk(f) if c.kind == K.CALL_EXPR for d in call_targets(u, c)} for f in u.functions}


def check_recursion(u: Unit) -> Iterator[Finding]:
    graph = call_graph(u)
    seen: set[Any] = set()
    for start in u.functions:
        # a cycle through `start`: can `start` reach itself?
        stack, visited = list(graph.get(start, ())), set()
        while stack:
            f = stack.pop()
            if f == start:
                if start not in seen:
                    seen.add(start)
                    yield u.finding(start, "recursion", f"'{start.spelling}' calls itself (directly or through "
                                    "other functions); recursion cannot be synthesised")
                break
            if f not in visited:
                visited.add(f)
                stack.extend(graph.get(f, ()))


def operator_token(u: Unit, c: Any) -> str:
    """The operator of a built-in operator cursor: ``=``, ``+=``, ``<<`` ... (unary: ``++``/``--`` with a
    ``pre``/``post`` word dropped, ``&`` address-of, ``*`` dereference)."""
    lib = _lib(u.ci)
    if c.kind.name == "UNARY_OPERATOR":
        text = lib.clang_getUnaryOperatorKindSpelling(lib.clang_getCursorUnaryOperatorKind(c))
    else:
        text = lib.clang_getBinaryOperatorKindSpelling(lib.clang_getCursorBinaryOperatorKind(c))
    return text.split()[-1] if text else ""


def _pointer(u: Unit, t: Any) -> bool:
    return t.get_canonical().kind == u.ci.TypeKind.POINTER


def check_top_pointer(u: Unit) -> Iterator[Finding]:
    if u.top is None:
        return
    K = u.ci.CursorKind
    for a in u.top.get_arguments():
        t = a.type.get_canonical()
        if t.kind in (u.ci.TypeKind.POINTER, u.ci.TypeKind.LVALUEREFERENCE) and _pointer(u, t.get_pointee()):
            yield u.finding(a, "top-pointer", f"top argument '{a.spelling}' is a pointer to a pointer")
    for c, _ in walk(u.top):
        if c.kind in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
            ks = kids(c)
            if len(ks) == 2 and any(_pointer(u, k.type) for k in ks) and operator_token(u, c) in ("+", "-", "+=", "-="):
                yield u.finding(c, "top-pointer", "pointer arithmetic in the top function; pass whole arrays or "
                                "streams, index with []")
        elif c.kind == K.UNARY_OPERATOR and operator_token(u, c) in ("++", "--") and _pointer(u, kids(c)[0].type):
            yield u.finding(c, "top-pointer", "pointer increment in the top function; index with []")


def check_pragmas(u: Unit) -> Iterator[Finding]:
    top_args = {a.spelling for a in u.top.get_arguments()} if u.top is not None else set()
    for name, pragmas in u.pragmas.items():
        for p in pragmas:
            func = u.function_at(name, p.offset)
            if p.name in LOOP_PRAGMAS and "off" not in p.flags:
                inside = p.macro_in_loop if p.macro_in_loop is not None else (
                    func is not None and u.in_loop(func, p.offset))
                if not inside:
                    yield u.finding(name, "pipeline-placement", f"'#pragma HLS {p.name}' outside a loop body "
                                    "(put it first in the loop it applies to)", line=p.line)
            target = p.target()
            if target is None or p.macro_in_loop is not None:
                continue
            if p.name in PARTITION_PRAGMAS and func is not None and func == u.top and target in top_args:
                yield u.finding(name, "partition-top-arg", f"{p.name} on top-level argument '{target}' (not "
                                "supported on the interface: partition a local copy)", line=p.line)
            elif target != "return" and target not in u.names(func):
                where = f"'{func.spelling}'" if func is not None else "this file"
                yield u.finding(name, "pragma-target", f"'#pragma HLS {p.name}' names '{target}', which is not "
                                f"declared in {where}", line=p.line)


def check_static_state(u: Unit) -> Iterator[Finding]:
    K, S = u.ci.CursorKind, u.ci.StorageClass
    for c, _ in u.body_nodes():
        if c.kind != K.VAR_DECL or is_const(c.type):
            continue
        parent = c.semantic_parent
        scope_level = parent is not None and parent.kind in (K.NAMESPACE, K.TRANSLATION_UNIT, K.STRUCT_DECL,
                                                             K.CLASS_DECL, K.CLASS_TEMPLATE)
        if c.storage_class == S.STATIC or scope_level:
            yield u.finding(c, "static-state", f"'{c.spelling}' is mutable state kept across calls (static or "
                            "global, not const); make it a local, an argument, or const")


def check_system_calls(u: Unit) -> Iterator[Finding]:
    K = u.ci.CursorKind
    for c, _ in u.body_nodes():
        if c.kind != K.CALL_EXPR or c.referenced is None or c.spelling in ALLOC_CALLS:
            continue
        ref = c.referenced
        if ref.location.file is None or u.in_scope(ref) or u.in_library(ref) or c.spelling.startswith("__assert"):
            continue
        q = qualified(ref).split("::")
        if len(q) > 2 and q[0] == "std" and q[1] in STD_DYNAMIC:
            continue  # a container's own methods: reported once as dynamic-alloc
        yield u.finding(c, "system-call", f"call to '{'::'.join(q)}' from the C/C++ runtime: not synthesisable "
                        "(no OS, file I/O or library code in hardware)")


def check_constructs(u: Unit) -> Iterator[Finding]:
    K, T = u.ci.CursorKind, u.ci.TypeKind
    for c, _ in u.body_nodes():
        if c.kind in (K.CXX_THROW_EXPR, K.CXX_TRY_STMT):
            yield u.finding(c, "unsupported-construct", "exceptions are not synthesisable")
        elif c.kind == K.CXX_METHOD and c.is_virtual_method():
            yield u.finding(c, "unsupported-construct", f"virtual function '{c.spelling}': use a template instead")
        elif c.kind in (K.VAR_DECL, K.PARM_DECL, K.FIELD_DECL, K.TYPEDEF_DECL):
            t = (c.underlying_typedef_type if c.kind == K.TYPEDEF_DECL else c.type).get_canonical()
            if t.kind == T.POINTER and t.get_pointee().get_canonical().kind in (T.FUNCTIONPROTO, T.FUNCTIONNOPROTO):
                yield u.finding(c, "unsupported-construct", f"function pointer '{c.spelling}' is not synthesisable")
        elif c.kind == K.CXX_REINTERPRET_CAST_EXPR or (c.kind == K.CSTYLE_CAST_EXPR and _pointer(u, c.type)):
            yield u.finding(c, "unsupported-construct", "pointer cast: not synthesisable; convert values, not pointers")


_STREAM = re.compile(r"\bstream<")


def is_stream(t: Any) -> bool:
    """Whether a type (through references) is an ``hls::stream``."""
    return bool(_STREAM.search(t.spelling)) or bool(_STREAM.search(t.get_canonical().spelling))


def run_rules(u: Unit) -> list[Finding]:
    """Every rule over one unit (the parse errors alone when the unit does not parse)."""
    from .lint_dataflow import check_dataflow

    errors = check_parse(u)
    if errors:
        return errors
    out: list[Finding] = []
    for rule in (check_dynamic, check_recursion, check_top_pointer, check_pragmas, check_static_state,
                 check_system_calls, check_constructs, check_dataflow):
        out.extend(rule(u))
    return out
