"""DDP under torchrun: 2 CPU processes (gloo) running the real CLI on the toy domain.

One global batch of 16 is 8 per rank. The config includes SIGReg and the variance term (batch
statistics, gathered over ranks) and a RankMe evaluation (rank 0 only), so the equivalence with a
single process of batch 16 also covers them. The DDP run is stopped and resumed half-way (two
torchrun launches; each costs ~20 s of imports on 2 cores), so the comparison with the uninterrupted
single process covers the resume too; bit-exact resume is tested in ``test_crash_resume.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jepa_core.checkpoint import load_checkpoint
from jepa_core.config import load_config
from jepa_core.data import StepBatchSampler
from jepa_core.train import launch_world, train
from tests.core.torchrun_nodes import run_two_nodes
from tests.core.toy_domain import TINY, ToyDomain

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "core" / "toy_pretrain.py"
STEPS = 6
ARGS = [
    *(a for a in TINY if not a.startswith(("train.batch_size=", "train.devices="))),
    f"train.steps={STEPS}",
    "train.log_every=1",
    "train.eval_every=3",
    "train.ckpt_every=3",
    "optim.warmup_steps=2",
    "objective.sigreg_weight=0.1",
    "objective.variance_weight=0.1",
]


def run_script(args: list[str], nproc: int = 0) -> subprocess.CompletedProcess:
    """``tests/core/toy_pretrain.py`` as a process: plain python, or under torchrun with ``nproc`` ranks."""
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc else []
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, *launcher, str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _model(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def _losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> dict:
    """Two torchrun launches of one run: stopped at step 4 (``train.stop_at``), then rerun to the end."""
    out = tmp_path_factory.mktemp("ddp")
    args = ["--out", str(out / "run"), "--ranks-report", str(out / "ranks.json"), *ARGS, "train.batch_size=8"]
    run_script([*args, "train.stop_at=4"], 2)
    stopped = load_checkpoint(out / "run" / "checkpoints" / "last.pt")["step"]
    resumed = run_script(args, 2)
    return {"out": out, "run": out / "run", "stopped_at": stopped, "stdout": resumed.stdout}


def test_ranks_hold_identical_parameters(ddp_run):
    report = json.loads((ddp_run["out"] / "ranks.json").read_text())
    assert report["world_size"] == 2 and report["num_params"] > 10_000
    assert report["bitwise_equal"], report  # online + EMA target + predictor, after resuming on both ranks
    # rank 0 alone writes: one metrics line per step (not two), RankMe only from rank 0
    rows = [json.loads(line) for line in (ddp_run["run"] / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, STEPS + 1))
    assert [r["step"] for r in rows if "rankme" in r] == [3, 6]
    assert (ddp_run["run"] / "encoder" / "encoder.safetensors").is_file()


def test_stopped_run_resumes_under_torchrun(ddp_run):
    assert ddp_run["stopped_at"] == 4
    assert "at step 4" in ddp_run["stdout"] and ddp_run["stdout"].count("resuming from") == 1  # rank 0 prints
    assert load_checkpoint(ddp_run["run"] / "checkpoints" / "last.pt")["step"] == STEPS


def test_matches_uninterrupted_single_process_with_the_same_global_batch(ddp_run, tmp_path):
    cfg = load_config(ToyDomain.config_cls, None, [*ARGS, "train.batch_size=16", f"out={tmp_path / 'single'}"])
    single = train(ToyDomain(), cfg)
    ddp_losses, single_losses = _losses(ddp_run["run"]), _losses(single.run_dir)
    assert ddp_losses == pytest.approx(single_losses, rel=1e-5, abs=1e-6)  # global-batch means, SIGReg included
    a, b = _model(ddp_run["run"]), _model(single.run_dir)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=0, msg=key)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # really two different computations


def test_launch_world_follows_torchrun(monkeypatch):
    for var in ("TORCHELASTIC_RUN_ID", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert launch_world("auto", 1) == ("auto", 1)
    assert launch_world("2", 1) == (2, 1)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert launch_world("auto", 1) == (4, 2)  # 2 nodes x 4 processes
    assert launch_world("4", 2) == (4, 2)  # explicit values are kept (Fabric checks them)


def test_sampler_shards_the_single_process_batch_and_reshuffles_each_epoch():
    pool, batch, steps = list(range(100, 150)), 5, 12  # 50 items: 5 steps of 10 per epoch
    single = StepBatchSampler(pool, batch_size=2 * batch, total_steps=steps, seed=3)
    ranks = [StepBatchSampler(pool, batch_size=batch, total_steps=steps, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for step, (a, b, whole) in enumerate(zip(*ranks, single, strict=True)):
        assert a + b == whole and not set(a) & set(b), step
    epochs = [sum((single.batch_for(s) for s in range(e * 5, e * 5 + 5)), []) for e in (0, 1)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == pool  # each epoch visits every item once
    assert epochs[0] != epochs[1]  # in a new order
    keyed = StepBatchSampler(pool, batch_size=2 * batch, total_steps=steps, start_step=7, seed=3, keyed=True)
    assert next(iter(keyed)) == [(7, i) for i in single.batch_for(7)]  # (step, item) keys for the item seeds


def test_two_nodes_with_separate_disks_train_stop_and_resume_like_one_machine(ddp_run, tmp_path):
    """Multi-node torchrun (2 agents x 1 process, c10d rendezvous). Each node gets its own output
    folder, as machines without shared storage would: node 1 must write nothing (global rank 0
    alone writes, not every node's local rank 0) and must resume from rank 0's checkpoint, which
    it cannot see. The result is the single-machine 2-process run's."""
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    args = [
        ["--out", str(n / "run"), "--ranks-report", str(n / "ranks.json"), *ARGS, "train.batch_size=8"] for n in nodes
    ]
    run_two_nodes(SCRIPT, [[*a, "train.stop_at=4"] for a in args], "stop")
    resumed = run_two_nodes(SCRIPT, args, "resume")
    assert not nodes[1].exists() or not any(nodes[1].rglob("*")), sorted(map(str, nodes[1].rglob("*")))
    assert sum(out.count("resuming from") for out in resumed) == 1  # rank 0 only, at step 4
    assert "at step 4" in resumed[0]
    report = json.loads((nodes[0] / "ranks.json").read_text())
    assert report["world_size"] == 2 and report["bitwise_equal"], report
    run = nodes[0] / "run"
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
            if "loss" in json.loads(line)] == list(range(1, STEPS + 1))  # fmt: skip
    assert _losses(run) == pytest.approx(_losses(ddp_run["run"]), rel=1e-6, abs=1e-7)
    a, b = _model(run), _model(ddp_run["run"])
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0, msg=key)
