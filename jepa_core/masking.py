"""Mask samplers: index sets of context and target tokens on a token grid.

Every sampler is a pure function of ``(batch_size, generator)``: the same seed gives the same
masks, and every sample in a batch keeps the same number of context and of target tokens, so
masks are plain ``LongTensor`` index sets applied with :func:`apply_mask` (``gather``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch


@dataclass  # not frozen: Lightning's mixed-precision input conversion rebuilds dataclass arguments
class Masks:
    """Context and target token indices into the flattened grid.

    Shape: context (B, Nc), target (B, Nt); each row sorted, no index in both.
    """

    context: torch.Tensor
    target: torch.Tensor


def apply_mask(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Keep the tokens at ``idx``. Shape: x (B, N, D), idx (B, K) -> (B, K, D)."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def _rows_to_indices(rows: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Pick ``count`` True positions per row (a random subset where a row has more), sorted.

    Shape: rows (B, N) bool -> (B, count) long.
    """
    noise = torch.rand(rows.shape, generator=generator)
    score = torch.where(rows, noise, torch.full_like(noise, 2.0))  # True positions first, at random
    picked = score.argsort(dim=1)[:, :count]
    return picked.sort(dim=1).values


class MaskSampler(ABC):
    """Draws :class:`Masks` for a batch on a fixed token grid."""

    def __init__(self, grid: tuple[int, ...]) -> None:
        self.grid = tuple(int(g) for g in grid)
        self.num_tokens = math.prod(self.grid)

    @abstractmethod
    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        """Masks for ``batch_size`` samples, drawn only from ``generator``."""

    def from_bool(self, target_rows: torch.Tensor, context_rows: torch.Tensor, generator: torch.Generator) -> Masks:
        """Equalise per-sample counts (to the batch minimum) and convert to index sets."""
        context_rows = context_rows & ~target_rows
        n_tgt = int(target_rows.sum(1).min())
        n_ctx = int(context_rows.sum(1).min())
        if n_tgt < 1 or n_ctx < 1:
            raise RuntimeError(f"{type(self).__name__} produced an empty context or target on grid {self.grid}")
        return Masks(
            context=_rows_to_indices(context_rows, n_ctx, generator),
            target=_rows_to_indices(target_rows, n_tgt, generator),
        )


