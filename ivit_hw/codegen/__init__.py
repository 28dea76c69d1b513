"""Renderers from the IR to hardware sources (HLS C++, Verilog).

Each target is a :class:`~ivit_hw.codegen.targets.Target` registered in
:data:`~ivit_hw.codegen.targets.TARGETS` by its own module (listed in
:data:`~ivit_hw.codegen.targets.TARGET_MODULES`). The ``codegen`` and
``verify`` subcommands (:mod:`ivit_hw.codegen.commands`) dispatch on it.
Renderers read widths from the analysed graph; they never recompute them.
"""

from .targets import MANIFEST, TARGETS, Target, get_target, read_manifest, register_target

__all__ = ["MANIFEST", "TARGETS", "Target", "get_target", "read_manifest", "register_target"]
