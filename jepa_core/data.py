"""Deterministic step-indexed batching: the batch of step ``s`` is a pure function of (seed, s).

That makes resume exact (no sampler state to save) and shards the same global batch over DDP
ranks, reshuffled every epoch.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import Sampler


class StepBatchSampler(Sampler[list[int]]):
    """Yields this rank's indices for steps ``start_step .. total_steps - 1``.

    The pool (``indices``) is permuted with seed ``seed + epoch``; each step takes the next
    ``batch_size * world_size`` items (incomplete tails are dropped) and this rank keeps its slice.
    """

    def __init__(
        self,
        indices: Sequence[int],
        *,
        batch_size: int,
        total_steps: int,
        start_step: int = 0,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.indices = torch.as_tensor(list(indices), dtype=torch.long)
        self.batch_size, self.total_steps, self.start_step = batch_size, total_steps, start_step
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = len(self.indices) // self.global_batch
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{len(self.indices)} training samples cannot fill one global batch of {self.global_batch}; "
                "lower train.batch_size or add data"
            )

    def batch_for(self, step: int) -> list[int]:
        epoch, pos = divmod(step, self.steps_per_epoch)
        perm = torch.randperm(len(self.indices), generator=torch.Generator().manual_seed(self.seed + epoch))
        start = pos * self.global_batch + self.rank * self.batch_size
        return self.indices[perm[start : start + self.batch_size]].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.total_steps):
            yield self.batch_for(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)


def mask_generator(seed: int, step: int) -> torch.Generator:
    """The generator for step ``step``'s masks: identical on every rank and after a resume."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def filter_by_name(paths: Sequence, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list:
    """Keep paths whose file name matches an ``include`` pattern (all when empty) and no ``exclude`` pattern."""

    def hit(path, patterns) -> bool:
        name = Path(path).name
        return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(name.split(".")[0], p) for p in patterns)

    return [p for p in paths if (not include or hit(p, include)) and not hit(p, exclude)]
