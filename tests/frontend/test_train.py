"""Float training: augmentation, evaluation, determinism and a short digits run that must learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.models import create_model
from ivit_hw.frontend.train import DIGITS_RECIPE, evaluate_float, random_shift, train_float


def test_random_shift_moves_pixels_by_at_most_one() -> None:
    x = torch.zeros(64, 1, 8, 8, dtype=torch.uint8)
    x[:, 0, 4, 3] = 200
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert torch.equal(out.sum((1, 2, 3)), x.sum((1, 2, 3)).to(out.dtype))  # nothing lost or invented
    pos = torch.nonzero(out[:, 0] == 200)[:, 1:]
    offsets = {(int(r) - 4, int(c) - 3) for r, c in pos}
    assert offsets <= {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert len(offsets) >= 5  # with 64 draws, most of the 9 offsets occur
    again = random_shift(x, 1, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert torch.equal(random_shift(x, 1, torch.Generator().manual_seed(0), prob=0.0), x)
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


def test_evaluate_float_counts_correct_predictions() -> None:
    m = create_model("vit_digits")
    with torch.no_grad():  # a head that always answers class 3
        m.head.weight.zero_()
        m.head.bias.zero_()
        m.head.bias[3] = 1.0
    images = np.zeros((8, 1, 8, 8), np.uint8)
    labels = np.array([3, 3, 3, 1, 2, 3, 0, 9])
    assert evaluate_float(m, images, labels, batch_size=3) == pytest.approx(4 / 8)
    with pytest.raises(ValueError, match="uint8"):
        evaluate_float(m, images.astype(np.float32), labels)
    with pytest.raises(ValueError, match="labels"):
        evaluate_float(m, images, labels[:5])


def _short_run(seed: int, n: int = 128) -> torch.nn.Module:
    s = load_digits_split()
    torch.manual_seed(0)
    m = create_model("vit_digits", depth=1)
    train_float(m, s.train_images[:n], s.train_labels[:n], epochs=2, lr=1e-3, batch_size=32, seed=seed, progress=False)
    return m


def test_training_is_deterministic_for_a_seed() -> None:
    threads = torch.get_num_threads()
    a, b, c = _short_run(0), _short_run(0), _short_run(1)
    assert torch.get_num_threads() == threads  # restored afterwards
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert not torch.equal(a.head.weight, c.head.weight)
    assert not a.training


def test_short_digits_training_learns() -> None:
    """12 epochs of the recipe (about 5 s on 2 idle cores; no wall-clock assert, CI machines are shared)."""
    s = load_digits_split()
    torch.manual_seed(0)
    m = create_model("vit_digits")
    recipe = {**DIGITS_RECIPE, "epochs": 12, "warmup_epochs": 1}  # the recipe, cut short
    hist = train_float(m, s.train_images, s.train_labels, progress=False, **recipe)
    acc = evaluate_float(m, s.test_images, s.test_labels)
    assert len(hist.loss) == 12 and hist.loss[-1] < hist.loss[0]
    assert acc > 0.6, acc
