"""Crash safety: a pretraining process killed with SIGKILL resumes bit-identically, and a checkpoint
write that is interrupted never replaces the last good checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from jepa_core import checkpoint
from jepa_core.checkpoint import load_checkpoint, save_checkpoint
from jepa_core.config import load_config
from jepa_core.data import StepSeededDataset
from jepa_core.train import train
from tests.core.toy_domain import TINY, Sinusoids, ToyDomain

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "core" / "toy_pretrain.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO))
# Every source of randomness a resume must replay: augmentation noise drawn while loading (in a
# DataLoader worker), drop path in the encoder, masks, data order, plus RankMe evaluations between.
ARGS = [
    *TINY,
    "train.steps=16",
    "train.ckpt_every=5",
    "train.log_every=1",
    "train.eval_every=8",
    "train.num_workers=1",
    "data.noise=0.2",
    "model.drop_path=0.2",
]


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "--out", str(out), *ARGS, *extra]


def _logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [json.loads(line)["step"] for line in lines if '"loss"' in line]


def _kill_past_first_checkpoint(cmd: list[str], run_dir: Path) -> int:
    """Start ``cmd``; SIGKILL it (and its DataLoader worker) once it has checkpointed and gone 2 steps past."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            steps = _logged_steps(run_dir)
            if (run_dir / "checkpoints" / "last.pt").is_file() and steps and steps[-1] >= 7:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"run was not killed mid-way (rc {proc.returncode}): {err[-2000:]}"
    return _logged_steps(run_dir)[-1]


def test_sigkill_between_checkpoints_then_rerun_is_bit_identical(tmp_path):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    with open(tmp_path / "straight.log", "w") as log:  # the uninterrupted reference runs alongside
        reference = subprocess.Popen(_command(straight), cwd=REPO, env=ENV, stdout=log, stderr=log)
    try:
        # the killed run loads items slowly so that it can be caught between checkpoints (no effect on results)
        killed_at = _kill_past_first_checkpoint(_command(crashed, "data.delay_s=0.003"), crashed)
        saved = load_checkpoint(crashed / "checkpoints" / "last.pt")["step"]
        assert saved % 5 == 0 and saved < killed_at < 16  # steps after the checkpoint were lost, to be replayed
        rerun = subprocess.run(_command(crashed, "data.delay_s=0.003"), cwd=REPO, env=ENV, capture_output=True,
                               text=True, timeout=300)  # fmt: skip
        assert rerun.returncode == 0 and f"at step {saved}" in rerun.stdout, rerun.stdout + rerun.stderr[-2000:]
        assert reference.wait(timeout=300) == 0, (tmp_path / "straight.log").read_text()[-2000:]
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()

    a, b = (load_checkpoint(d / "checkpoints" / "last.pt") for d in (straight, crashed))
    assert a["step"] == b["step"] == 16
    for key in a["model"]:  # online, EMA target and predictor weights
        assert torch.equal(a["model"][key], b["model"][key]), key
    for pid, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][pid][name]), (pid, name)
    enc_a, enc_b = (load_file(d / "encoder" / "encoder.safetensors") for d in (straight, crashed))
    assert all(torch.equal(enc_a[k], enc_b[k]) for k in enc_a)
    assert _logged_steps(crashed) == _logged_steps(straight)  # replayed steps are logged once, not twice


def test_item_randomness_is_a_function_of_step_and_item():
    items = StepSeededDataset(Sinusoids(8, 2, 32, noise=1.0), seed=0)
    torch.manual_seed(123)
    first = items[(5, 3)]["x"]
    before = torch.get_rng_state()
    torch.rand(1000)  # whatever the caller's RNG did in between
    assert torch.equal(items[(5, 3)]["x"], first)
    assert not torch.equal(items[(6, 3)]["x"], first)  # a new epoch/step draws new noise
    after = torch.get_rng_state()
    torch.manual_seed(123)
    torch.rand(1000)
    assert torch.equal(after, torch.get_rng_state()) and not torch.equal(before, after)  # global RNG untouched


@pytest.fixture
def good_run(tmp_path) -> Path:
    """A toy run stopped at step 5: ``checkpoints/last.pt`` is a good checkpoint of step 5."""
    cfg = load_config(ToyDomain.config_cls, None, [*TINY, "train.steps=8", "train.stop_at=5", f"out={tmp_path}"])
    train(ToyDomain(), cfg)
    return tmp_path


HALF_WRITE = """
    import sys, time, torch
    from jepa_core.checkpoint import save_checkpoint

    real_save = torch.save

    def half_save(obj, path):  # torch.save that gets killed half-way through the file
        real_save(obj, path)
        data = open(path, "rb").read()
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
        print("half written", flush=True)
        time.sleep(120)

    torch.save = half_save
    save_checkpoint(sys.argv[1], {"step": 99, "model": {"w": torch.randn(1 << 20)}})
"""


def test_checkpoint_killed_while_written_keeps_last_good(good_run):
    last = good_run / "checkpoints" / "last.pt"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HALF_WRITE), str(last)], cwd=REPO, env=ENV,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "half written"
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.communicate(timeout=60)
    partial = list(last.parent.glob(".last.pt.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size > 1 << 20  # the half file is left behind...
    assert load_checkpoint(last)["step"] == 5  # ...and last.pt is still the previous good checkpoint

    cfg = load_config(ToyDomain.config_cls, None, [*TINY, "train.steps=8", f"out={good_run}"])
    result = train(ToyDomain(), cfg)  # resumes from last.pt (step 5), ignores and removes the partial file
    assert result.steps == 8 and load_checkpoint(last)["step"] == 8
    assert not list(last.parent.glob("*.tmp"))


def test_checkpoint_write_that_raises_keeps_last_good(tmp_path, monkeypatch):
    last = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(last, {"step": 5})

    def failing_save(obj, path):
        Path(path).write_bytes(b"\x80\x02partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(last, {"step": 99})
    assert load_checkpoint(last)["step"] == 5
    assert not list(last.parent.glob("*.tmp"))
