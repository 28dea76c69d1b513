"""``ivit-hw eval`` under ``torchrun`` (two local processes, gloo on 127.0.0.1): each rank scores its
block of the sorted file list and rank 0 prints the report, equal to a single-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ivit_hw import cli
from ivit_hw.frontend.checkpoint import save_checkpoint
from ivit_hw.frontend.data import DataError, load_digits_split
from ivit_hw.frontend.distributed import Shards
from ivit_hw.frontend.evaluate import EvalResult
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.synthetic import synthetic_graph
from ivit_hw.ir.serialize import save_graph

N_IMAGES = 23  # odd: the two blocks differ in size
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A vit_digits graph, its float checkpoint, and 23 digit PNGs in 10 class folders."""
    root = tmp_path_factory.mktemp("evaldist")
    save_graph(synthetic_graph("vit_digits"), root / "g.ivit")
    torch.manual_seed(0)
    save_checkpoint(create_model("vit_digits").eval(), root / "w.safetensors")
    ds = load_digits_split()
    for k in range(N_IMAGES):  # every class present (the graph has 10 logits): class k % 10
        i = int(np.flatnonzero(ds.test_labels == k % 10)[k // 10])
        folder = root / "imgs" / str(k % 10)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.test_images[i][0], mode="L").save(folder / f"{k:03d}.png")
    return root


def _argv(root: Path) -> list[str]:
    return ["eval", str(root / "g.ivit"), "--imagefolder", str(root / "imgs"), "--float-model", "vit_digits",
            "--checkpoint", str(root / "w.safetensors"), "--workers", "0", "--batch", "4", "--quiet",
            "--clip-warn", "0"]


def _torchrun(argv: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(29500 + os.getpid() % 2000), "-m", "ivit_hw.cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)


def _report(text: str) -> list[str]:
    """The report lines that do not depend on timing (the img/s line names the ranks and the speed)."""
    return [line for line in text.splitlines() if "top-1" in line or "agreement" in line or "clipped" in line]


def test_blocks_cover_the_sorted_list_once_in_order():
    idx = list(range(23))
    parts = [Shards(r, 3).part(idx) for r in range(3)]
    assert parts == [idx[0:7], idx[7:15], idx[15:23]]
    assert Shards(0, 1).part(idx) == idx
    assert Shards(1, 2).part([5]) == [5] and Shards(0, 2).part([5]) == []


def test_two_ranks_under_torchrun_report_what_one_process_reports(setup, capsys):
    code = cli.main(_argv(setup))
    out, err = capsys.readouterr()
    assert code == 0
    single = _report(out) + _report(err)
    assert f"on {N_IMAGES} images" in single[0] and any("agreement" in s for s in single)
    assert any("clipped" in s for s in single)  # --clip-warn 0: the clipping counts are in the report too
    proc = _torchrun(_argv(setup))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("integer top-1") == 1  # rank 0 alone reports
    assert "2 ranks" in proc.stdout
    assert _report(proc.stdout) + _report(proc.stderr) == single


def test_an_error_on_one_rank_stops_every_rank_with_its_line(monkeypatch):
    """The gather carries a failed rank's one-line error to every rank (no rank waits for it); checked
    in-process with the collective replaced by what rank 1 would send (the torchrun run above is the
    real two-process path, kept to one launch for the suite's time)."""
    import torch.distributed as dist

    sent = {}
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "destroy_process_group", lambda: sent.setdefault("destroyed", True))

    def gather(out, payload):
        out[0], out[1] = payload, {"error": "cannot read image imgs/9/022.png: truncated", "counts": None}

    monkeypatch.setattr(dist, "all_gather_object", gather)
    res = EvalResult(images=3, int_correct=2)
    with pytest.raises(DataError, match=r"^rank 1: cannot read image imgs/9/022.png: truncated$"):
        Shards(0, 2).gather(res)
    assert sent["destroyed"]


def test_counts_of_two_ranks_add_up(monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "destroy_process_group", lambda: None)
    other = {"images": 5, "int_correct": 4, "float_correct": 3, "agree": 2, "seconds": 9.0,
             "clips": [("rq", 8, 1, 10), ("rq2", 16, 0, 4)]}

    def gather(out, payload):
        out[0], out[1] = payload, {"error": None, "counts": other}

    monkeypatch.setattr(dist, "all_gather_object", gather)
    mine = EvalResult(images=6, int_correct=1, float_correct=2, agree=3, seconds=4.0, clips=None)
    total = Shards(0, 2).gather(mine)
    assert (total.images, total.int_correct, total.float_correct, total.agree, total.seconds) == (11, 5, 5, 5, 9.0)
    assert Shards(1, 2).gather(mine) is None  # only rank 0 reports
