"""Generate ``swin_reference.npz``: timm 1.0.31's float Swin logits on a tiny random-init checkpoint.

timm is not a dependency (and cannot be downloaded at test time), so this script ran once and its
output is committed; ``test_swin.py`` compares the project's float Swin to the stored logits.
The checkpoint is made by the project's own :class:`SwinTransformer` (random init, seed 0) and
loaded into timm's ``SwinTransformer`` with ``strict=True``; also stored: the key names and shapes
of timm's ``swin_tiny_patch4_window7_224``.

Run (timm beside, not inside, the shared venv; torchvision is stubbed since the PyPI wheel is a
CUDA build and timm's Swin does not use it)::

    pip install --no-deps --target /tmp/timmref timm==1.0.31
    PYTHONPATH=$PWD:/tmp/timmref .venv/bin/python tests/frontend/make_swin_reference.py
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path

import numpy as np
import torch

#: The tiny config: three stages (16, 8, 4 tokens per side), window 4 (stage 2: one window, no shift).
TINY = {"img_size": 32, "patch_size": 2, "in_chans": 3, "num_classes": 5, "embed_dim": 8, "depths": (2, 2, 2),
        "num_heads": (2, 2, 4), "window_size": 4, "mlp_ratio": 2.0}
OUT = Path(__file__).with_name("swin_reference.npz")


class _Stub:
    def __init__(self, *a, **k) -> None: ...
    def __call__(self, *a, **k): return _Stub()
    def __getattr__(self, n): return _Stub()
    def __mro_entries__(self, bases): return (object,)


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import torchvision...`` give empty stub modules."""

    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__, m.__file__ = [], "<stub>"

        def attr(n):
            if n.startswith("__"):
                raise AttributeError(n)
            return _Stub()

        m.__getattr__ = attr
        return m

    def exec_module(self, module) -> None: ...


def main() -> None:
    sys.meta_path.insert(0, _StubFinder())
    import timm
    from timm.models.swin_transformer import SwinTransformer as TimmSwin

    from ivit_hw.frontend.presets import INCEPTION_NORMALIZE, SwinConfig
    from ivit_hw.frontend.swin import SwinTransformer

    torch.manual_seed(0)
    ours = SwinTransformer(SwinConfig(**TINY, normalize=INCEPTION_NORMALIZE)).eval()
    with torch.no_grad():  # non-trivial norms and bias tables
        for name, p in ours.named_parameters():
            if "norm" in name or name.endswith("bias_table") or name.endswith(".bias"):
                p.add_(0.2 * torch.randn_like(p))
    state = {k: v.detach().clone() for k, v in ours.state_dict().items()}
    ref = TimmSwin(**TINY).eval()
    ref.load_state_dict(state, strict=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = ref(x)
    tiny_keys = sorted(timm.create_model("swin_tiny_patch4_window7_224").state_dict().items())
    np.savez_compressed(
        OUT, image=x.numpy(), logits=logits.numpy(), timm_version=np.array(timm.__version__),
        swin_tiny_keys=np.array([k for k, _ in tiny_keys]),
        swin_tiny_shapes=np.array([",".join(map(str, v.shape)) for _, v in tiny_keys]),
        **{f"state/{k}": v.numpy() for k, v in state.items()})
    print(f"wrote {OUT}: timm {timm.__version__}, logits {list(logits.shape)}")


if __name__ == "__main__":
    main()
