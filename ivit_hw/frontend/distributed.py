"""``ivit-hw eval`` on several processes or machines, under ``torchrun``.

torchrun starts one process per slot and sets ``RANK`` and ``WORLD_SIZE``
(and ``MASTER_ADDR``/``MASTER_PORT``) in each; :class:`Shards` reads them.
Each rank evaluates one contiguous block of the sorted file list (rank 0 the
first), then every rank sends its counts over a ``gloo`` process group
(CPU, no GPU needed) and rank 0 adds them up and prints the report: the
counts are those of a single-process run over the same files, since every
image is scored alone. Without torchrun (no ``WORLD_SIZE``, or 1) nothing
here starts a process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from ..runtime.clipping import ClipStat
from .data import DataError
from .evaluate import EvalResult

__all__ = ["GROUP_TIMEOUT", "Shards", "merge_results"]

#: How long a rank waits for the others (a slow machine may need hours for its share of 50,000 images).
GROUP_TIMEOUT = timedelta(hours=48)


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise DataError(f"environment variable {name}={text!r} is not an integer (set by torchrun)") from None


@dataclass(frozen=True)
class Shards:
    """This process's place among ``world`` evaluating processes (rank 0 reports)."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_env(cls) -> Shards:
        """The rank and world size torchrun set (``RANK``, ``WORLD_SIZE``); one process without them."""
        world, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
        if world < 1 or not 0 <= rank < world:
            raise DataError(f"RANK={rank} and WORLD_SIZE={world} do not describe a rank of the job")
        return cls(rank, world)

    @property
    def local_rank(self) -> int:
        """This process's index on its machine (``LOCAL_RANK``; for picking a CUDA device)."""
        return _env_int("LOCAL_RANK", 0)

    def start(self) -> None:
        """Join the job's ``gloo`` process group (torchrun's ``MASTER_ADDR``/``MASTER_PORT``) before the
        work, so a job that cannot meet fails at once rather than after its share of the images."""
        if self.world == 1:
            return
        try:
            import torch.distributed as dist
        except ModuleNotFoundError:
            raise DataError(f"WORLD_SIZE={self.world}: evaluating on several ranks needs torch "
                            "(pip install 'ivit_hw[torch]')") from None
        if not dist.is_available():
            raise DataError(f"WORLD_SIZE={self.world}: this torch build has no torch.distributed")
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=GROUP_TIMEOUT)

    def part(self, indices: list[int]) -> list[int]:
        """This rank's contiguous block of ``indices`` (sizes differ by at most one; rank 0 first)."""
        n = len(indices)
        return indices[self.rank * n // self.world : (self.rank + 1) * n // self.world]

    def gather(self, result: EvalResult | None, error: str | None = None) -> EvalResult | None:
        """Every rank's counts, added up on rank 0 (None on the other ranks).

        A rank that failed passes ``error`` (its one-line message) instead of a
        result; every rank then raises DataError with the first rank's error, so
        no rank waits for a failed one.
        """
        if self.world == 1:
            if error is not None:
                raise DataError(error)
            return result
        import torch.distributed as dist

        payload = {"error": error, "counts": None if result is None else _counts(result)}
        self.start()
        try:
            every: list[dict | None] = [None] * self.world
            dist.all_gather_object(every, payload)
        finally:
            dist.destroy_process_group()
        errors = [f"rank {r}: {p['error']}" for r, p in enumerate(every) if p and p["error"] is not None]
        if errors:
            raise DataError(errors[0])
        if self.rank != 0:
            return None
        return merge_results([p["counts"] for p in every if p is not None], result)


def _counts(res: EvalResult) -> dict:
    """What a rank sends: its counts and per-node clipping (plain types, picklable)."""
    clips = [] if res.clips is None else [(s.node, s.out_bits, s.clipped, s.total) for s in res.clips.stats.values()]
    return {"images": res.images, "int_correct": res.int_correct, "float_correct": res.float_correct,
            "agree": res.agree, "seconds": res.seconds, "clips": clips}


def merge_results(counts: list[dict], template: EvalResult) -> EvalResult:
    """The sum of every rank's counts (the slowest rank's seconds: the job's wall time); clipping is added
    up node by node into ``template.clips`` (rank 0's counter, emptied first)."""
    out = EvalResult(clips=template.clips)
    if any(c["float_correct"] is not None for c in counts):
        out.float_correct, out.agree = 0, 0
    stats: dict[str, ClipStat] = {}
    for c in counts:
        out.images += c["images"]
        out.int_correct += c["int_correct"]
        if out.float_correct is not None:
            out.float_correct += c["float_correct"]
            out.agree += c["agree"]
        out.seconds = max(out.seconds, c["seconds"])
        for node, bits, clipped, total in c["clips"]:
            s = stats.setdefault(node, ClipStat(node, bits))
            s.clipped += clipped
            s.total += total
    if out.clips is not None:
        out.clips.stats = stats
    return out
