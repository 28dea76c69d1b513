"""Where a buffer lives and how many memory blocks it takes: the counting rules of the plan.

Rules (one place; ``docs/hls.md`` quotes them):

- A buffer of ``depth`` words of ``width`` bits split into ``banks`` banks (so ``banks`` words can
  be read in one clock) has ``ceil(depth / banks)`` words per bank; every bank is its own memory.
- ``reg``: a bank of at most :data:`REG_MAX_DEPTH` words (a stream FIFO of depth 2 is a pair of
  registers). ``lutram``: a bank of at most :data:`LUTRAM_MAX_BITS` bits (distributed RAM / SRL).
  Both take no block. Anything larger is ``bram`` (or ``uram`` where the plan spills to it).
- BRAM18 (Xilinx RAMB18E2, ECP5 DP16KD; both 18 kbit) has the aspect ratios of
  :data:`BRAM18_SHAPES` (depth x width: 16K x 1 ... 512 x 36, the widest in simple dual port). A bank
  takes the fewest blocks over those shapes: ``min over (D, W) of ceil(bank depth / D) * ceil(width / W)``.
  A BRAM36 counts as two BRAM18s, so a 1K x 36 bank is two.
- URAM (URAM288) is one 4096 x 72 shape: ``ceil(bank depth / 4096) * ceil(width / 72)`` per bank.
- ``dram``: off chip, no block.

The Verilog top (ECP5) places each of its memories with :func:`top_memory`: the same ``reg`` /
``lutram`` rule for memories it writes; a ROM (constants) of at most :data:`ROM_LUT_MAX_WORDS` words is
``lutrom``, fabric logic whatever its width (each output bit one 64-entry LUT tree, 4 LUT4 and 3 muxes);
the rest is ``bram``: DP16KD blocks tiled by :func:`dp16kd_tiles` (the RTL instantiates exactly
those blocks, so the plan's count is the design's).
"""

from __future__ import annotations

REG_MAX_DEPTH = 2
LUTRAM_MAX_BITS = 1024
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
URAM_SHAPE = (4096, 72)
ROM_LUT_MAX_WORDS = 256


def bank_depth(depth: int, banks: int) -> int:
    """Words per bank when ``depth`` words are split over ``banks`` banks."""
    return -(-depth // max(1, banks))


def bram18_blocks(depth: int, width: int, banks: int = 1) -> int:
    """BRAM18 blocks of ``banks`` banks holding ``depth`` words of ``width`` bits in all."""
    d = bank_depth(depth, banks)
    if d == 0 or width == 0:
        return 0
    per_bank = min(-(-d // sd) * -(-width // sw) for sd, sw in BRAM18_SHAPES)
    return banks * per_bank


def uram_blocks(depth: int, width: int, banks: int = 1) -> int:
    """URAM288 blocks of ``banks`` banks holding ``depth`` words of ``width`` bits in all."""
    d = bank_depth(depth, banks)
    if d == 0 or width == 0:
        return 0
    return banks * -(-d // URAM_SHAPE[0]) * -(-width // URAM_SHAPE[1])


def small_memory(depth: int, width: int, banks: int = 1) -> str | None:
    """``reg`` or ``lutram`` when every bank is that small, else None (it needs block RAM)."""
    d = bank_depth(depth, banks)
    if d <= REG_MAX_DEPTH:
        return "reg"
    if d * width <= LUTRAM_MAX_BITS:
        return "lutram"
    return None


def top_memory(depth: int, width: int, rom: bool = False) -> str:
    """Where the Verilog top keeps a memory of ``depth`` words of ``width`` bits (``rom``: constants):
    ``reg``, ``lutram``, ``lutrom`` (a small ROM in the fabric) or ``bram``."""
    small = small_memory(depth, width)
    if small is not None:
        return small
    if rom and depth <= ROM_LUT_MAX_WORDS:
        return "lutrom"
    return "bram"


def dp16kd_tiles(width: int, aw: int) -> tuple[int, int, int, int]:
    """DP16KD tiling of a memory of ``2^aw`` words of ``width`` bits: ``(dw, baw, cols, tiles)``, the
    block shape ``2^baw x dw`` (4096 x 4, 2048 x 9 or 1024 x 18: the narrowest that holds the word in
    one column, else 18 bits), ``cols`` blocks side by side, ``tiles`` rows of them (the address bits
    above the block's choose one). It takes ``cols * tiles`` blocks."""
    dw, baw = (4, 12) if width <= 4 else (9, 11) if width <= 9 else (18, 10)
    return dw, baw, -(-width // dw), 1 << max(aw - baw, 0)


def rom18_blocks(words: int, width: int) -> int:
    """DP16KD blocks of a ROM as ``ivit_rom18`` tiles (1024 x 18 each): 1024-word tiles of ``width`` bits."""
    return -(-words // 1024) * -(-width // 18)


def fifo_blocks(width: int, aw: int) -> int:
    """DP16KD blocks of an ``ivit_fifo`` of ``2^aw`` words of ``width`` bits: none where the plan's rule
    keeps it in LUT-RAM or it is deeper than one block column (4096), else one column of the widest
    shape that has the depth (1024 x 18, 2048 x 9, 4096 x 4) per ``dw`` bits."""
    if aw > 12 or top_memory(1 << aw, width) != "bram":
        return 0
    dw = 18 if aw <= 10 else 9 if aw == 11 else 4
    return -(-width // dw)


def blocks_of(memory: str, depth: int, width: int, banks: int) -> int:
    """Blocks a buffer takes in ``memory`` (0 for reg, lutram and dram)."""
    if memory == "bram":
        return bram18_blocks(depth, width, banks)
    if memory == "uram":
        return uram_blocks(depth, width, banks)
    return 0


__all__ = ["BRAM18_SHAPES", "LUTRAM_MAX_BITS", "REG_MAX_DEPTH", "ROM_LUT_MAX_WORDS", "URAM_SHAPE", "bank_depth",
           "blocks_of", "bram18_blocks", "dp16kd_tiles", "fifo_blocks", "rom18_blocks", "small_memory", "top_memory",
           "uram_blocks"]
