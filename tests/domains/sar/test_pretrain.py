"""Tiny SAR pretraining in-process (loss falls, both target kinds), then export and evaluate on its encoder."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from domains.sar import evaluate
from domains.sar.domain import DOMAIN
from jepa_core import export_cli
from jepa_core.config import load_config
from jepa_core.train import train

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "sar"
TINY = [
    f"data.sources=['{SAMPLES / 'mstar' / 'train'}']",
    "model.embed_dim=32",
    "model.depth=1",
    "model.num_heads=2",
    "model.pred_dim=32",
    "model.pred_depth=1",
    "model.pred_heads=2",
    "train.batch_size=8",
    "train.log_every=5",
    "train.eval_every=0",
    "train.ckpt_every=100",
    "train.progress=false",
    "optim.warmup_steps=5",
    "optim.lr=2e-3",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sar") / "run"
    train(DOMAIN, load_config(DOMAIN.config_cls, None, [*TINY, f"out={out}", "train.steps=40"]))
    return out


def test_tiny_pretraining_loss_falls(tiny_run):
    losses = [json.loads(x)["pred_loss"] for x in (tiny_run / "metrics.jsonl").read_text().splitlines() if "loss" in x]
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.8 * losses[0], losses
    card = json.loads((tiny_run / "encoder" / "model_card.json").read_text())
    assert card["domain"] == "sar" and card["training_data"]["n_chips"] == 40
    assert card["encoder_used_downstream"] == "online_context_encoder" and "ROA" in card["input_spec"]["targets"]


def test_ema_target_switch(tmp_path):
    out = tmp_path / "ema"
    result = train(
        DOMAIN, load_config(DOMAIN.config_cls, None, [*TINY, f"out={out}", "train.steps=3", "data.target=ema"])
    )
    card = json.loads((result.encoder_dir / "model_card.json").read_text())
    assert card["encoder_used_downstream"] == "ema_target" and card["input_spec"]["targets"] == "ema"


def test_jepa_export_on_bundled_chips(tiny_run, tmp_path, capsys):
    out = tmp_path / "sar.parquet"
    inputs = [str(SAMPLES / "opensarship"), str(SAMPLES / "mstar" / "test")]
    code = export_cli.main(["--domain", "sar", "--checkpoint", str(tiny_run), "--input", *inputs, "--output", str(out), "--no-progress"])  # fmt: skip
    assert code == 0 and "22 rows" in capsys.readouterr().out
    table = pq.read_table(out)
    assert table.num_rows == 22 and "opensarship/Cargo_x10661_y11170" in table.column("record_id").to_pylist()
    assert pq.read_schema(out).metadata[b"domain"] == b"sar"


def test_evaluate_on_bundled_chips(tiny_run, tmp_path):
    out = tmp_path / "results.json"
    methods = ["jepa", "jepa_ema", "random_init", "handcrafted"]
    argv = ["--checkpoint", str(tiny_run), "--data-dir", str(SAMPLES / "mstar"), "--seeds", "0", "1", "--out", str(out)]
    assert evaluate.main([*argv, "--methods", *methods]) == 0
    report = json.loads(out.read_text())
    r = report["results"]
    assert set(r) == {"jepa", "random_init", "handcrafted"} and "jepa_ema skipped" in report["notes"][0]
    assert 0.0 <= r["jepa"]["accuracy"] <= 1.0 and r["jepa"]["kshot"]["10"]["n"] == 2
    assert len(r["jepa"]["confusion"]) == 10
