"""The real SAR entry points end to end (subprocesses) on the bundled chips, with a tiny config.

Marked slow: each subprocess pays the torch/Lightning start-up. ``test_pretrain.py`` runs the same
paths in-process for the default test run.
"""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jepa_core.eval.probes import C_LADDER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "sar"
TINY = [
    "model.embed_dim=32",
    "model.depth=1",
    "model.num_heads=2",
    "model.pred_dim=32",
    "model.pred_depth=1",
    "model.pred_heads=2",
    "train.batch_size=8",
    "train.log_every=5",
    "train.eval_every=20",
    "train.ckpt_every=20",
    "train.eval_samples=8",
    "optim.warmup_steps=5",
    "optim.lr=2e-3",
]


def _run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sar") / "run"
    _run("domains/sar/pretrain.py", "--data-dir", str(SAMPLES / "mstar" / "train"), "--out", str(out),
         "--steps", "40", "--no-progress", *TINY)  # fmt: skip
    return out


def test_tiny_pretraining_loss_falls(tiny_run):
    losses = [json.loads(x)["pred_loss"] for x in (tiny_run / "metrics.jsonl").read_text().splitlines() if "loss" in x]
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.8 * losses[0], losses
    card = json.loads((tiny_run / "encoder" / "model_card.json").read_text())
    assert card["domain"] == "sar" and card["training_data"]["n_chips"] == 40
    assert "ROA gradient" in card["input_spec"]["targets"]


def test_ema_target_switch_trains(tmp_path):
    out = tmp_path / "ema"
    _run("domains/sar/pretrain.py", "--data-dir", str(SAMPLES / "mstar" / "train"), "--out", str(out),
         "--steps", "5", "--no-progress", "data.target=ema", *TINY)  # fmt: skip
    card = json.loads((out / "encoder" / "model_card.json").read_text())
    assert card["encoder_used_downstream"] == "ema_target" and card["input_spec"]["targets"] == "ema"


def test_bad_override_and_bad_data_dir_are_reported():
    bad = _run("domains/sar/pretrain.py", "--steps", "1", "data.targett=ema", check=False)
    assert bad.returncode == 2 and "targett" in bad.stderr and "Traceback" not in bad.stderr
    missing = _run("domains/sar/pretrain.py", "--steps", "1", "--data-dir", "no/such/dir", check=False)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_jepa_export_on_bundled_chips(tiny_run, tmp_path):
    out = tmp_path / "sar.parquet"
    proc = _run("-m", "jepa_core.export_cli", "--domain", "sar", "--checkpoint", str(tiny_run), "--input",
                str(SAMPLES / "opensarship"), str(SAMPLES / "mstar" / "test"), "--output", str(out), "--no-progress")  # fmt: skip
    table = pq.read_table(out)
    assert table.num_rows == 2 + 20 and "22 rows" in proc.stdout
    assert set(table.column("record_id").to_pylist()) >= {
        "opensarship/Cargo_x10661_y11170",
        "T72/" + next((SAMPLES / "mstar" / "test" / "T72").iterdir()).stem,
    }
    assert pq.read_schema(out).metadata[b"domain"] == b"sar"


def test_evaluate_cli_on_bundled_chips(tiny_run, tmp_path):
    out = tmp_path / "results.json"
    _run("domains/sar/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(SAMPLES / "mstar"),
         "--seeds", "0", "1", "--methods", "jepa", "jepa_ema", "random_init", "handcrafted", "--out", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    r = report["results"]
    assert set(r) == {"jepa", "random_init", "handcrafted"} and "jepa_ema skipped" in report["notes"][0]
    assert 0.0 <= r["jepa"]["accuracy"] <= 1.0 and r["jepa"]["kshot"]["10"]["n"] == 2
    assert len(r["jepa"]["confusion"]) == 10
    assert report["probe_c"] == "cv" and all(r[m]["probe_c"] in C_LADDER for m in r)  # chosen on training chips
