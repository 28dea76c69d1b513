"""Graphs on disk: a folder with ``graph.yaml`` (everything but the constant
values, human-readable) and ``constants.npz`` (one integer array per constant).

Format (version 1), keys in this order::

    ivit_hw_ir: 1
    name: deit_block
    inputs: [x]
    outputs: [y]
    meta: {...}                       # free-form, keys sorted
    tensors:
      x:
        shape: [65, 192]
        bits: 16
        signed: true
        scale: 0.0123                 # float, [per, channel, list] or null
        scale_axis: 1                 # only with a per-channel list: the axis it runs along
        range: [-32767, 32767]        # proven range (declared, for graph inputs)
        const: false
        doc: residual stream          # only when non-empty
    nodes:
    - name: ln1
      op: ilayernorm
      inputs: {x: x, bias_int: ln1.bias_int}
      output: ln1.out
      attrs: {iters: 10, k0: 65536, sqrt: iter}
      internals:
        y: {bits: 18, signed: true, range: [-65535, 65535]}

:func:`save_graph` writes the analysed graph: every tensor's proven range and
every node's internals (type and proven range), so a renderer reads widths
from the file and never reruns the analysis. :func:`load_graph` verifies
(structure, widths, stale ranges, scale rules) and returns the analysed graph.
Writing is deterministic (floats as ``repr``, zip entries with a fixed date)
and atomic (a temporary sibling folder renamed into place). Reading
validates everything and reports every problem in one :class:`IRError`.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .analysis import infer_ranges
from .graph import Graph, Node
from .registry import REGISTRY
from .types import MAX_BITS, WORD_BITS, InternalSpec, Interval, IntType, IRError, TensorSpec, is_int
from .verify import constant_problems, format_problems, semantic_problems, structural_problems

FORMAT_KEY = "ivit_hw_ir"
FORMAT_VERSION = 1
GRAPH_FILE = "graph.yaml"
CONSTANTS_FILE = "constants.npz"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_INT_DTYPES = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64))

_TOP_REQUIRED = (FORMAT_KEY, "name", "inputs", "outputs", "tensors", "nodes")
_TOP_OPTIONAL = ("meta",)
_TENSOR_REQUIRED = ("shape", "bits", "signed", "scale", "const")
_TENSOR_OPTIONAL = ("scale_axis", "range", "doc")
_NODE_REQUIRED = ("name", "op", "inputs", "output")
_NODE_OPTIONAL = ("attrs", "internals")
_INTERNAL_REQUIRED = ("bits", "signed")
_INTERNAL_OPTIONAL = ("range",)


# ----------------------------------------------------------------------------- deterministic files


def compact_int_array(values: Any, name: str = "array") -> np.ndarray:
    """``values`` in the smallest of int8, uint8, int16, uint16, int32, uint32, int64 holding them."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iub" and arr.dtype != object:
        raise IRError(f"{name}: expected integers, got dtype {arr.dtype}")
    if arr.size == 0:
        return np.array(arr, dtype=np.int64, order="C")
    lo, hi = int(arr.min()), int(arr.max())
    for dt in _INT_DTYPES:
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.array(arr, dtype=dt, order="C")
    raise IRError(f"{name}: values [{lo}, {hi}] do not fit int64")


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A ``.npz`` archive (readable by ``np.load``) with entries sorted by name and no timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            arr = np.asarray(arrays[name])
            np.lib.format.write_array(member, np.array(arr, order="C", copy=None), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def write_file_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling file and a rename (parents are created)."""
    path = Path(path)
    if path.is_dir():
        raise IRError(f"{path}: is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_folder(target: str | os.PathLike, marker: str) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``target`` in one rename.

    An existing ``target`` is replaced only when it is an empty folder or holds
    ``marker`` (a file this tool wrote there before); on any error the
    temporary folder is removed and ``target`` is left as it was. Missing
    parent folders are created when the body starts.
    """
    target = Path(target)
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise IRError(f"{target}: {parent} is not a folder")
    if target.exists():
        if not target.is_dir():
            raise IRError(f"{target}: exists and is not a folder")
        if any(target.iterdir()) and not (target / marker).is_file():
            raise IRError(f"{target}: refusing to replace a non-empty folder without {marker}")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{target.name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = parent / f".{target.name}.old-{secrets.token_hex(4)}"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------- writing


class _Flow(list):
    """A sequence written in flow style (``[a, b]``)."""


class _FlowMap(dict):
    """A mapping written in flow style (``{a: 1}``)."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # never emit &anchors / *aliases
        return True


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def _plain(value: Any, where: str) -> Any:
    """Meta values as plain YAML types (numpy scalars unwrapped, tuples as lists, dict keys sorted)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise IRError(f"{where}: meta keys must be strings")
        return {k: _plain(value[k], f"{where}.{k}") for k in sorted(value)}
    raise IRError(f"{where}: meta value of type {type(value).__name__} cannot be written to YAML")


def _attr_value(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return _Flow(int(x) for x in v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _tensor_doc(spec: TensorSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"shape": _Flow(int(d) for d in spec.shape), "bits": spec.dtype.bits,
                           "signed": spec.dtype.signed}
    if isinstance(spec.scale, tuple | list):
        doc["scale"] = _Flow(float(s) for s in spec.scale)
        doc["scale_axis"] = spec.scale_axis
    else:
        doc["scale"] = None if spec.scale is None else float(spec.scale)
    if spec.range is not None:
        doc["range"] = _Flow(spec.range.as_list())
    doc["const"] = bool(spec.const)
    if spec.doc:
        doc["doc"] = spec.doc
    return doc


def _ordered(keys: list[str], schema: tuple[str, ...]) -> list[str]:
    return [k for k in schema if k in keys] + [k for k in keys if k not in schema]


def _node_doc(node: Node) -> dict[str, Any]:
    opdef = REGISTRY.get(node.op)
    roles = tuple(r.name for r in opdef.roles) if opdef else ()
    attr_names = tuple(a.name for a in opdef.attrs) if opdef else ()
    internal_names = opdef.internals if opdef else ()
    internals = {}
    for key in _ordered(list(node.internals), internal_names):
        spec = node.internals[key]
        entry = _FlowMap(bits=spec.dtype.bits, signed=spec.dtype.signed)
        if spec.range is not None:
            entry["range"] = _Flow(spec.range.as_list())
        internals[key] = entry
    return {
        "name": node.name,
        "op": node.op,
        "inputs": _FlowMap((r, node.inputs[r]) for r in _ordered(list(node.inputs), roles)),
        "output": node.output,
        "attrs": _FlowMap((a, _attr_value(node.attrs[a])) for a in _ordered(list(node.attrs), attr_names)),
        "internals": internals,
    }


def graph_to_yaml(graph: Graph) -> str:
    """The ``graph.yaml`` text of ``graph`` as given (deterministic)."""
    doc = {
        FORMAT_KEY: FORMAT_VERSION,
        "name": graph.name,
        "inputs": _Flow(graph.inputs),
        "outputs": _Flow(graph.outputs),
        "meta": _plain(graph.meta, "meta"),
        "tensors": {name: _tensor_doc(spec) for name, spec in graph.tensors.items()},
        "nodes": [_node_doc(n) for n in graph.nodes],
    }
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=100)


def save_graph(graph: Graph, folder: str | os.PathLike, check: bool = True) -> Path:
    """Write the analysed ``graph`` to ``folder`` (``graph.yaml`` + ``constants.npz``), atomically.

    With ``check`` (default) the structure is verified first, so nothing is
    written that :func:`load_graph` would reject for its structure, and the
    proven range of every tensor and internal is computed and written (a
    graph with width violations is still written, for ``inspect``). With
    ``check=False`` the graph is written exactly as given (tests of broken files).
    """
    if check:
        problems = structural_problems(graph)
        if problems:
            raise IRError(format_problems(f"graph {graph.name!r}", problems))
        graph = infer_ranges(graph)
    text = graph_to_yaml(graph).encode("utf-8")
    consts = {name: compact_int_array(graph.constants[name], f"constant {name!r}") for name in graph.constants}
    blob = npz_bytes(consts)
    with atomic_folder(folder, GRAPH_FILE) as tmp:
        (tmp / GRAPH_FILE).write_bytes(text)
        (tmp / CONSTANTS_FILE).write_bytes(blob)
    return Path(folder)


# ----------------------------------------------------------------------------- reading


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml parses many times faster
    """A safe loader (libyaml's parser where PyYAML has it) that records duplicate mapping keys instead of
    silently keeping the last."""

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    self.duplicates.append(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
                seen.add(key)
            except TypeError:
                pass  # unhashable key: the base class reports it
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, problems: list[str]) -> Any:
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        problems.append(f"{GRAPH_FILE} is not valid YAML: {' '.join(str(exc).split())}")
        return None
    finally:
        loader.dispose()
    problems.extend(f"{GRAPH_FILE}: {d}" for d in loader.duplicates)
    return data


def read_yaml_file(path: str | os.PathLike, missing: str) -> Any:
    """The YAML document in ``path``; IRError naming the file (``missing`` says what its absence means)."""
    path = Path(path)
    if not path.is_file():
        raise IRError(f"{path.parent}: no {path.name} ({missing})")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IRError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


_UNREADABLE = np.empty(0)  # stands for an array already reported as unreadable


class _DamagedFile(Exception):
    """A member of an archive that cannot be read: the one problem worth reporting about the file."""


def _read_npz(path: Path, problems: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if not zipfile.is_zipfile(path):
        problems.append(f"{CONSTANTS_FILE} is not an .npz (zip) archive")
        return out
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    arr = npz[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                    raise _DamagedFile(f"{path}: member {key}.npy is damaged ({exc}); the file is corrupt, "
                                       "write or copy it again") from None
                if arr.dtype.kind not in "iu":
                    problems.append(f"constant {key!r}: {CONSTANTS_FILE} holds non-integer values "
                                    f"(dtype {arr.dtype}); constants must be integers")
                    out[key] = _UNREADABLE
                elif arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
                    problems.append(f"constant {key!r}: values exceed int64")
                    out[key] = _UNREADABLE
                else:
                    out[key] = arr.astype(np.int64)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        problems.append(f"{CONSTANTS_FILE} cannot be read: {exc}")
    return out


def _check_keys(entry: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...],
                problems: list[str]) -> bool:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping, got {type(entry).__name__}")
        return False
    ok = True
    missing = [k for k in required if k not in entry]
    if missing:
        problems.append(f"{where}: missing key(s) {missing}")
        ok = False
    unknown = [k for k in entry if k not in required + optional]
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}; known keys: {list(required + optional)}")
        ok = False
    return ok


def _parse_type(entry: dict, where: str, problems: list[str], limit: int = MAX_BITS) -> IntType | None:
    bits, signed = entry["bits"], entry["signed"]
    if not is_int(bits):
        problems.append(f"{where}: bits must be an int, got {bits!r}")
        return None
    if not 1 <= bits <= limit:
        problems.append(f"{where}: bits must be in [1, {limit}], got {bits}")
        return None
    if not isinstance(signed, bool):
        problems.append(f"{where}: signed must be true or false, got {signed!r}")
        return None
    try:
        return IntType(bits, signed)
    except IRError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _parse_range(value: Any, where: str, problems: list[str]) -> tuple[bool, Interval | None]:
    if value is None:
        return True, None
    if not (isinstance(value, list) and len(value) == 2 and all(is_int(v) for v in value)):
        problems.append(f"{where}: range must be [lo, hi] with two ints, got {value!r}")
        return False, None
    if value[0] > value[1]:
        problems.append(f"{where}: range [{value[0]}, {value[1]}] is empty (lo > hi)")
        return False, None
    return True, Interval(value[0], value[1])


def _parse_scale(value: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    def num(v: Any) -> bool:
        return isinstance(v, float | int) and not isinstance(v, bool)

    if value is None:
        return True, None
    if num(value):
        return True, float(value)
    if isinstance(value, list) and value and all(num(v) for v in value):
        return True, tuple(float(v) for v in value)
    problems.append(f"{where}: scale must be a number, a non-empty list of numbers or null, got {value!r}")
    return False, None


def _parse_tensor(name: Any, entry: Any, problems: list[str]) -> TensorSpec | None:
    where = f"tensor {name!r}"
    if not isinstance(name, str) or not name:
        problems.append(f"tensors: name must be a non-empty string, got {name!r}")
        return None
    if not _check_keys(entry, where, _TENSOR_REQUIRED, _TENSOR_OPTIONAL, problems):
        return None
    before = len(problems)
    shape = entry["shape"]
    if not (isinstance(shape, list) and all(is_int(d) and d >= 1 for d in shape)):
        problems.append(f"{where}: shape must be a list of positive ints, got {shape!r}")
    dtype = _parse_type(entry, where, problems, WORD_BITS)
    _, scale = _parse_scale(entry["scale"], where, problems)
    _, rng = _parse_range(entry.get("range"), where, problems)
    axis = entry.get("scale_axis")
    if axis is not None and not is_int(axis):
        problems.append(f"{where}: scale_axis must be an int, got {axis!r}")
    if not isinstance(entry["const"], bool):
        problems.append(f"{where}: const must be true or false, got {entry['const']!r}")
    doc = entry.get("doc", "")
    if not isinstance(doc, str):
        problems.append(f"{where}: doc must be a string, got {doc!r}")
    if len(problems) > before or dtype is None:
        return None
    return TensorSpec(name, tuple(shape), dtype, scale, rng, entry["const"], doc, axis)


def _parse_node(index: int, entry: Any, problems: list[str]) -> Node | None:
    label = entry.get("name") if isinstance(entry, dict) else None
    where = f"node {label!r}" if isinstance(label, str) else f"nodes[{index}]"
    if not _check_keys(entry, where, _NODE_REQUIRED, _NODE_OPTIONAL, problems):
        return None
    before = len(problems)
    for key in ("name", "op", "output"):
        if not isinstance(entry[key], str) or not entry[key]:
            problems.append(f"{where}: {key} must be a non-empty string, got {entry[key]!r}")
    inputs = entry["inputs"]
    if not (isinstance(inputs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items())):
        problems.append(f"{where}: inputs must map role names to tensor names, got {inputs!r}")
    attrs = entry.get("attrs") or {}
    if not (isinstance(attrs, dict) and all(isinstance(k, str) for k in attrs)):
        problems.append(f"{where}: attrs must be a mapping, got {attrs!r}")
        attrs = {}
    raw_internals = entry.get("internals") or {}
    internals: dict[str, InternalSpec] = {}
    if not isinstance(raw_internals, dict):
        problems.append(f"{where}: internals must be a mapping, got {raw_internals!r}")
        raw_internals = {}
    for key, spec in raw_internals.items():
        iwhere = f"{where} internal {key!r}"
        if not _check_keys(spec, iwhere, _INTERNAL_REQUIRED, _INTERNAL_OPTIONAL, problems):
            continue
        dtype = _parse_type(spec, iwhere, problems)
        ok, rng = _parse_range(spec.get("range"), iwhere, problems)
        if dtype is not None and ok:
            internals[str(key)] = InternalSpec(dtype, rng)
    if len(problems) > before:
        return None
    opdef = REGISTRY.get(entry["op"])
    if opdef is not None:  # fill defaulted attributes in schema order; unknown ones stay for the verifier
        attrs = opdef.with_defaults(attrs)
    return Node(entry["name"], entry["op"], dict(inputs), entry["output"], attrs, internals)


def _names_list(doc: dict, key: str, problems: list[str]) -> tuple[str, ...]:
    if key not in doc:
        return ()  # reported as a missing key
    value = doc[key]
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        problems.append(f"{key} must be a list of tensor names, got {value!r}")
        return ()
    return tuple(value)


def graph_from_doc(doc: Any, constants: Mapping[str, np.ndarray] | None, problems: list[str]) -> Graph | None:
    """Build a graph from parsed YAML; append every schema problem to ``problems``.

    ``constants`` None means the constants file is missing (already reported):
    the constants are then not checked one by one.
    """
    if not isinstance(doc, dict):
        problems.append(f"{GRAPH_FILE}: top level must be a mapping, got {type(doc).__name__}")
        return None
    if not _check_keys(doc, GRAPH_FILE, _TOP_REQUIRED, _TOP_OPTIONAL, problems):
        if any(k not in doc for k in ("tensors", "nodes")):
            return None
    version = doc.get(FORMAT_KEY)
    if FORMAT_KEY in doc and version != FORMAT_VERSION:
        problems.append(f"{FORMAT_KEY}: unsupported format version {version!r} (this tool reads {FORMAT_VERSION})")
    name = doc.get("name", "")
    if "name" in doc and (not isinstance(name, str) or not name):
        problems.append(f"name must be a non-empty string, got {name!r}")
    inputs = _names_list(doc, "inputs", problems)
    outputs = _names_list(doc, "outputs", problems)
    meta = doc.get("meta") or {}
    if not isinstance(meta, dict):
        problems.append(f"meta must be a mapping, got {type(meta).__name__}")
        meta = {}
    tensors: dict[str, TensorSpec] = {}
    raw_tensors = doc["tensors"]
    if not isinstance(raw_tensors, dict):
        problems.append(f"tensors must be a mapping of name to tensor, got {type(raw_tensors).__name__}")
        raw_tensors = {}
    for tname, entry in raw_tensors.items():
        spec = _parse_tensor(tname, entry, problems)
        if spec is not None:
            tensors[tname] = spec
            if spec.const and constants is not None and constants.get(tname) is not _UNREADABLE:
                problems.extend(constant_problems(tname, spec, constants.get(tname)))
    constants = constants or {}
    for key in constants:
        if key not in raw_tensors:
            problems.append(f"{CONSTANTS_FILE} holds array {key!r}, which is not a tensor of the graph")
        elif key in tensors and not tensors[key].const:
            problems.append(f"{CONSTANTS_FILE} holds array {key!r}, but tensor {key!r} is not marked const")
    raw_nodes = doc["nodes"]
    if not isinstance(raw_nodes, list):
        problems.append(f"nodes must be a list, got {type(raw_nodes).__name__}")
        raw_nodes = []
    nodes = [_parse_node(i, entry, problems) for i, entry in enumerate(raw_nodes)]
    if problems:
        return None
    consts = {k: v for k, v in constants.items() if k in tensors and tensors[k].const}
    return Graph(name, inputs, outputs, tensors, tuple(nodes), consts, meta)


def load_graph(folder: str | os.PathLike, widths: bool = True) -> Graph:
    """Read and fully validate a graph folder; return the analysed graph.

    Raises one IRError listing every problem found (missing files, bad YAML,
    schema, structure; then, with ``widths``, range analysis and scales:
    width violations, stale recorded ranges, scales contradicting their op's
    scale rule). The result has the proven range of every tensor and the
    type and proven range of every internal (equal to the stored ones, which
    may be absent from a hand-written file). ``widths=False`` skips those
    checks and returns the graph exactly as stored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise IRError(f"{folder}: no such graph folder")
    problems: list[str] = []
    text = None
    try:
        text = (folder / GRAPH_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{GRAPH_FILE} is missing")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{GRAPH_FILE} cannot be read: {exc}")
    constants: dict[str, np.ndarray] | None = None
    if (folder / CONSTANTS_FILE).is_file():
        before = len(problems)
        try:
            constants = _read_npz(folder / CONSTANTS_FILE, problems)
        except _DamagedFile as exc:  # one line: everything else would be its consequence
            raise IRError(str(exc)) from None
        if len(problems) > before and not constants:
            constants = None  # the whole file is unreadable: one problem, not one more per constant
    else:
        problems.append(f"{CONSTANTS_FILE} is missing")
    graph = None
    if text is not None:
        doc = _read_yaml(text, problems)
        if doc is not None or not problems:
            graph = graph_from_doc(doc, constants, problems)
    if problems or graph is None:
        raise IRError(format_problems(str(folder), problems or ["graph could not be read"]))
    problems = structural_problems(graph)
    if problems:
        raise IRError(format_problems(str(folder), problems))
    if not widths:
        return graph
    analysed, problems = semantic_problems(graph)
    if problems or analysed is None:
        raise IRError(format_problems(str(folder), problems))
    return analysed
