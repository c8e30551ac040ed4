"""The real entry points end to end on the bundled scans: pretrain.py (loss falls), jepa-export, evaluate.py."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from jepa_core.export_cli import main as export_main
from tests.domains.lidar.conftest import TINY

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "data" / "samples" / "lidar"
pytestmark = pytest.mark.slow  # ~30 s on 2 idle cores: a real pretraining run, export and evaluation


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from domains.lidar.domain import DOMAIN
    from jepa_core.cli import pretrain_main

    out = tmp_path_factory.mktemp("lidar-run")
    argv = ["--data-dir", str(SAMPLES), "--out", str(out), "--steps", "24", "--no-progress", *TINY,
            "train.batch_size=2", "train.log_every=4", "train.eval_every=0", "optim.warmup_steps=2", "optim.lr=2e-3"]  # fmt: skip
    assert pretrain_main(DOMAIN, REPO / "domains" / "lidar" / "configs" / "tiny.yaml", argv) == 0
    return out


def test_tiny_pretraining_loss_falls(run_dir):
    logs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["pred_occupied"] for r in logs if "pred_occupied" in r]
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0], losses
    card = json.loads((run_dir / "encoder" / "model_card.json").read_text())
    assert card["domain"] == "lidar" and card["input_spec"]["frame"].startswith("LiDAR frame: x forward")


def test_export_pooled_bev_embeddings(run_dir, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00" * 24)
    out = tmp_path / "emb.parquet"
    code = export_main(["--domain", "lidar", "--checkpoint", str(run_dir / "encoder"), "--input", str(SAMPLES),
                        str(bad), "--output", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    table = pq.read_table(out)
    assert table.num_rows == 5  # the five bundled scans; the broken file is skipped
    assert len(table.column("embedding")[0].as_py()) == 16
    assert table.schema.metadata[b"domain"] == b"lidar"


def test_evaluate_runs_on_the_bundled_frames(run_dir, tmp_path):
    """The bundled tracking frames 0-4: frames < 2 train, >= 3 test (gap 1); object frames are test-only."""
    from domains.lidar.evaluate import main

    out = tmp_path / "results.json"
    argv = ["--checkpoint", str(run_dir / "encoder"), "--data-dir", str(SAMPLES / "kitti_tracking"),
            str(SAMPLES / "kitti_object"), "--split-frame", "2", "--gap", "1", "--methods", "jepa", "handcrafted", "--save-probe",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["train"] == ["tracking/0000/000000"]
    assert set(report["test"]) == {"tracking/0000/000004", "object/000008/000008", "object/000134/000134"}
    for method in ("jepa", "handcrafted"):
        r = report["results"][method]
        assert 0.0 <= r["fg_balanced_accuracy"] <= 1.0 and 0.0 <= r["kmeans_iou"] <= 1.0 and "fg_f1" in r
    from domains.lidar.inference import analyse_file, load_model

    model = load_model(run_dir / "encoder")  # the probe written by --save-probe drives the app's heat map
    a = analyse_file(model, SAMPLES / "kitti_object/training/velodyne_reduced/000008.bin")
    occupied = a.occupancy > 0
    assert model.probe is not None and (a.fg_proba[occupied] >= 0).all() and (a.fg_proba[occupied] <= 1).all()
