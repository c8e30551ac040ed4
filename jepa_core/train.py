"""The JEPA training loop on Lightning Fabric: one code path for CPU, one GPU and torchrun DDP.

Run directory layout::

    <out>/config.yaml          resolved config
    <out>/metrics.jsonl        one JSON line per log/eval event
    <out>/checkpoints/last.pt  full state, written atomically; a rerun resumes from it
    <out>/encoder/             encoder.safetensors + model card (written at the end)

Every random draw of step ``s`` comes from generators seeded by ``(seed, s)``: the batch (the
sampler), the masks, the augmentations (per item) and the model's own draws such as drop path (per
rank). Resuming from a checkpoint (model, EMA target, optimizer, step) therefore replays the run
exactly, and under DDP all ranks agree on everything that must be shared. Only rank 0 writes files.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from lightning.fabric import Fabric
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from jepa_core.checkpoint import atomic_write, load_checkpoint, remove_partial_writes, save_checkpoint, save_encoder
from jepa_core.config import to_plain
from jepa_core.data import StepBatchSampler, StepSeededDataset, fold_seed, mask_generator
from jepa_core.domain import Domain
from jepa_core.ema import momentum_at
from jepa_core.eval.embed import embed_dataset
from jepa_core.eval.rankme import rankme
from jepa_core.schedules import cosine_lr, cosine_ramp, make_optimizer


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    last_metrics: dict
    encoder_dir: Path
    model: nn.Module | None = None  # the trained model (unwrapped; the same on every rank)
    is_global_zero: bool = True  # False in the other torchrun/DDP processes


def launch_world(devices: str, num_nodes: int) -> tuple[int | str, int]:
    """``(devices, num_nodes)`` for Fabric: under torchrun, ``devices="auto"`` means its world.

    Lightning's own "auto" is 1 device on CPU and every visible GPU on CUDA, neither of which need
    match ``--nproc_per_node``; torchrun's LOCAL_WORLD_SIZE and WORLD_SIZE do.
    """
    if devices != "auto":
        return int(devices), num_nodes
    if torch.distributed.is_available() and torch.distributed.is_torchelastic_launched():
        local, world = int(os.environ["LOCAL_WORLD_SIZE"]), int(os.environ["WORLD_SIZE"])
        return local, world // local
    return "auto", num_nodes


def close_world() -> None:
    """Destroy the DDP process group, if any, before the process exits.

    Leaving it to interpreter shutdown lets gloo's threads die in arbitrary order, which now and then
    aborts a finished run with "terminate called without an active exception" (a non-zero exit).
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def make_fabric(cfg: DictConfig) -> Fabric:
    """Fabric from ``cfg.train``; strategy "auto" is DDP (gloo on CPU, NCCL on GPU) for > 1 process."""
    t = cfg.train
    precision = t.precision
    if precision == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        precision = "bf16-mixed" if cuda_bf16 and t.accelerator in ("auto", "cuda", "gpu") else "32-true"
    devices, num_nodes = launch_world(t.devices, t.num_nodes)
    return Fabric(
        accelerator=t.accelerator, devices=devices, strategy=t.strategy, num_nodes=num_nodes, precision=precision
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

    def rewind(self, step: int) -> None:
        """Drop the records of steps after ``step`` (a resumed run replays them), atomically."""
        if not (self.enabled and self.path.is_file()):
            return
        lines = self.path.read_text().splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        if len(kept) != len(lines):
            atomic_write(self.path, lambda tmp: Path(tmp).write_text("".join(f"{line}\n" for line in kept)))


def _state(model, optimizer, step: int, cfg: DictConfig) -> dict:
    # No RNG state: every draw of a step is seeded from (seed, step), see the module docstring.
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "config": to_plain(cfg)}


def _resume(fabric: Fabric, ckpt_path: Path, model: nn.Module, optimizer) -> int:
    """Load ``last.pt`` (read by rank 0, broadcast to the others) into model and optimizer; the step."""
    state = load_checkpoint(ckpt_path) if fabric.is_global_zero and ckpt_path.is_file() else None
    if fabric.world_size > 1:
        state = fabric.broadcast(state, src=0)  # other nodes need not see rank 0's filesystem
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if fabric.is_global_zero:  # fabric.print would print once per node, not once per job
        print(f"resuming from {ckpt_path} at step {state['step']}", flush=True)
    return int(state["step"])


def _loader(fabric: Fabric, dataset: Dataset, train_idx: list[int], cfg: DictConfig, start_step: int):
    t = cfg.train
    sampler = StepBatchSampler(
        train_idx,
        batch_size=t.batch_size,
        total_steps=t.steps,
        start_step=start_step,
        seed=t.seed,
        rank=fabric.global_rank,
        world_size=fabric.world_size,
        keyed=True,
    )
    loader = DataLoader(
        StepSeededDataset(dataset, t.seed), batch_sampler=sampler, num_workers=t.num_workers, persistent_workers=False
    )
    return fabric.setup_dataloaders(loader, use_distributed_sampler=False)


