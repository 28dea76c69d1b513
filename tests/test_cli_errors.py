"""Internal errors are not dressed as user errors (issue 19, item 6).

Only :class:`ivit_hw.errors.UserError` gives the one-line exit 2; a plain
``ValueError`` / ``TypeError`` / ``OverflowError`` escaping a command is a bug:
its traceback is printed with a line asking to report it, exit status 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw import cli
from ivit_hw.errors import EXIT_INTERNAL, UserError, UserValueError
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from tiny_graphs import tiny_graph, tiny_input  # noqa: E402


def _register(monkeypatch, name, handler):
    cli._load_plugins()  # first, so the plugins land in the real list, not in the patched copy
    monkeypatch.setattr(cli, "COMMANDS", list(cli.COMMANDS))
    cli.register_command((name, "test command", lambda p: None, handler))


@pytest.mark.parametrize("exc", [ValueError("boom inside"), TypeError("boom inside"),
                                 OverflowError("boom inside"), KeyError("boom inside")])
def test_an_internal_error_prints_its_traceback_and_asks_for_a_report(capsys, monkeypatch, exc):
    def buggy(_args):
        raise exc

    _register(monkeypatch, "buggy", buggy)
    code, _, err = run_cli(capsys, "buggy")
    assert code == EXIT_INTERNAL == 3, err
    assert "Traceback (most recent call last)" in err and "boom inside" in err, err
    assert not err.startswith("ivit-hw: error: "), err
    last = err.strip().splitlines()[-1]
    assert "internal error" in last and "please report" in last, err


def test_a_user_error_is_one_line_exit_2(capsys, monkeypatch):
    def bad_input(_args):
        raise UserValueError("--thing foo: not a thing")

    _register(monkeypatch, "picky", bad_input)
    code, _, err = run_cli(capsys, "picky")
    assert_one_line_error(code, err, "--thing foo: not a thing")


def test_the_existing_input_errors_are_user_errors():
    from ivit_hw.eda import EdaMissing
    from ivit_hw.frontend.checkpoint import CheckpointError
    from ivit_hw.frontend.data import DataError
    from ivit_hw.ir.types import IRError
    from ivit_hw.paths import PathError

    for kind in (IRError, PathError, DataError, CheckpointError, EdaMissing):
        assert issubclass(kind, UserError), kind
    assert cli.UserError is UserError


def test_a_bug_inside_a_kernel_is_not_reported_as_a_bad_graph(capsys, tmp_path, monkeypatch):
    from ivit_hw.runtime import node_builders

    save_graph(verify(tiny_graph()), tmp_path / "tiny")
    np.save(tmp_path / "x.npy", tiny_input())

    def broken(ctx):
        def impl(args, trace):
            raise TypeError("unsupported operand in a kernel")
        return impl

    op = tiny_graph().nodes[0].op
    monkeypatch.setitem(node_builders.BUILDERS, op, broken)
    code, _, err = run_cli(capsys, "run", tmp_path / "tiny", "--input", tmp_path / "x.npy", "--output",
                           tmp_path / "y.npz")
    assert code == EXIT_INTERNAL, err
    assert "Traceback" in err and "unsupported operand in a kernel" in err, err
    assert not (tmp_path / "y.npz").exists()