class BlockMask1D(MaskSampler):
    """ECG-JEPA style 1-D masking: contiguous target blocks in time, the rest is context.

    A keep ratio ``r`` is drawn once per batch from ``keep_ratio``; ``round(r * N)`` tokens are
    context and the others form ``1..max_blocks`` contiguous target blocks of at least
    ``min_block`` tokens each (one shorter block when the grid is too small for that).
    """

    def __init__(
        self,
        grid: tuple[int],
        *,
        keep_ratio: tuple[float, float] = (0.15, 0.25),
        min_block: int = 10,
        max_blocks: int = 4,
    ) -> None:
        super().__init__(grid)
        if len(self.grid) != 1:
            raise ValueError(f"BlockMask1D needs a 1-D grid, got {grid}")
        if not 0.0 < keep_ratio[0] <= keep_ratio[1] < 1.0:
            raise ValueError(f"keep_ratio must satisfy 0 < low <= high < 1, got {keep_ratio}")
        self.keep_ratio, self.min_block, self.max_blocks = keep_ratio, min_block, max_blocks

    def _layout(self, n_ctx: int, n_tgt: int, generator: torch.Generator) -> torch.Tensor:
        """One sample: alternate context gaps and target blocks. Returns (N,) bool target row."""
        k = _randint(generator, 1, max(1, min(self.max_blocks, n_tgt // self.min_block)))
        floor = min(self.min_block, n_tgt // k)
        blocks = torch.full((k,), floor) + torch.bincount(
            torch.randint(k, (n_tgt - floor * k,), generator=generator), minlength=k
        )
        gaps = torch.bincount(torch.randint(k + 1, (n_ctx,), generator=generator), minlength=k + 1)
        row = torch.zeros(self.num_tokens, dtype=torch.bool)
        pos = 0
        for i in range(k):
            pos += int(gaps[i])
            row[pos : pos + int(blocks[i])] = True
            pos += int(blocks[i])
        return row

    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        n = self.num_tokens
        n_ctx = min(n - 1, max(1, round(_uniform(generator, *self.keep_ratio) * n)))
        target = torch.stack([self._layout(n_ctx, n - n_ctx, generator) for _ in range(batch_size)])
        return self.from_bool(target, ~target, generator)


def _block_shape(grid: tuple[int, ...], scale: float, aspect: float, full_axes: int) -> tuple[int, ...]:
    """Box covering ``scale`` of the last two axes with height/width ``aspect``; leading axes full.

    Each side is cut at the grid's edge and the aspect is kept, so on an elongated plane a box covers
    less than ``scale``: on EEG's 19 x 1 (channels x 1) plane a 0.7 box is 3-4 channels and the
    context box (scale 1) 4 channels. We measured the area-preserving variant (0.7 -> 13 channels,
    context = every token not a target: ~26% of the tokens instead of ~5%) and it gave a worse EEG
    probe (0.596 +- 0.018 vs 0.618 +- 0.006 balanced accuracy over 3 pretraining seeds), so the bundled
    EEG model uses this one.
    """
    h_grid, w_grid = grid[-2:]
    area = scale * h_grid * w_grid
    h = max(1, min(h_grid, round(math.sqrt(area * aspect))))
    w = max(1, min(w_grid, round(math.sqrt(area / aspect))))
    return tuple(grid[:full_axes]) + (h, w)


def _random_box(grid: tuple[int, ...], shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Bool mask of ``grid`` with one box of ``shape`` at a random position."""
    box = torch.zeros(grid, dtype=torch.bool)
    slices = []
    for size, extent in zip(grid, shape, strict=True):
        start = _randint(generator, 0, size - extent)
        slices.append(slice(start, start + extent))
    box[tuple(slices)] = True
    return box


class MultiBlockMask(MaskSampler):
    """I-JEPA multi-block masking on a 2-D grid, and V-JEPA tubes on a 3-D (time, h, w) grid.

    ``n_targets`` boxes are drawn per sample; one box size per batch, with scale and aspect drawn
    independently. On a 3-D grid each box spans ``temporal_scale`` of the frames (1.0: a tube
    through the whole clip, V-JEPA's default). The context is one large box (``context_scale``,
    aspect 1) minus all targets, so no context token is ever a target.
    """

    def __init__(
        self,
        grid: tuple[int, ...],
        *,
        n_targets: int = 4,
        target_scale: tuple[float, float] = (0.15, 0.2),
        target_aspect: tuple[float, float] = (0.75, 1.5),
        context_scale: tuple[float, float] = (0.85, 1.0),
        temporal_scale: tuple[float, float] = (1.0, 1.0),
        min_context: int = 4,
        max_tries: int = 20,
    ) -> None:
        super().__init__(grid)
        if len(self.grid) not in (2, 3) or self.num_tokens < 2:
            raise ValueError(f"MultiBlockMask needs a 2-D or 3-D grid of at least 2 tokens, got {grid}")
        self.n_targets, self.target_scale, self.target_aspect = n_targets, target_scale, target_aspect
        self.context_scale, self.temporal_scale = context_scale, temporal_scale
        self.min_context, self.max_tries = min_context, max_tries

    def _shape(self, scale: float, aspect: float, t_scale: float) -> tuple[int, ...]:
        shape = _block_shape(self.grid, scale, aspect, full_axes=len(self.grid) - 2)
        if len(self.grid) == 3:
            shape = (max(1, round(t_scale * self.grid[0])),) + shape[1:]
        if shape == self.grid:  # a box over the whole grid would leave no context: trim its widest axis
            axis = max(range(len(shape)), key=lambda a: shape[a])
            shape = shape[:axis] + (shape[axis] - 1,) + shape[axis + 1 :]
        return shape

    def _sample_one(self, tgt_shape, ctx_shape, generator) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.max_tries):
            target = torch.zeros(self.grid, dtype=torch.bool)
            for _ in range(self.n_targets):
                target |= _random_box(self.grid, tgt_shape, generator)
            context = _random_box(self.grid, ctx_shape, generator) & ~target
            if int(context.sum()) >= self.min_context:
                return target.reshape(-1), context.reshape(-1)
        # Targets swallowed the context every time: keep one target box so the sample stays valid.
        target = _random_box(self.grid, tgt_shape, generator)
        return target.reshape(-1), (~target).reshape(-1)

    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        t_scale = _uniform(generator, *self.temporal_scale)
        tgt_shape = self._shape(
            _uniform(generator, *self.target_scale), _uniform(generator, *self.target_aspect), t_scale
        )
        ctx_shape = self._shape(_uniform(generator, *self.context_scale), 1.0, 1.0)
        rows = [self._sample_one(tgt_shape, ctx_shape, generator) for _ in range(batch_size)]
        target = torch.stack([r[0] for r in rows])
        context = torch.stack([r[1] for r in rows])
        return self.from_bool(target, context, generator)


def tube_mask_short_long(grid: tuple[int, int, int]) -> list[MultiBlockMask]:
    """V-JEPA's two 3-D generators: 8 short-range blocks (15%) and 2 long-range blocks (70%)."""
    return [
        MultiBlockMask(grid, n_targets=8, target_scale=(0.15, 0.15), context_scale=(1.0, 1.0)),
        MultiBlockMask(grid, n_targets=2, target_scale=(0.7, 0.7), context_scale=(1.0, 1.0)),
    ]


class MaskMixture(MaskSampler):
    """One of several samplers per batch, drawn with ``weights`` (V-JEPA alternates short- and
    long-range tube generators). All samplers must share the grid."""

    def __init__(self, samplers: list[MaskSampler], weights: list[float] | None = None) -> None:
        if not samplers:
            raise ValueError("MaskMixture needs at least one sampler")
        grids = {s.grid for s in samplers}
        if len(grids) != 1:
            raise ValueError(f"samplers disagree on the grid: {sorted(grids)}")
        super().__init__(samplers[0].grid)
        weights = list(weights or [1.0] * len(samplers))
        if len(weights) != len(samplers) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"need one non-negative weight per sampler, got {weights}")
        self.samplers = samplers
        self.weights = torch.tensor(weights, dtype=torch.float64)

    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        pick = int(torch.multinomial(self.weights, 1, generator=generator))
        return self.samplers[pick](batch_size, generator)
