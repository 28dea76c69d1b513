"""The ``goldens`` and ``check-goldens`` subcommands: write the conformance
suite, and run an executor on a suite (or one case file) bit-exactly."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from ..errors import UserValueError
from .conformance import EXECUTORS, check_case, load_suite, registry_ops_without_cases, write_suite


def _goldens_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT", help="suite folder to write (index.yaml + cases/; replaced atomically)")
    p.add_argument("--ops", nargs="+", metavar="OP", help="only these ops (default: every op of the registry)")
    p.add_argument("--quiet", action="store_true", help="no per-case progress lines")


def cmd_goldens(args: argparse.Namespace) -> int:
    """Write the conformance suite (deterministic: the same bytes on every run)."""
    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    entries = write_suite(args.out_dir, args.ops, None if args.quiet else progress)
    rows = sum(e["rows"] for e in entries)
    print(f"wrote {args.out_dir}: {len(entries)} cases, {len({e['op'] for e in entries})} ops, {rows} rows")
    return 0


def _check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", metavar="SUITE", help="a folder written by 'ivit-hw goldens', or one case .npz")
    p.add_argument("--executor", choices=sorted(EXECUTORS), default="numpy",
                   help="what to check: the numpy golden executor (fast or spec path) or the torch executor")
    p.add_argument("--ops", nargs="+", metavar="OP", help="only the cases of these ops")


def cmd_check_goldens(args: argparse.Namespace) -> int:
    """Run every case with ``--executor``; exit 0 when all are bit-exact, 1 on a mismatch, 2 on bad input."""
    cases = load_suite(args.suite, args.ops)
    try:
        executor = EXECUTORS[args.executor]()
    except ImportError as exc:
        raise UserValueError(f"--executor {args.executor} is not available here: {exc}") from None
    failed, per_op = [], Counter()
    for sc in cases:
        problem = check_case(sc.case, executor)
        per_op[sc.case.op] += 1
        if problem is not None:
            failed.append(f"{sc.name}: {problem}")
    for line in failed:
        print(f"FAIL {line}")
    print(f"{args.executor}: {len(cases) - len(failed)}/{len(cases)} cases bit-exact over {len(per_op)} ops")
    if args.ops is None and not args.suite.endswith(".npz"):
        missing = registry_ops_without_cases(cases)
        if missing:
            print(f"note: no case for op(s) {missing}")
    return 1 if failed else 0


COMMANDS = [
    ("goldens", "write the conformance suite of golden vectors (every op, several configurations)",
     _goldens_args, cmd_goldens),
    ("check-goldens", "run an executor on a conformance suite and compare bit-exactly", _check_args,
     cmd_check_goldens),
]
