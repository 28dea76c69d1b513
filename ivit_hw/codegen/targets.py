"""The registry of codegen targets and the manifest every rendered folder carries.

A target module (e.g. ``ivit_hw.codegen.hls``) calls :func:`register_target`
at import time. A rendered output folder always holds :data:`MANIFEST`, a
YAML file whose ``target`` key tells ``ivit-hw verify`` which target made it.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ir.graph import Graph
from ..ir.serialize import read_yaml_file
from ..ir.types import IRError

MANIFEST = "manifest.yaml"
# Modules that register a target when imported; a module that is absent is skipped.
TARGET_MODULES = ("ivit_hw.codegen.hls", "ivit_hw.codegen.verilog")


@dataclass(frozen=True)
class Target:
    """One codegen target.

    ``add_codegen_arguments`` / ``add_verify_arguments`` add the target's own
    options to the shared ``codegen`` / ``verify`` parsers (option names must
    not clash between targets; shared ones live in :mod:`.commands`).
    ``render(graph, tmp_dir, args)`` writes every file into ``tmp_dir``
    (a fresh temporary folder that replaces ``-o OUT`` on success) and returns
    the manifest body (``target`` is added). ``verify(out_dir, manifest, args)``
    returns the exit status (0 only when everything is bit-exact).
    """

    name: str
    help: str
    render: Callable[[Graph, Path, argparse.Namespace], dict[str, Any]]
    verify: Callable[[Path, dict[str, Any], argparse.Namespace], int]
    add_codegen_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    add_verify_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None


TARGETS: dict[str, Target] = {}
_loaded = False


def register_target(target: Target) -> Target:
    """Add ``target`` (once per name)."""
    if target.name in TARGETS:
        raise ValueError(f"codegen target {target.name!r} registered twice")
    TARGETS[target.name] = target
    return target


def load_targets() -> dict[str, Target]:
    """Import every module of :data:`TARGET_MODULES` once; return the registry."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module_name in TARGET_MODULES:
            try:
                importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name is not None and module_name.startswith(exc.name):
                    continue
                raise
    return TARGETS


def get_target(name: str) -> Target:
    """The target called ``name``; IRError listing the known ones otherwise."""
    targets = load_targets()
    try:
        return targets[name]
    except KeyError:
        raise IRError(f"unknown codegen target {name!r}; known targets: {sorted(targets)}") from None


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """The manifest of a rendered folder; IRError naming the path when it is missing or malformed."""
    path = Path(out_dir) / MANIFEST
    if not Path(out_dir).is_dir():
        what = "is a file, not a folder" if Path(out_dir).exists() else "no such folder"
        raise IRError(f"{out_dir}: {what} (expected the output of 'ivit-hw codegen')")
    body = read_yaml_file(path, "not a folder written by 'ivit-hw codegen'")
    if not isinstance(body, dict) or not isinstance(body.get("target"), str):
        raise IRError(f"{path}: missing the 'target' key")
    return body
