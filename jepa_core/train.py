"""The JEPA training loop on Lightning Fabric: one code path for CPU, one GPU and torchrun DDP.

Run directory layout::

    <out>/config.yaml          resolved config
    <out>/metrics.jsonl        one JSON line per log/eval event
    <out>/checkpoints/last.pt  full state, written atomically; a rerun resumes from it
    <out>/encoder/             encoder.safetensors + model card (written at the end)
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning.fabric import Fabric
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from jepa_core.checkpoint import load_checkpoint, save_checkpoint, save_encoder
from jepa_core.config import to_plain
from jepa_core.data import StepBatchSampler, mask_generator
from jepa_core.domain import Domain
from jepa_core.ema import momentum_at
from jepa_core.eval.embed import embed_dataset
from jepa_core.eval.rankme import rankme
from jepa_core.schedules import cosine_lr, cosine_ramp, param_groups


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    last_metrics: dict
    encoder_dir: Path


def make_fabric(cfg: DictConfig) -> Fabric:
    t = cfg.train
    precision = t.precision
    if precision == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        precision = "bf16-mixed" if cuda_bf16 and t.accelerator in ("auto", "cuda", "gpu") else "32-true"
    devices = t.devices if t.devices == "auto" else int(t.devices)
    return Fabric(
        accelerator=t.accelerator, devices=devices, strategy=t.strategy, num_nodes=t.num_nodes, precision=precision
    )


def split_eval(n: int, n_eval: int, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``n_eval`` samples (at most a quarter) for collapse monitoring."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_eval = min(n_eval, n // 4)
    return perm[n_eval:], perm[:n_eval]


class MetricsLog:
    """Append-only ``metrics.jsonl`` written by rank 0."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")


def _state(model, optimizer, step: int, cfg: DictConfig) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
        "config": to_plain(cfg),
    }


def train(domain: Domain, cfg: DictConfig, *, fabric: Fabric | None = None) -> TrainResult:
    """Pretrain ``domain`` with ``cfg``; resumes from ``<out>/checkpoints/last.pt`` when present."""
    fabric = fabric or make_fabric(cfg)
    fabric.launch()
    t, o = cfg.train, cfg.optim
    run_dir = Path(cfg.out)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if fabric.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    torch.manual_seed(t.seed)

    dataset = domain.pretrain_dataset(cfg)
    train_idx, eval_idx = split_eval(len(dataset), t.eval_samples, t.seed)
    model = domain.build_model(cfg)
    optimizer = torch.optim.AdamW(param_groups(model), lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)

    start_step = 0
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start_step = int(state["step"])
        fabric.print(f"resuming from {ckpt_path} at step {start_step}")

    raw = model
    model, optimizer = fabric.setup(model, optimizer)
    sampler = StepBatchSampler(
        train_idx,
        batch_size=t.batch_size,
        total_steps=t.steps,
        start_step=start_step,
        seed=t.seed,
        rank=fabric.global_rank,
        world_size=fabric.world_size,
    )
    loader = fabric.setup_dataloaders(
        DataLoader(dataset, batch_sampler=sampler, num_workers=t.num_workers, persistent_workers=False),
        use_distributed_sampler=False,
    )
    grid = raw.encoder.grid_for(domain.sample_shape(cfg))
    masker = domain.mask_sampler(cfg, grid)
    log = MetricsLog(run_dir / "metrics.jsonl", fabric.is_global_zero)
    eval_set = Subset(dataset, eval_idx)

    step, last, tic = start_step, {}, time.perf_counter()
    bar = tqdm(
        total=t.steps,
        initial=start_step,
        disable=not (t.progress and fabric.is_global_zero),
        desc=f"pretrain {domain.name}",
    )
    for batch in loader:
        x = batch["x"]
        lr = cosine_lr(step, total=t.steps, base=o.lr, minimum=o.min_lr, warmup=o.warmup_steps)
        wd = cosine_ramp(step, total=t.steps, start=o.weight_decay, end=o.weight_decay_end)
        for group in optimizer.param_groups:
            group["lr"] = lr
            group["weight_decay"] = wd if group.get("apply_wd", True) else 0.0
        masks = masker(t.batch_size * fabric.world_size, mask_generator(t.seed, step))
        lo, hi = fabric.global_rank * t.batch_size, (fabric.global_rank + 1) * t.batch_size
        masks = type(masks)(context=masks.context[lo:hi].to(x.device), target=masks.target[lo:hi].to(x.device))
        parts = model(x, masks, step=step)
        if not torch.isfinite(parts["loss"]):
            raise FloatingPointError(f"non-finite loss at step {step}: {parts['loss'].item()}")
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(parts["loss"])
        if o.grad_clip > 0:
            fabric.clip_gradients(model, optimizer, max_norm=o.grad_clip, error_if_nonfinite=False)
        optimizer.step()
        momentum = momentum_at(step + 1, t.steps, cfg.objective.ema_start, cfg.objective.ema_end)
        raw.update_target(momentum)
        step += 1
        bar.update(1)

        if step % t.log_every == 0 or step == t.steps:
            elapsed = time.perf_counter() - tic
            last = {k: float(v.detach()) for k, v in parts.items()}
            last.update(
                step=step,
                lr=lr,
                weight_decay=wd,
                momentum=momentum,
                samples_per_s=t.log_every * t.batch_size * fabric.world_size / max(elapsed, 1e-9),
            )
            log.write(last)
            bar.set_postfix(loss=f"{last['loss']:.4f}")
            tic = time.perf_counter()
        if t.eval_every and (step % t.eval_every == 0 or step == t.steps) and len(eval_set) > 1:
            emb = embed_dataset(
                raw.downstream_encoder, eval_set, domain.pool, batch_size=t.batch_size, device=fabric.device
            )
            rank = rankme(emb)
            log.write({"step": step, "rankme": rank, "embed_std": float(emb.std(0).mean())})
            fabric.print(f"step {step}: loss {parts['loss'].item():.4f}  RankMe {rank:.1f}/{emb.shape[1]}")
            last["rankme"] = rank
        stopping = step == t.stop_at
        if step % t.ckpt_every == 0 or step == t.steps or stopping:
            if fabric.is_global_zero:
                save_checkpoint(ckpt_path, _state(raw, optimizer, step, cfg))
            fabric.barrier()
        if stopping:
            break
    bar.close()

    encoder_dir = run_dir / "encoder"
    if fabric.is_global_zero and step == t.steps:
        export_trained_encoder(domain, raw, cfg, encoder_dir, step, last)
    fabric.barrier()
    return TrainResult(run_dir=run_dir, steps=step, last_metrics=last, encoder_dir=encoder_dir)


def export_trained_encoder(domain: Domain, model, cfg: DictConfig, encoder_dir: Path, step: int, metrics: dict) -> None:
    """Encoder-only safetensors + model card, as used by export, probes and the app."""
    source = "ema_target" if model.target_encoder is not None else "online_context_encoder"
    card = {
        "name": f"{domain.name}-jepa",
        "summary": f"JEPA encoder for {domain.name}, pretrained self-supervised (no labels).",
        "domain": domain.name,
        "encoder_used_downstream": source,
        "pooling": domain.pooling,
        "trained_steps": step,
        "training_command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "input_spec": domain.input_spec(cfg),
        "training_data": getattr(domain, "training_data", lambda c: {})(cfg),
        "metrics": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()},
        "config": to_plain(cfg),
    }
    save_encoder(encoder_dir, model.downstream_encoder, card)
