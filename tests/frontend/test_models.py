"""Float ViT/DeiT: timm key layout, published parameter counts, and an independent functional forward."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ivit_hw.frontend.models import (
    IMAGENET_NORMALIZE,
    INCEPTION_NORMALIZE,
    PRESETS,
    Normalize,
    VisionTransformer,
    ViTConfig,
    create_model,
)


def _timm_keys(depth: int) -> set[str]:
    keys = {
        "cls_token",
        "pos_embed",
        "patch_embed.proj.weight",
        "patch_embed.proj.bias",
        "norm.weight",
        "norm.bias",
        "head.weight",
        "head.bias",
    }
    for i in range(depth):
        for sub in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"):
            keys |= {f"blocks.{i}.{sub}.weight", f"blocks.{i}.{sub}.bias"}
    return keys


def _meta_model(name: str) -> VisionTransformer:
    with torch.device("meta"):
        return create_model(name)


def test_deit_tiny_state_dict_matches_timm_layout() -> None:
    sd = _meta_model("deit_tiny").state_dict()
    assert set(sd) == _timm_keys(12)
    shapes = {
        "cls_token": (1, 1, 192),
        "pos_embed": (1, 197, 192),
        "patch_embed.proj.weight": (192, 3, 16, 16),
        "blocks.11.attn.qkv.weight": (576, 192),
        "blocks.11.attn.qkv.bias": (576,),
        "blocks.0.attn.proj.weight": (192, 192),
        "blocks.3.mlp.fc1.weight": (768, 192),
        "blocks.3.mlp.fc2.weight": (192, 768),
        "head.weight": (1000, 192),
    }
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key


@pytest.mark.parametrize(
    ("name", "params"),
    # Published parameter counts of timm's deit_{tiny,small,base}_patch16_224 / vit_{small,base}_patch16_224.
    [
        ("deit_tiny", 5_717_416),
        ("deit_small", 22_050_664),
        ("deit_base", 86_567_656),
        ("vit_small", 22_050_664),
        ("vit_base", 86_567_656),
    ],
)
def test_preset_parameter_counts(name: str, params: int) -> None:
    assert sum(p.numel() for p in _meta_model(name).parameters()) == params


def test_presets_normalisation_and_shapes() -> None:
    assert PRESETS["deit_small"].normalize.mean == (0.485, 0.456, 0.406)
    assert PRESETS["deit_base"].normalize.std == (0.229, 0.224, 0.225)
    assert PRESETS["vit_base"].normalize == INCEPTION_NORMALIZE
    for name in ("deit_tiny", "deit_small", "deit_base", "vit_small", "vit_base"):
        c = PRESETS[name]
        assert (c.img_size, c.patch_size, c.in_chans, c.num_classes, c.depth) == (224, 16, 3, 1000, 12)
    d = PRESETS["vit_digits"]
    assert (d.img_size, d.in_chans, d.num_classes, d.normalize.channels) == (8, 1, 10, 1)
    assert d.img_size % d.patch_size == 0


def test_digits_normalisation_matches_train_statistics() -> None:
    from ivit_hw.frontend.data import load_digits_split

    x = load_digits_split().train_images.astype(np.float64) / 255.0
    norm = PRESETS["vit_digits"].normalize
    assert abs(norm.mean[0] - x.mean()) < 1e-3
    assert abs(norm.std[0] - x.std()) < 1e-3


def test_create_model_overrides_and_errors() -> None:
    m = create_model("vit_digits", num_classes=3, depth=2)
    assert len(m.blocks) == 2 and m.head.out_features == 3
    with pytest.raises(ValueError, match="unknown model"):
        create_model("resnet50")
    with pytest.raises(ValueError, match="bogus"):
        create_model("vit_digits", bogus=1)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ViTConfig(10, 3, 3, 10, 64, 1, 4, 2.0)
    with pytest.raises(ValueError, match="num_heads"):
        ViTConfig(8, 2, 3, 10, 64, 1, 5, 2.0)
    with pytest.raises(ValueError, match="channels"):
        ViTConfig(8, 2, 1, 10, 64, 1, 4, 2.0)  # default ImageNet normalisation has 3 channels
    with pytest.raises(ValueError, match="std"):
        Normalize((0.5,), (0.0,))


def test_module_structure_and_constants() -> None:
    m = create_model("vit_digits")
    blk = m.blocks[0]
    assert isinstance(m.blocks, torch.nn.ModuleList)
    assert blk.attn.num_heads == 4
    assert blk.attn.scale == pytest.approx(16**-0.5)
    assert blk.norm1.eps == 1e-6 and m.norm.eps == 1e-6
    assert m.patch_embed.proj.kernel_size == m.patch_embed.proj.stride == (2, 2)
    x = torch.linspace(-4, 4, 101)
    exact = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    torch.testing.assert_close(blk.mlp.act(x), exact, rtol=0, atol=1e-6)


def test_attention_matches_torch_multihead_attention() -> None:
    torch.manual_seed(0)
    attn = create_model("vit_digits").blocks[0].attn
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.3)
    ref = torch.nn.MultiheadAttention(64, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(attn.qkv.weight)
        ref.in_proj_bias.copy_(attn.qkv.bias)
        ref.out_proj.weight.copy_(attn.proj.weight)
        ref.out_proj.bias.copy_(attn.proj.bias)
    x = torch.randn(3, 17, 64)
    expected, _ = ref(x, x, x, need_weights=False)
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-5)


def _functional_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, depth: int, heads: int, p: int) -> torch.Tensor:
    """An independent ViT forward straight from timm-named weights (patches via unfold)."""
    b = x.shape[0]
    w = sd["patch_embed.proj.weight"]
    patches = F.unfold(x, kernel_size=p, stride=p).transpose(1, 2)  # [B, N, C*p*p]
    t = patches @ w.reshape(w.shape[0], -1).T + sd["patch_embed.proj.bias"]
    t = torch.cat([sd["cls_token"].expand(b, -1, -1), t], 1) + sd["pos_embed"]
    d = t.shape[-1]
    hd = d // heads
    for i in range(depth):
        blk = {k.removeprefix(f"blocks.{i}."): v for k, v in sd.items() if k.startswith(f"blocks.{i}.")}
        g = blk.__getitem__
        h = F.layer_norm(t, (d,), g("norm1.weight"), g("norm1.bias"), 1e-6)
        qkv = h @ g("attn.qkv.weight").T + g("attn.qkv.bias")
        q, k, v = qkv.split(d, dim=-1)
        outs = []
        for j in range(heads):
            sl = slice(j * hd, (j + 1) * hd)
            a = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(hd), -1)
            outs.append(a @ v[..., sl])
        t = t + torch.cat(outs, -1) @ g("attn.proj.weight").T + g("attn.proj.bias")
        h = F.layer_norm(t, (d,), g("norm2.weight"), g("norm2.bias"), 1e-6)
        h = F.gelu(h @ g("mlp.fc1.weight").T + g("mlp.fc1.bias"))
        t = t + h @ g("mlp.fc2.weight").T + g("mlp.fc2.bias")
    t = F.layer_norm(t, (d,), sd["norm.weight"], sd["norm.bias"], 1e-6)
    return t[:, 0] @ sd["head.weight"].T + sd["head.bias"]


def test_forward_matches_independent_functional_forward() -> None:
    torch.manual_seed(1)
    m = create_model("vit_digits", in_chans=3, normalize=IMAGENET_NORMALIZE).eval()
    for p in m.parameters():  # larger-than-init weights so every path matters
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(4, 3, 8, 8)
    expected = _functional_forward(m.state_dict(), x, depth=4, heads=4, p=2)
    with torch.no_grad():
        torch.testing.assert_close(m(x), expected, rtol=1e-4, atol=1e-4)


def test_forward_uint8_normalises_per_channel() -> None:
    torch.manual_seed(2)
    m = create_model("vit_digits", in_chans=3, normalize=IMAGENET_NORMALIZE).eval()
    pix = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    xf = torch.from_numpy(((pix.numpy() / 255.0 - mean) / std).astype(np.float32))
    with torch.no_grad():
        torch.testing.assert_close(m.forward_uint8(pix), m(xf), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="uint8"):
        m.forward_uint8(pix.float())
    with pytest.raises(ValueError, match="PatchEmbed"):
        m(torch.zeros(1, 3, 16, 16))


def test_batch_elements_are_independent() -> None:
    torch.manual_seed(3)
    m = create_model("vit_digits").eval()
    pix = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        full = m.forward_uint8(pix)
        one = m.forward_uint8(pix[2:3])
    torch.testing.assert_close(full[2:3], one, rtol=1e-5, atol=1e-5)


def test_without_class_token_uses_mean_pooling() -> None:
    m = create_model("vit_digits", class_token=False).eval()
    sd = m.state_dict()
    assert "cls_token" not in sd and tuple(sd["pos_embed"].shape) == (1, 16, 64)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        expected = m.head(m.forward_features(x).mean(1))
        torch.testing.assert_close(m(x), expected)
