"""Shared command line for every domain's ``pretrain.py``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from jepa_core.config import ConfigError, load_config
from jepa_core.domain import Domain
from jepa_core.errors import InputError


def pretrain_parser(domain: Domain, default_config: Path | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python domains/{domain.name}/pretrain.py",
        description=f"Self-supervised JEPA pretraining for {domain.name}. Re-running with the same --out "
        "resumes from <out>/checkpoints/last.pt and continues exactly.",
        epilog="Overrides are dotted key=value pairs, e.g. train.steps=200 model.depth=2 optim.lr=5e-4. "
        "Unknown keys are errors.",
    )
    parser.add_argument("--config", type=Path, default=default_config, help=f"YAML config (default: {default_config})")
    parser.add_argument(
        "--data-dir", nargs="+", metavar="PATH", help="record folders, record paths or list files (data.sources)"
    )
    parser.add_argument("--out", help="run directory (out)")
    parser.add_argument("--steps", type=int, help="optimisation steps (train.steps)")
    parser.add_argument("--seed", type=int, help="seed for data order, masks and init (train.seed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    return parser


def pretrain_config(domain: Domain, default_config: Path | None, argv: Sequence[str] | None = None) -> DictConfig:
    """The validated config for a command line (raises :class:`ConfigError` on a bad one)."""
    args = pretrain_parser(domain, default_config).parse_args(argv)
    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append("data.sources=[" + ",".join(f"'{p}'" for p in args.data_dir) + "]")
    for flag, key in (("out", "out"), ("steps", "train.steps"), ("seed", "train.seed")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    if args.no_progress:
        overrides.append("train.progress=false")
    return load_config(domain.config_cls, args.config, overrides)


def pretrain_main(domain: Domain, default_config: Path | None, argv: Sequence[str] | None = None) -> int:
    """Parse, load config, train, print where the encoder went. Returns the exit code.

    The same command runs on one device or, launched by ``torchrun --nproc_per_node N``, in N DDP
    processes (each process gets ``train.batch_size`` samples of every step).
    """
    try:
        cfg = pretrain_config(domain, default_config, argv)
        from jepa_core.train import close_world, train  # heavy import (Lightning) only after --help and a valid config

        try:
            result = train(domain, cfg)
        finally:
            close_world()
    except (ConfigError, InputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.is_global_zero:
        print(f"done: {result.steps} steps; encoder and model card in {result.encoder_dir}")
    return 0
