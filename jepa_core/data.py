"""Deterministic step-indexed batching: the batch of step ``s`` is a pure function of (seed, s).

That makes resume exact (no sampler state to save) and shards the same global batch over DDP
ranks, reshuffled every epoch. Random draws made while loading an item (augmentations) come from
RNGs seeded by (seed, step, item), so they too replay after a resume, whatever the number of ranks
or DataLoader workers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def fold_seed(*parts: Any) -> int:
    """A well-mixed 63-bit seed from ``parts`` (ints or strings), the same in every process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class StepBatchSampler(Sampler[list[int]]):
    """Yields this rank's indices for steps ``start_step .. total_steps - 1``.

    The pool (``indices``) is permuted with seed ``seed + epoch``; each step takes the next
    ``batch_size * world_size`` items (incomplete tails are dropped) and this rank keeps its slice
    (rank ``r`` gets items ``r * batch_size .. (r + 1) * batch_size - 1`` of the global batch, so the
    ranks together see exactly the batch a single process with ``batch_size * world_size`` sees).
    With ``keyed=True`` it yields ``(step, index)`` pairs for :class:`StepSeededDataset`.
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
        keyed: bool = False,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.keyed = keyed
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
            batch = self.batch_for(step)
            yield [(step, i) for i in batch] if self.keyed else batch

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)


class StepSeededDataset(Dataset):
    """``dataset[i]`` fetched by the key ``(step, i)``, with torch's CPU RNG, NumPy's and Python's
    global RNGs seeded from ``(seed, step, i)`` for the call and restored afterwards.

    Augmentations drawn from those RNGs are then a function of the step and the item only: identical
    after a resume, in a DataLoader worker or the main process, with 1 or N DDP ranks.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        step, index = key
        seed = fold_seed("item", self.seed, step, index)
        np_state, py_state = np.random.get_state(), random.getstate()
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            try:
                return self.dataset[index]
            finally:
                np.random.set_state(np_state)
                random.setstate(py_state)


def mask_generator(seed: int, step: int) -> torch.Generator:
    """The generator for step ``step``'s masks: identical on every rank and after a resume."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def filter_by_name(
    paths: Sequence,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    key: Callable[[Any], str] | None = None,
) -> list:
    """Keep paths whose name matches an ``include`` fnmatch pattern (all when empty) and no ``exclude`` pattern.

    The name is ``key(path)`` when given (e.g. a ``class/stem`` id or the full path), else the file name
    or the file name up to its first dot.
    """

    def names(path) -> list[str]:
        if key is not None:
            return [key(path)]
        name = Path(path).name
        return [name, name.split(".")[0]]

    def hit(path, patterns) -> bool:
        return any(fnmatch.fnmatch(n, p) for n in names(path) for p in patterns)

    return [p for p in paths if (not include or hit(p, include)) and not hit(p, exclude)]