def _optimise(fabric: Fabric, model, raw: nn.Module, optimizer, batch: dict, masker, step: int, cfg: DictConfig):
    """One step on this rank's slice of the global batch.

    Returns the loss parts averaged over ranks (tensors) and the schedule values used.
    """
    t, o = cfg.train, cfg.optim
    x = batch["x"]
    sched = {
        "lr": cosine_lr(step, total=t.steps, base=o.lr, minimum=o.min_lr, warmup=o.warmup_steps),
        "weight_decay": cosine_ramp(step, total=t.steps, start=o.weight_decay, end=o.weight_decay_end),
        "momentum": momentum_at(step + 1, t.steps, cfg.objective.ema_start, cfg.objective.ema_end),
    }
    for group in optimizer.param_groups:
        group["lr"] = sched["lr"]
        group["weight_decay"] = sched["weight_decay"] if group.get("apply_wd", True) else 0.0
    masks = masker(t.batch_size * fabric.world_size, mask_generator(t.seed, step))  # the global batch's
    lo, hi = fabric.global_rank * t.batch_size, (fabric.global_rank + 1) * t.batch_size
    masks = type(masks)(context=masks.context[lo:hi].to(x.device), target=masks.target[lo:hi].to(x.device))
    parts = model(x, masks, step=step)
    names = list(parts)
    means = fabric.all_reduce(torch.stack([parts[k].detach().float() for k in names]), reduce_op="mean")
    if not torch.isfinite(means[names.index("loss")]):  # the same verdict on every rank: none is left waiting
        raise FloatingPointError(f"non-finite loss at step {step}: {dict(zip(names, means.tolist(), strict=True))}")
    optimizer.zero_grad(set_to_none=True)
    fabric.backward(parts["loss"])
    if o.grad_clip > 0:
        fabric.clip_gradients(model, optimizer, max_norm=o.grad_clip, error_if_nonfinite=False)
    optimizer.step()
    raw.update_target(sched["momentum"])
    return dict(zip(names, means, strict=True)), sched


def _evaluate(fabric: Fabric, domain: Domain, raw: nn.Module, eval_set: Dataset, cfg: DictConfig) -> dict:
    """RankMe of held-out embeddings. Called on rank 0 only (no collectives: the others just wait)."""
    emb = embed_dataset(
        raw.downstream_encoder, eval_set, domain.pool, batch_size=cfg.train.batch_size, device=fabric.device
    )
    return {"rankme": rankme(emb), "embed_std": float(emb.std(0).mean()), "embed_dim": emb.shape[1]}


def train(domain: Domain, cfg: DictConfig, *, fabric: Fabric | None = None) -> TrainResult:
    """Pretrain ``domain`` with ``cfg``; resumes from ``<out>/checkpoints/last.pt`` when present.

    Under torchrun every process calls this; ``cfg.train.batch_size`` is per process.
    """
    fabric = fabric or make_fabric(cfg)
    fabric.launch()
    t, o = cfg.train, cfg.optim
    run_dir = Path(cfg.out)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if fabric.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
        remove_partial_writes(ckpt_path)
    torch.manual_seed(t.seed)

    dataset = domain.pretrain_dataset(cfg)
    train_idx, eval_idx = split_eval(len(dataset), t.eval_samples, t.seed)
    model = domain.build_model(cfg)
    optimizer = make_optimizer(model, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
    start_step = _resume(fabric, ckpt_path, model, optimizer)

    raw = model
    model, optimizer = fabric.setup(model, optimizer)
    loader = _loader(fabric, dataset, train_idx, cfg, start_step)
    masker = domain.mask_sampler(cfg, raw.encoder.grid_for(domain.sample_shape(cfg)))
    log = MetricsLog(run_dir / "metrics.jsonl", fabric.is_global_zero)
    log.rewind(start_step)
    eval_set = Subset(dataset, eval_idx)

    step, last, tic = start_step, {}, time.perf_counter()
    show = t.progress and fabric.is_global_zero
    bar = tqdm(total=t.steps, initial=start_step, disable=not show, desc=f"pretrain {domain.name}")
    for batch in loader:
        torch.manual_seed(fold_seed("step", t.seed, step, fabric.global_rank))  # drop path etc.
        parts, sched = _optimise(fabric, model, raw, optimizer, batch, masker, step, cfg)
        step += 1
        bar.update(1)

        if step % t.log_every == 0 or step == t.steps:
            elapsed = time.perf_counter() - tic
            last = {k: float(v) for k, v in parts.items()}
            last.update(
                step=step,
                **sched,
                samples_per_s=t.log_every * t.batch_size * fabric.world_size / max(elapsed, 1e-9),
            )
            log.write(last)
            bar.set_postfix(loss=f"{last['loss']:.4f}")
            if not t.progress and fabric.is_global_zero:  # batch jobs: a plain line per log interval
                print(f"step {step}/{t.steps}: loss {last['loss']:.4f}  lr {last['lr']:.2e}  "
                      f"{last['samples_per_s']:.0f} samples/s", flush=True)  # fmt: skip
            tic = time.perf_counter()
        evaluating = t.eval_every and (step % t.eval_every == 0 or step == t.steps) and len(eval_set) > 1
        if evaluating and fabric.is_global_zero:
            ev = _evaluate(fabric, domain, raw, eval_set, cfg)
            log.write({"step": step, "rankme": ev["rankme"], "embed_std": ev["embed_std"]})
            print(f"step {step}: loss {float(parts['loss']):.4f}  RankMe {ev['rankme']:.1f}/{ev['embed_dim']}")
            last["rankme"] = ev["rankme"]
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
    return TrainResult(
        run_dir=run_dir,
        steps=step,
        last_metrics=last,
        encoder_dir=encoder_dir,
        model=raw,
        is_global_zero=fabric.is_global_zero,
    )


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
