"""Helpers shared by the CLI tests (each test module puts ``tests/`` on ``sys.path`` to import this)."""

from __future__ import annotations

from ivit_hw import cli


def run_cli(capsys, *argv):
    """``ivit-hw ARGV`` in-process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *parts):
    """Exit 2 with one ``ivit-hw: error:`` line, no traceback, containing every part."""
    assert code == 2, err
    assert err.startswith("ivit-hw: error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    for part in parts:
        assert part in err, err
