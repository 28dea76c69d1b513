"""The registry holds every op fact and is filled by importing ivit_hw.ir alone;
role and attribute validation live in one place; kernel constants are one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ivit_hw import ops
from ivit_hw.ir import REGISTRY, IRError, get_op
from ivit_hw.ir import range_rules_nonlinear as rrn
from ivit_hw.ir import range_rules_norm as rrm
from ivit_hw.ir import scale_rules as sr

#: The closed op set of docs/semantics.md (spec sections 2-9 and the layout ops).
OP_NAMES = {"requantize", "linear", "matmul", "patch_embed", "add", "shiftmax", "shiftgelu", "ilayernorm",
            "ibert_softmax", "ibert_gelu", "ibert_layernorm", "l1_layernorm", "log_int_softmax", "log_attn_v",
            "reshape", "transpose", "concat", "slice", "gather", "reduce_sum", "argmax"}
FAMILIES = {"gemm", "requant", "softmax", "gelu", "norm", "layout", "elementwise", "reduce", "index"}


@pytest.mark.parametrize("module", ["ivit_hw.ir", "ivit_hw.ir.registry", "ivit_hw.ir.serialize"])
def test_importing_the_ir_fills_the_registry(module):
    code = f"import {module} as m, ivit_hw.ir as ir; print(len(ir.REGISTRY))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(len(OP_NAMES))


def test_registry_is_the_closed_op_set_with_every_fact():
    assert set(REGISTRY) == OP_NAMES
    for name, opdef in REGISTRY.items():
        assert opdef.name == name
        assert opdef.scale_rule is not None, name
        assert opdef.family in FAMILIES, name
        assert set(opdef.wide_internals) <= set(opdef.internals), name
        assert opdef.doc, name
    negative = {n for n, d in REGISTRY.items() if d.negative_scale}
    assert negative == {"ilayernorm", "ibert_layernorm", "l1_layernorm", "ibert_gelu"}
    out_scale = {(n, r.name) for n, d in REGISTRY.items() for r in d.roles if r.out_scale}
    assert out_scale == {("ilayernorm", "bias_int"), ("ibert_layernorm", "bias_int"), ("l1_layernorm", "bias_int")}


def test_internals_agreed_in_interfaces_are_listed():
    want = {
        "requantize": {"prod", "y", "prod_id", "y_id", "sum"},
        "shiftmax": {"esum"},
        "shiftgelu": {"d", "esum"},
        "ilayernorm": {"xsum", "mean", "yf", "sq"},
        "ibert_layernorm": {"xsum", "mean", "yf", "sq"},
        "l1_layernorm": {"xsum", "mean", "yf"},
        "ibert_gelu": {"poly", "g"},
        "ibert_softmax": {"p", "esum"},
        "log_int_softmax": {"p", "esum"},
    }
    for op, names in want.items():
        assert names <= set(get_op(op).internals), op


def test_kernel_constants_are_defined_once_in_ops():
    assert rrn.SIGMOID_SHIFT is ops.SIGMOID_SHIFT and ops.SIGMOID_SHIFT == 24
    assert rrn.ERF_SHIFT is ops.ERF_SHIFT and ops.ERF_SHIFT == 14
    assert rrn.LOG_CODE_MASKED is ops.LOG_CODE_MASKED and ops.LOG_CODE_MASKED == 16
    assert rrn.INT32_MAX is ops.INT32_MAX and rrm.IBERT_NORM_NUM is ops.IBERT_NORM_NUM
    assert sr.LOG_ATTN_SHIFT is ops.LOG_ATTN_SHIFT and sr.SIGMOID_SHIFT is ops.SIGMOID_SHIFT


def test_role_and_attribute_problems_come_from_one_place():
    op = get_op("requantize")
    assert op.role_problems({"acc": "a", "m": "m", "e": "e"}, "node 'n'") == []
    assert op.role_problems({"acc": "a", "m": "m", "scale": "s"}, "node 'n'") == [
        "node 'n': unknown input role(s) ['scale'] for op 'requantize'; its roles: "
        "['acc', 'identity', 'm', 'e', 'm_id', 'e_id']",
        "node 'n': missing input role(s) ['e'] for op 'requantize'"]
    problems = op.attr_problems({"out_bits": "8", "colour": 1}, "node 'n'")
    assert problems == ["node 'n': unknown attribute(s) ['colour'] for op 'requantize'; its attributes: "
                        "['out_bits', 'rounding']", "node 'n': attribute 'out_bits' must be an int, got '8'"]
    assert op.attr_problems({"out_bits": 8}, "n") == []
    assert op.attr_problems({"out_bits": 8}, "n", defaults=False) == [
        "n: missing attribute 'rounding' for op 'requantize'"]
    assert op.check_attrs({"out_bits": 8}, "n") == {"out_bits": 8, "rounding": "half_even"}
    assert op.with_defaults({"zz": 1, "out_bits": 8}) == {"out_bits": 8, "rounding": "half_even", "zz": 1}
    with pytest.raises(IRError, match="node 'n': unknown input role"):
        op.check_roles({"acc": "a", "m": "m", "e": "e", "bogus": "b"}, "node 'n'")
    with pytest.raises(IRError, match="attribute 'out_bits' must be an int"):
        op.check_attrs({"out_bits": True}, "n")  # a bool is not an int
