"""Checks on the paths a command reads and writes, done before any long work.

A command that trains for minutes and then fails to write its result wastes
the user's time; these checks run first and raise :class:`PathError` (a
user error: one line naming the option and the path, exit 2 from the CLI).
Nothing here creates a folder that would stay behind: writability is probed
with a temporary folder that is removed at once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UserValueError

__all__ = ["PathError", "check_output_file", "check_output_folder", "graph_folder"]

GRAPH_FILES = ("graph.yaml", "constants.npz")


class PathError(UserValueError):
    """An output or input path that cannot be used as asked."""


def _label(option: str | None, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def _check_parent(path: Path, option: str | None) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we can create entries in."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PathError(f"{_label(option, path)}: {ancestor} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".ivit-hw-probe-", dir=ancestor)
    except OSError as exc:
        raise PathError(f"{_label(option, path)}: cannot write in {ancestor} ({exc.strerror or exc})") from None
    os.rmdir(probe)


def check_output_folder(path: str | os.PathLike[str], option: str | None = None, marker: str | None = None) -> Path:
    """``path`` can become an output folder: it is not a file and its location is writable.

    With ``marker`` (the file this tool writes into such a folder), an existing non-empty
    folder without it is refused, as the final atomic replace would refuse it after the work.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise PathError(f"{_label(option, p)}: exists and is a file; give a folder")
    if marker is not None and p.is_dir() and any(p.iterdir()) and not (p / marker).is_file():
        raise PathError(f"{_label(option, p)}: refusing to replace a non-empty folder without {marker}; "
                        "give a new or empty folder")
    _check_parent(p, option)
    return p


def check_output_file(path: str | os.PathLike[str], option: str | None = None,
                      suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` can be written as a file (of one of ``suffixes`` when given)."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise PathError(f"{_label(option, p)}: expected a file name ending in {' or '.join(suffixes)}")
    if p.is_dir():
        raise PathError(f"{_label(option, p)}: is a folder; give a file name")
    _check_parent(p, option)
    return p


def graph_folder(path: str | os.PathLike[str]) -> Path:
    """The graph folder meant by ``path``: the folder itself, or the folder of its graph.yaml / constants.npz."""
    p = Path(path)
    if p.is_file() and p.name in GRAPH_FILES:
        return p.parent
    if p.is_file():
        raise PathError(f"{p}: is a file; give the graph folder (with {' and '.join(GRAPH_FILES)})")
    return p
