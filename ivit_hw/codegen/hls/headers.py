"""Where the ``ap_int`` headers come from, and the set-up step that extracts them.

Vitis users have ``$XILINX_HLS/include``. Without Vitis, the Apache-2.0
``ap_types`` headers inside the ``hls4ml==1.3.0`` wheel are extracted into
a cache (``make hls-headers``); that wheel's ``hls_stream.h`` is skipped
(the project ships its own C-sim shim). Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from ...ir.types import IRError

WHEEL_PREFIX = "hls4ml/templates/vivado/ap_types/"
SKIP = ("hls_stream.h",)
REPO_CACHE = Path(__file__).resolve().parents[3] / ".cache" / "ap_types"
USER_CACHE = Path.home() / ".cache" / "ivit_hw" / "ap_types"


def extract_ap_types(wheel: str | Path, dest: str | Path) -> Path:
    """Extract the ap_types folder of the hls4ml wheel into ``dest`` (without hls_stream.h)."""
    dest = Path(dest)
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(WHEEL_PREFIX) and not m.endswith("/")]
        if not members:
            raise IRError(f"{wheel}: holds no {WHEEL_PREFIX} folder")
        for m in members:
            rel = m[len(WHEEL_PREFIX):]
            if Path(rel).name in SKIP:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(m))
    return dest


def ap_include_dir() -> Path:
    """The folder holding ``ap_int.h``: $XILINX_HLS/include, $IVIT_HW_AP_TYPES, the repo cache, the user cache."""
    candidates = []
    if os.environ.get("XILINX_HLS"):
        candidates.append(Path(os.environ["XILINX_HLS"]) / "include")
    if os.environ.get("IVIT_HW_AP_TYPES"):
        candidates.append(Path(os.environ["IVIT_HW_AP_TYPES"]))
    candidates += [REPO_CACHE, USER_CACHE]
    for c in candidates:
        if (c / "ap_int.h").is_file():
            return c
    raise IRError("ap_int headers not found: set XILINX_HLS, or run 'make hls-headers' "
                  f"(extracts them into {REPO_CACHE})")

