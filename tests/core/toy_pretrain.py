"""The toy domain's ``pretrain.py``: the shared CLI, for tests that run training as real processes.

    python tests/core/toy_pretrain.py --out RUN train.steps=10 [key=value ...]
    torchrun --standalone --nproc_per_node 2 tests/core/toy_pretrain.py --out RUN --ranks-report R.json ...

``--ranks-report PATH``: after training, every rank all-gathers its flat parameter vector (online
and EMA target encoders, predictor) and rank 0 writes how far the ranks are apart as JSON.
Needs the repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from jepa_core.cli import pretrain_config
from jepa_core.train import close_world, train
from tests.core.toy_domain import ToyDomain


def ranks_report(model: torch.nn.Module, path: Path) -> None:
    flat = torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])
    world = dist.get_world_size() if dist.is_initialized() else 1
    gathered = [torch.empty_like(flat) for _ in range(world)]
    if world > 1:
        dist.all_gather(gathered, flat)
    else:
        gathered = [flat]
    if not dist.is_initialized() or dist.get_rank() == 0:
        report = {
            "world_size": world,
            "num_params": flat.numel(),
            "max_abs_diff": max(float((g - gathered[0]).abs().max()) for g in gathered),
            "bitwise_equal": all(torch.equal(g, gathered[0]) for g in gathered),
        }
        path.write_text(json.dumps(report))


def main(argv: list[str]) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--ranks-report", type=Path)
    extra, rest = pre.parse_known_args(argv)
    domain = ToyDomain()
    try:
        result = train(domain, pretrain_config(domain, None, rest))
        if extra.ranks_report:
            ranks_report(result.model, extra.ranks_report)
    finally:
        close_world()
    print(f"done: {result.steps} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
