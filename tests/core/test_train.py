import json

import pytest
import torch

from jepa_core.checkpoint import load_checkpoint, save_checkpoint
from jepa_core.config import load_config
from jepa_core.errors import InputError
from jepa_core.train import train
from tests.core.toy_domain import TINY, ToyDomain


def _cfg(tmp_path, name, *extra):
    return load_config(ToyDomain.config_cls, None, [*TINY, f"out={tmp_path / name}", *extra])


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_loss_falls_and_artifacts_written(tmp_path, capsys):
    torch.manual_seed(0)
    result = train(ToyDomain(), _cfg(tmp_path, "run", "train.steps=60", "optim.lr=2e-3", "train.progress=false"))
    losses = [m["loss"] for m in _metrics(result.run_dir) if "loss" in m]
    assert len(losses) == 12
    # without a progress bar, a batch job still logs a plain line per interval
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("step ") and "samples/s" in ln]
    assert len(printed) == 12 and printed[-1].startswith("step 60/60: loss ")
    assert sum(losses[-3:]) / 3 < 0.85 * sum(losses[:2]) / 2, losses
    assert any("rankme" in m for m in _metrics(result.run_dir))
    assert (result.run_dir / "config.yaml").is_file()
    card = json.loads((result.encoder_dir / "model_card.json").read_text())
    assert card["encoder_used_downstream"] == "ema_target" and card["trained_steps"] == 60
    assert (result.encoder_dir / "encoder.safetensors").is_file()


def test_bf16_mixed_precision_trains_on_cpu(tmp_path):
    """Fabric's AMP converts the model's inputs (masks included); the default on a bf16 GPU, testable on CPU."""
    result = train(ToyDomain(), _cfg(tmp_path, "bf16", "train.steps=4", "train.precision=bf16-mixed"))
    assert result.steps == 4
    assert all(torch.isfinite(torch.tensor(m["loss"])) for m in _metrics(result.run_dir) if "loss" in m)


def test_resume_continues_exactly(tmp_path):
    """20 steps straight == 10 steps, stop, rerun to 20 (data order, masks and EMA are step functions)."""
    straight = train(ToyDomain(), _cfg(tmp_path, "a", "train.steps=20"))
    stopped = train(ToyDomain(), _cfg(tmp_path, "b", "train.steps=20", "train.stop_at=10"))
    assert stopped.steps == 10 and not (stopped.encoder_dir / "encoder.safetensors").exists()
    # the second call has more steps to do: it must resume from checkpoints/last.pt at step 10
    resumed = train(ToyDomain(), _cfg(tmp_path, "b", "train.steps=20"))
    a = load_checkpoint(straight.run_dir / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(resumed.run_dir / "checkpoints" / "last.pt")["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_differs_from_fresh_start_when_lr_schedule_used(tmp_path):
    """Guard for the test above: a run restarted from step 0 does NOT match."""
    straight = train(ToyDomain(), _cfg(tmp_path, "a", "train.steps=20"))
    other = train(ToyDomain(), _cfg(tmp_path, "c", "train.steps=20", "train.seed=1"))
    a = load_checkpoint(straight.run_dir / "checkpoints" / "last.pt")["model"]
    c = load_checkpoint(other.run_dir / "checkpoints" / "last.pt")["model"]
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_without_ema_uses_online_encoder_and_sigreg(tmp_path):
    result = train(
        ToyDomain(),
        _cfg(
            tmp_path,
            "noema",
            "train.steps=10",
            "objective.use_ema=false",
            "objective.sigreg_weight=0.1",
            "objective.variance_weight=0.1",
        ),
    )
    rows = [m for m in _metrics(result.run_dir) if "sigreg" in m]
    assert rows and all("variance" in m for m in rows)
    card = json.loads((result.encoder_dir / "model_card.json").read_text())
    assert card["encoder_used_downstream"] == "online_context_encoder"


def test_checkpoint_round_trip_and_pickle_payload_refused(tmp_path):
    state = {"model": {"w": torch.randn(3)}, "step": 7, "config": {"a": [1, 2]}}
    save_checkpoint(tmp_path / "ok.pt", state)
    back = load_checkpoint(tmp_path / "ok.pt")
    assert back["step"] == 7 and torch.equal(back["model"]["w"], state["model"]["w"])

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(tmp_path / 'pwned')!r}, 'w').write('pwned')",))

    torch.save({"evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
