"""Options of the HLS target: ``--top``, ``--part``, ``--clock``, ``--tb-inputs``, ``--allow-overfit``
and the ``--config`` YAML (per-layer parallelism or a DSP budget, weight placement, testbench
samples). Every bad value is an IRError naming the key."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...hwplan import PlanConfig
from ...ir.types import IRError

DEFAULT_PART = "xczu9eg-ffvb1156-2-e"
DEFAULT_CLOCK_NS = 5.0
WEIGHT_PLACEMENTS = ("auto", "on_chip", "off_chip")
CONFIG_KEYS = ("parallelism", "dsp_budget", "weights", "testbench", "part", "clock_ns", "top", "dataflow", "fifo_depth")
DATAFLOWS = ("stream", "tensor")
TESTBENCH_KEYS = ("samples", "trace_samples", "seed")


@dataclass(frozen=True)
class HlsOptions:
    """Everything that shapes one render besides the graph."""

    top: str = "model"
    part: str = DEFAULT_PART
    clock_ns: float = DEFAULT_CLOCK_NS
    default_par: int = 1
    layer_par: tuple[tuple[str, int], ...] = ()
    samples: int = 8
    trace_samples: int = 4
    seed: int = 0
    dsp_budget: int | None = None
    weights: str = "auto"  # auto: on chip when the plan fits the part so, else the GEMM weights off chip
    allow_overfit: bool = True
    dataflow: str = "stream"
    fifo_depth: int = 2
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def parallelism(self, node: str) -> int:
        """The parallelism of ``node``: the first matching pattern of the config, else the default."""
        for pattern, par in self.layer_par:
            if fnmatch.fnmatchcase(node, pattern):
                return par
        return self.default_par

    def plan_config(self) -> PlanConfig:
        """The hardware plan's config of these options: the GEMMs' parallelism (globs first, then the
        default) or the DSP budget; one lane for every other op (the HLS element kernels)."""
        par = {**dict(self.layer_par), "default": self.default_par}
        return PlanConfig(par, self.dsp_budget, self.weights, self.fifo_depth, element_lanes=False)


def _pos_int(value: Any, key: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise IRError(f"hls config: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_config(doc: Any, where: str = "hls config") -> dict[str, Any]:
    """Validate a config mapping; returns the keyword arguments of :class:`HlsOptions` it sets."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise IRError(f"{where}: expected a mapping at the top level")
    unknown = sorted(set(doc) - set(CONFIG_KEYS))
    if unknown:
        raise IRError(f"{where}: unknown key(s) {unknown}; known: {list(CONFIG_KEYS)}")
    out: dict[str, Any] = {}
    par = doc.get("parallelism", {})
    if isinstance(par, int) and not isinstance(par, bool):
        out["default_par"] = _pos_int(par, "parallelism")
    elif isinstance(par, dict):
        layers = []
        for key, value in par.items():
            if key == "default":
                out["default_par"] = _pos_int(value, "parallelism.default")
            else:
                layers.append((str(key), _pos_int(value, f"parallelism[{key!r}]")))
        out["layer_par"] = tuple(layers)
    else:
        raise IRError(f"{where}: parallelism must be an integer or a mapping of node patterns to integers")
    tb = doc.get("testbench", {}) or {}
    if not isinstance(tb, dict):
        raise IRError(f"{where}: testbench must be a mapping")
    bad = sorted(set(tb) - set(TESTBENCH_KEYS))
    if bad:
        raise IRError(f"{where}: unknown testbench key(s) {bad}; known: {list(TESTBENCH_KEYS)}")
    if "samples" in tb:
        out["samples"] = _pos_int(tb["samples"], "testbench.samples")
    if "trace_samples" in tb:
        out["trace_samples"] = _pos_int(tb["trace_samples"], "testbench.trace_samples", 0)
    if "seed" in tb:
        out["seed"] = _pos_int(tb["seed"], "testbench.seed", 0)
    if "dsp_budget" in doc:
        out["dsp_budget"] = _pos_int(doc["dsp_budget"], "dsp_budget")
    if "weights" in doc:
        if doc["weights"] not in WEIGHT_PLACEMENTS:
            raise IRError(f"{where}: weights must be one of {', '.join(WEIGHT_PLACEMENTS)}, got {doc['weights']!r}")
        out["weights"] = doc["weights"]
    if "dataflow" in doc:
        if doc["dataflow"] not in DATAFLOWS:
            raise IRError(f"{where}: dataflow must be stream or tensor, got {doc['dataflow']!r}")
        out["dataflow"] = doc["dataflow"]
    if "fifo_depth" in doc:
        out["fifo_depth"] = _pos_int(doc["fifo_depth"], "fifo_depth")
    if "part" in doc:
        if not isinstance(doc["part"], str) or not doc["part"]:
            raise IRError(f"{where}: part must be a non-empty string")
        out["part"] = doc["part"]
    if "clock_ns" in doc:
        out["clock_ns"] = _clock(doc["clock_ns"], "clock_ns")
    if "top" in doc:
        out["top"] = str(doc["top"])
    return out


def _clock(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) < 1000:
        raise IRError(f"hls config: {key} must be a clock period in ns (0, 1000), got {value!r}")
    return float(value)


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read ``--config YAML`` (None: no settings)."""
    if path is None:
        return {}
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IRError(f"{p}: cannot read the config ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise IRError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_config(doc, str(p))


def options_from(config: dict[str, Any], top: str | None = None, part: str | None = None,
                 clock: float | None = None, allow_overfit: bool = True) -> HlsOptions:
    """Options from a parsed config, command-line values winning."""
    kwargs = dict(config, allow_overfit=allow_overfit)
    if top is not None:
        kwargs["top"] = top
    if part is not None:
        kwargs["part"] = part
    if clock is not None:
        kwargs["clock_ns"] = _clock(clock, "--clock")
    return HlsOptions(**kwargs)
