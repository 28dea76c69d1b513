"""A product by one constant in the fabric: canonical signed digits summed in a pipelined adder tree.

A requantize whose multiplier m is one value for every channel (the attention scores, attn @ v, the
GELU output and every residual identity term of a per-tensor quantizer) needs no hard multiplier:
``a * m`` is the sum of ``a << s`` over the nonzero digits d_s = +-1 of m's non-adjacent form (at most
``ceil((bits + 1) / 2)`` of them: 9 for a 17-bit m). The sums are taken modulo 2^wo, which is exact
because the analysis proves the product fits ``wo`` bits. The tree has exactly ``stages`` register
levels, so it is a drop-in for the ``pmul`` macro's latency (units_common.DMUL_LAT).
"""

from __future__ import annotations

FABRIC_MAX_DIGITS = 9  # a constant with more nonzero digits keeps its hard multipliers


def naf_digits(m: int) -> list[tuple[int, int]]:
    """``(shift, sign)`` of the nonzero digits of m's non-adjacent form: m = sum(sign * 2^shift)."""
    n, shift, out = abs(int(m)), 0, []
    while n:
        if n & 1:
            d = 2 - (n & 3)  # +1 or -1, so the next digit is 0
            out.append((shift, d if m > 0 else -d))
            n -= d
        n >>= 1
        shift += 1
    return out


def fabric_stages(p: str, a: str, m: int, stages: int) -> list[list[dict[str, str]]] | None:
    """The register levels ``[[{"name", "expr"}, ...], ...]`` of ``a * m`` (``a`` a signed signal of the
    product's width), the last level one register ``<p>`` holding the product; None when m has more than
    :data:`FABRIC_MAX_DIGITS` nonzero digits or the tree would need more than ``stages`` levels."""
    digits = naf_digits(m)
    if len(digits) > FABRIC_MAX_DIGITS or len(digits) > 2 ** stages:
        return None
    level = [f"{'-' if sign < 0 else ''}({a} <<< {shift})" for shift, sign in digits] or ["0"]
    out: list[list[dict[str, str]]] = []
    for k in range(1, stages + 1):
        pairs = [level[i:i + 2] for i in range(0, len(level), 2)]
        names = [p if k == stages else f"{p}_s{k}_{j}" for j in range(len(pairs))]
        out.append([{"name": n, "expr": " + ".join(pr)} for n, pr in zip(names, pairs, strict=True)])
        level = names
    return out


__all__ = ["FABRIC_MAX_DIGITS", "fabric_stages", "naf_digits"]
