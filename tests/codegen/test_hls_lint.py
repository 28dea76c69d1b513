"""The HLS synthesizability lint: every rule on a deliberately bad snippet and its good counterpart,
a generated project (with every hand-written kernel header in scope) free of errors, and the lint
inside ``ivit-hw verify`` (runs before the C-simulation; a finding fails it with exit 1)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_hls_render import glue_graph  # noqa: E402

from ivit_hw.cli import main  # noqa: E402
from ivit_hw.codegen.hls import lint  # noqa: E402
from ivit_hw.codegen.hls.headers import ap_include_dir  # noqa: E402
from ivit_hw.codegen.hls.lint_pragmas import in_loop_text, pragmas_in  # noqa: E402
from ivit_hw.codegen.hls.lint_rules import Unit, run_rules  # noqa: E402
from ivit_hw.ir import save_graph  # noqa: E402

TEMPLATES = Path(lint.__file__).resolve().parents[2] / "templates" / "hls"
HEAD = "#include <ap_int.h>\n#include <hls_stream.h>\n"
STREAMS = HEAD + """
void produce(hls::stream<int> &s) { for (int i = 0; i < 4; i++) s.write(i); }
template <int N, class T> void pass(hls::stream<T> &in, hls::stream<T> &out) {
    for (int i = 0; i < N; i++) out.write(in.read());
}
void consume(hls::stream<int> &s, int out[4]) { for (int i = 0; i < 4; i++) { int v; s >> v; out[i] = v; } }
"""

# the streaming style of a generated project: config structs, dependent stream types, >> and <<
KERNELS = HEAD + """
struct cfg_a { typedef ap_int<8> x_t; typedef ap_int<16> out_t; static const int n = 4; };
struct cfg_b { typedef ap_int<16> x_t; typedef ap_int<8> out_t; static const int n = 4; };
namespace k {
template <class CFG> void scale(hls::stream<typename CFG::x_t> &in, hls::stream<typename CFG::out_t> &out) {
    for (int i = 0; i < CFG::n; i++) {
#pragma HLS PIPELINE II = 1
        typename CFG::x_t v;
        in >> v;
        typename CFG::out_t o = v * 2;
        out << o;
    }
}
template <int N, class T> void dup(hls::stream<T> &in, hls::stream<T> &a, hls::stream<T> &b) {
    for (int i = 0; i < N; i++) { T v = in.read(); a.write(v); b.write(v); }
}
template <int N, class A, class B, class O> void add(hls::stream<A> &a, hls::stream<B> &b, hls::stream<O> &o) {
    for (int i = 0; i < N; i++) o.write(a.read() + b.read());
}
}  // namespace k
void top(hls::stream<ap_int<8> > &x, hls::stream<ap_int<8> > &y) {
#pragma HLS INTERFACE axis port=x
#pragma HLS INTERFACE axis port=y
#pragma HLS DATAFLOW
    hls::stream<ap_int<8> > r0("r0"), r1("r1"), g("g");
    hls::stream<ap_int<16> > h("h");
DEPTH
    k::dup<4, ap_int<8> >(x, r0, r1);
    k::scale<cfg_a>(r0, h);
    k::scale<cfg_b>(h, g);
    k::add<4, ap_int<8>, ap_int<8>, ap_int<8> >(g, r1, y);
}
"""


def _lint(tmp_path: Path, code: str, top: str = "top", name: str = "top.cpp") -> list[lint.Finding]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / name).write_text(code)
    inp = lint.LintInput(src / name, [ap_include_dir(), TEMPLATES / "csim"], top, src)
    return lint.lint(inp)


def _rules(findings: list[lint.Finding]) -> set[str]:
    return {f.rule for f in findings if f.severity == "error"}


# (rule, bad snippet, good snippet): the bad one must raise exactly that rule, the good one nothing.
CASES = [
    ("dynamic-alloc", HEAD + "void top(int a[4]) { int *p = new int[4]; p[0] = a[0]; a[1] = p[0]; delete[] p; }",
     HEAD + "void top(int a[4]) { int p[4]; p[0] = a[0]; a[1] = p[0]; }"),
    ("dynamic-alloc", HEAD + "#include <vector>\nvoid top(int a[4]) { std::vector<int> v(4); a[0] = v[1]; }",
     HEAD + "void top(int a[4]) { int v[4] = {0}; a[0] = v[1]; }"),
    ("dynamic-alloc", HEAD + "#include <cstdlib>\nvoid top(int a[4]) { void *p = std::malloc(16); "
     "a[0] = p ? 1 : 0; std::free(p); }",
     HEAD + "void top(int a[4]) { a[0] = 1; }"),
    ("recursion", HEAD + "int f(int n) { return n <= 0 ? 0 : n + f(n - 1); }\nvoid top(int &x) { x = f(x); }",
     HEAD + "int f(int n) { int s = 0; for (int i = 1; i <= 8; i++) s += i <= n ? i : 0; return s; }\n"
     "void top(int &x) { x = f(x); }"),
    ("recursion", HEAD + "int g(int n);\nint h(int n) { return n > 0 ? g(n - 1) : 0; }\n"
     "int g(int n) { return n > 0 ? h(n - 1) : 1; }\nvoid top(int &x) { x = g(x); }",
     HEAD + "int h(int n) { return n - 1; }\nint g(int n) { return h(n) + 1; }\nvoid top(int &x) { x = g(x); }"),
    ("recursion", HEAD + "template <class T> void f(const T a[4], T o[4], int k) { f<T>(a, o, k - 1); }\n"
     "void top(int a[4], int o[4]) { f<int>(a, o, 1); }",
     HEAD + "template <class T> void f(const T a[4], T o[4]) { for (int i = 0; i < 4; i++) o[i] = a[i]; }\n"
     "template <class T> void f(const T a[4], T o[4], int k) { f<T>(a, o); o[0] = o[0] + k; }\n"
     "void top(int a[4], int o[4]) { f<int>(a, o, 1); }"),
    ("top-pointer", HEAD + "void top(int *a) { int *p = a + 1; p[0] = 2; }",
     HEAD + "void top(int a[4]) { a[1] = 2; }"),
    ("top-pointer", HEAD + "void top(int *a) { a++; a[0] = 2; }", HEAD + "void top(int *a) { a[1] = 2; }"),
    ("top-pointer", HEAD + "void top(int **a) { a[0][0] = 2; }", HEAD + "void top(int a[2][2]) { a[0][0] = 2; }"),
    ("pipeline-placement", HEAD + "void top(int a[4]) {\n#pragma HLS PIPELINE II=1\n"
     "    for (int i = 0; i < 4; i++) a[i] = i;\n}",
     HEAD + "void top(int a[4]) {\n    for (int i = 0; i < 4; i++) {\n#pragma HLS PIPELINE II=1\n"
     "        a[i] = i;\n    }\n}"),
    ("pipeline-placement", HEAD + '#define BODY(B) _Pragma("HLS PIPELINE II = 1") B\n'
     "void top(int a[4]) { BODY(a[0] = 1;) }",
     HEAD + '#define LOOP(B) for (int i = 0; i < 4; i++) { _Pragma("HLS PIPELINE II = 1") B }\n'
     "void top(int a[4]) { LOOP(a[i] = i;) }"),
    ("pipeline-placement", HEAD + "void top(int a[4]) {\n#pragma HLS UNROLL\n    a[0] = 1;\n}",
     HEAD + "void top(int a[4]) {\n    for (int i = 0; i < 4; i++) {\n#pragma HLS UNROLL\n        a[i] = 1;\n"
     "    }\n}"),
    ("partition-top-arg", HEAD + "void top(int a[16], int &s) {\n#pragma HLS ARRAY_PARTITION variable=a cyclic "
     "factor=4\n    s = a[0] + a[1];\n}",
     HEAD + "void top(int a[16], int &s) {\n    int b[16];\n#pragma HLS ARRAY_PARTITION variable=b cyclic factor=4\n"
     "    for (int i = 0; i < 16; i++) b[i] = a[i];\n    s = b[0] + b[1];\n}"),
    ("pragma-target", HEAD + "void top(int a[4]) {\n    int b[4];\n#pragma HLS ARRAY_PARTITION variable=bb complete\n"
     "    b[0] = 1; a[0] = b[0];\n}",
     HEAD + "void top(int a[4]) {\n    int b[4];\n#pragma HLS ARRAY_PARTITION variable=b complete\n"
     "    b[0] = 1; a[0] = b[0];\n}"),
    ("dataflow-spsc", STREAMS + "void top(int o1[4], int o2[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    produce(s);\n    consume(s, o1);\n    consume(s, o2);\n}",
     STREAMS + "void dup(hls::stream<int> &s, hls::stream<int> &a, hls::stream<int> &b) {\n"
     "    for (int i = 0; i < 4; i++) { int v = s.read(); a.write(v); b << v; }\n}\n"
     "void two(hls::stream<int> &a, hls::stream<int> &b, int o1[4], int o2[4]) { consume(a, o1); consume(b, o2); }\n"
     "void top(int o1[4], int o2[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s, a, b;\n"
     "    produce(s);\n    dup(s, a, b);\n    two(a, b, o1, o2);\n}"),
    ("dataflow-spsc", STREAMS + "void top(int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    produce(s);\n    produce(s);\n    consume(s, o);\n}",
     STREAMS + "void top(int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    produce(s);\n    consume(s, o);\n}"),
    ("dataflow-spsc", STREAMS + "void top(hls::stream<int> &in, int o[4], int o2[4]) {\n#pragma HLS DATAFLOW\n"
     "    hls::stream<int> a, b;\n    pass<4, int>(in, a);\n    consume(a, o);\n    pass<4, int>(in, b);\n"
     "    consume(b, o2);\n}",
     STREAMS + "void top(hls::stream<int> &in, int o[4]) {\n#pragma HLS DATAFLOW\n"
     "    hls::stream<int> a;\n    pass<4, int>(in, a);\n    consume(a, o);\n}"),
    ("dataflow-bypass", STREAMS + "void top(int o1[4], int o2[4]) {\n#pragma HLS DATAFLOW\n"
     "    hls::stream<int> s, t;\n    produce(s);\n    produce(t);\n    consume(t, o1);\n    consume(s, o2);\n}",
     STREAMS + "void top(int o1[4], int o2[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s, t;\n"
     "#pragma HLS STREAM variable=s depth=8\n"
     "    produce(s);\n    produce(t);\n    consume(t, o1);\n    consume(s, o2);\n}"),
    ("dataflow-bypass", KERNELS.replace("DEPTH", ""),
     KERNELS.replace("DEPTH", "#pragma HLS STREAM variable=r1 depth=16")),
    ("dataflow-form", STREAMS + "void top(bool on, int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    if (on) produce(s);\n    consume(s, o);\n}",
     STREAMS + "void top(int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    produce(s);\n    consume(s, o);\n}"),
    ("dataflow-form", STREAMS + "void top(int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    consume(s, o);\n    produce(s);\n}",
     STREAMS + "void top(int o[4]) {\n#pragma HLS DATAFLOW\n    hls::stream<int> s;\n"
     "    produce(s);\n    consume(s, o);\n}"),
    ("static-state", HEAD + "void top(int &x) { static int count = 0; count++; x = count; }",
     HEAD + "void top(int &x) { static const int step = 1; x = x + step; }"),
    ("static-state", HEAD + "int total;\nvoid top(int &x) { total += x; x = total; }",
     HEAD + "const int total = 3;\nvoid top(int &x) { x = x + total; }"),
    ("system-call", HEAD + "#include <cstdio>\nvoid top(int &x) { std::printf(\"%d\\n\", x); x = 1; }",
     HEAD + "void top(int &x) { x = 1; }"),
    ("system-call", HEAD + "#include <cstdlib>\nvoid top(int &x) { if (x < 0) std::abort(); x = 1; }",
     HEAD + "void top(int &x) { x = x < 0 ? 0 : 1; }"),
    ("unsupported-construct", HEAD + "void top(int &x) { if (x < 0) throw 1; x = 1; }",
     HEAD + "void top(int &x) { x = x < 0 ? 0 : 1; }"),
    ("unsupported-construct",
     HEAD + "struct B { virtual int f() { return 1; } };\nvoid top(int &x) { B b; x = b.f(); }",
     HEAD + "struct B { int f() { return 1; } };\nvoid top(int &x) { B b; x = b.f(); }"),
    ("unsupported-construct", HEAD + "int one() { return 1; }\nvoid top(int &x) { int (*f)() = one; x = f(); }",
     HEAD + "int one() { return 1; }\nvoid top(int &x) { x = one(); }"),
    ("unsupported-construct", HEAD + "void top(int a[2], int &x) { x = *reinterpret_cast<short *>(a); }",
     HEAD + "void top(int a[2], int &x) { x = short(a[0]); }"),
]


@pytest.mark.parametrize("rule,bad,good", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_catches_bad_snippet_and_passes_good_one(tmp_path, rule, bad, good):
    found = _lint(tmp_path, bad)
    assert _rules(found) == {rule}, "\n".join(map(str, found))
    assert all(re.fullmatch(r"top\.cpp:\d+: [a-z-]+: .+", str(f)) and f.line > 0 for f in found)
    clean = _lint(tmp_path, good)
    assert clean == [], "\n".join(map(str, clean))


def test_every_rule_has_a_bad_snippet():
    assert {c[0] for c in CASES} | {"parse"} == set(lint.RULES)


def test_parse_errors_are_findings_and_nothing_else(tmp_path):
    found = _lint(tmp_path, HEAD + "void top(int &x) { x = undeclared_name + 1; new int; }")
    assert [f.rule for f in found] == ["parse"] and "undeclared_name" in found[0].message
    assert str(found[0]).startswith("top.cpp:3: parse: ")


def test_array_bypass_is_a_warning_at_the_declaration(tmp_path):
    code = HEAD + """
