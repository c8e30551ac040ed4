"""SAR-JEPA local masking: a few windows of patches, most patches inside each window masked."""

from __future__ import annotations

import torch

from jepa_core.masking import Masks, MaskSampler, _randint


class LocalWindowMask(MaskSampler):
    """``n_windows`` non-overlapping ``window`` x ``window`` boxes of patches per sample; inside each,
    ``round(ratio * window**2)`` patches at random are targets. Every other patch is context.

    Local masking keeps context right next to every target, so the predictor learns local
    structure (edges, scatterers) rather than guessing a whole missing region.
    """

    def __init__(self, grid: tuple[int, int], *, window: int = 4, n_windows: int = 2, ratio: float = 0.75) -> None:
        super().__init__(grid)
        if len(self.grid) != 2:
            raise ValueError(f"LocalWindowMask needs a 2-D grid, got {grid}")
        if not 0.0 < ratio < 1.0 or window < 1 or n_windows < 1:
            raise ValueError(f"need 0 < ratio < 1, window >= 1, n_windows >= 1; got {ratio}, {window}, {n_windows}")
        self.window = min(window, *self.grid)
        self.n_windows, self.ratio = n_windows, ratio
        self.per_window = max(1, min(self.window**2 - 1, round(ratio * self.window**2)))
        tiles = (self.grid[0] // self.window) * (self.grid[1] // self.window)
        if self.window == 1 and n_windows >= tiles:  # 1-patch windows are all target: keep one patch as context
            raise ValueError(
                f"{n_windows} windows of 1 patch would mask every patch of the {self.grid} grid; "
                "use a larger window or fewer windows"
            )

    def _sample_one(self, generator: torch.Generator) -> torch.Tensor:
        h, w, k = *self.grid, self.window
        # Windows are tiles of a k x k tiling whose offset is drawn per sample, so they never overlap.
        top0, left0 = _randint(generator, 0, h % k), _randint(generator, 0, w % k)
        tiles = [(top0 + i * k, left0 + j * k) for i in range(h // k) for j in range(w // k)]
        chosen = torch.randperm(len(tiles), generator=generator)[: self.n_windows].tolist()
        target = torch.zeros(self.grid, dtype=torch.bool)
        for t in chosen:
            top, left = tiles[t]
            cells = torch.zeros(k * k, dtype=torch.bool)
            cells[torch.randperm(k * k, generator=generator)[: self.per_window]] = True
            target[top : top + k, left : left + k] = cells.reshape(k, k)
        return target.reshape(-1)

    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        target = torch.stack([self._sample_one(generator) for _ in range(batch_size)])
        return self.from_bool(target, ~target, generator)