void fill(int o[4]) { for (int i = 0; i < 4; i++) o[i] = i; }
void copy(const int a[4], int o[4]) { for (int i = 0; i < 4; i++) o[i] = a[i]; }
void add(const int a[4], const int b[4], int o[4]) { for (int i = 0; i < 4; i++) o[i] = a[i] + b[i]; }
void top(int out[4]) {
#pragma HLS DATAFLOW
    int x[4], y[4], z[4];
    fill(x);
    fill(y);
    copy(y, z);
    add(x, z, out);
}
"""
    found = _lint(tmp_path, code)
    assert [(f.rule, f.severity, f.line) for f in found] == [("dataflow-bypass", "warning", 9)], found
    assert "'x' bypasses 2 process(es)" in found[0].message and "warning: " in str(found[0])


def test_testbench_files_are_out_of_scope(tmp_path):
    src = tmp_path / "src"
    (src / "ivit").mkdir(parents=True)
    (src / "ivit" / "tb_util.h").write_text("#include <vector>\ninline int helper() { std::vector<int> v(2); "
                                            "static int n = 0; return int(v.size()) + n++; }\n")
    found = _lint(tmp_path, HEAD + '#include "ivit/tb_util.h"\nvoid top(int &x) { x = 1; }')
    assert found == []


def test_pragma_reader():
    text = ('int a; // #pragma HLS PIPELINE\n/* #pragma HLS UNROLL */\n#pragma HLS ARRAY_PARTITION variable=w '
            'cyclic factor = 4 dim=1\n#define L(B) for (int i = 0; i < 4; i++) { _Pragma("HLS PIPELINE II = 1") B }\n'
            '#pragma omp parallel\n')
    ps = pragmas_in(text)
    assert [(p.name, p.line) for p in ps] == [("ARRAY_PARTITION", 3), ("PIPELINE", 4)]
    assert ps[0].options == {"variable": "w", "factor": "4", "dim": "1"} and ps[0].flags == {"cyclic"}
    assert ps[1].macro_in_loop is True and ps[1].options == {"ii": "1"}
    assert in_loop_text("for (int i = 0; i < (n); i++)") and not in_loop_text("for (;;) { x; } y;")
    assert in_loop_text("do { if (a) {") and not in_loop_text("if (a) { b; }")


@pytest.fixture(scope="module")
def glue_project(tmp_path_factory):
    out = tmp_path_factory.mktemp("lint") / "prj"
    code = main(["codegen", str(_glue_dir(tmp_path_factory)), "--target", "hls", "-o", str(out),
                 "--config", str(_config(tmp_path_factory))])
    assert code == 0
    return out


def _glue_dir(factory) -> Path:
    folder = factory.mktemp("glue_ir") / "g.ivit"
    save_graph(glue_graph(), folder)
    return folder


def _config(factory) -> Path:
    cfg = factory.mktemp("cfg") / "hls.yaml"
    # the array top (its bypass warnings are checked below); the streaming top's lint: test_hls_stream.py
    cfg.write_text("parallelism: {fc: 2}\ntestbench: {samples: 2, trace_samples: 1}\ndataflow: tensor\n")
    return cfg


def test_generated_project_and_every_kernel_header_lint_without_errors(glue_project):
    inp = lint.project_input(glue_project)
    unit = Unit(lint.parse(inp), inp)
    linted = {Path(f).name for f, ok in unit._scope.items() if ok}
    headers = {p.name for p in (TEMPLATES / "include" / "ivit").glob("*.h")} - {"trace.h", "tb_util.h"}
    assert headers <= linted and "ivit_top.cpp" in linted and "parameters.h" in linted
    assert not linted & {"trace.h", "tb_util.h", "hls_stream.h", "ap_int.h"}
    found = run_rules(unit)
    assert [f for f in found if f.severity == "error"] == []
    # the array design of today: the fan-out copy for argmax and the outputs skip one process each
    assert sorted((f.rule, f.message.split("'")[1]) for f in found) == [
        ("dataflow-bypass", "t_a_b_2_u1"), ("dataflow-bypass", "t_pred"), ("dataflow-bypass", "t_probs")]


def test_verify_lint_only_says_clean(capsys, glue_project):
    assert main(["verify", str(glue_project), "--lint-only"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "lint clean (3 warning(s))" and not any("passed" in ln for ln in out)


def test_verify_fails_on_a_finding_before_the_csim(capsys, glue_project, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(glue_project, bad)
    top = bad / "firmware" / "ivit_top.cpp"
    text = top.read_text()
    top.write_text(text.replace("#pragma HLS DATAFLOW\n", "#pragma HLS DATAFLOW\n    static int calls = 0;\n"
                                "    calls++;\n", 1))
    assert main(["verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "firmware/ivit_top.cpp:26: static-state: 'calls' is mutable state" in out
    assert "firmware/ivit_top.cpp:27: dataflow-form:" in out
    assert out.strip().splitlines()[-1] == "lint failed: 2 error(s), 3 warning(s)"
    assert not (bad / "csim_build").exists()  # the C-simulation never started


def test_verify_without_libclang_says_so_in_one_line(capsys, glue_project, monkeypatch):
    def missing():
        raise ModuleNotFoundError("the HLS lint needs libclang: pip install 'ivit-hw[hls]' (libclang==18.1.1)",
                                  name="clang")

    monkeypatch.setattr(lint, "_cindex", missing)
    assert main(["verify", str(glue_project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libclang" in err[0] and "--no-lint" in err[0]
