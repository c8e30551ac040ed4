"""The real ECG entry points end to end on bundled records, with a tiny config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_core.eval.probes import C_GRID, C_LADDER

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "ecg"
TINY = [
    "model.embed_dim=32",
    "model.depth=1",
    "model.num_heads=2",
    "model.pred_dim=16",
    "model.pred_depth=1",
    "model.pred_heads=2",
    "train.batch_size=8",
    "train.log_every=2",
    "train.eval_every=4",
    "train.ckpt_every=4",
    "train.eval_samples=8",
    "optim.warmup_steps=2",
]


def _run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ecg") / "run"
    _run(
        "domains/ecg/pretrain.py",
        "--data-dir",
        str(SAMPLES),
        "--out",
        str(out),
        "--steps",
        "8",
        "--no-progress",
        "data.stride_s=10",
        *TINY,
    )
    return out


def test_pretrain_cli_writes_run(tiny_run):
    metrics = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [2, 4, 6, 8]
    assert any("rankme" in m for m in metrics)
    card = json.loads((tiny_run / "encoder" / "model_card.json").read_text())
    assert card["domain"] == "ecg" and card["input_spec"]["sampling_rate_hz"] == 250.0
    assert "232" in card["training_data"]["records"]


def test_pretrain_cli_help_and_bad_override():
    assert "--data-dir" in _run("domains/ecg/pretrain.py", "--help").stdout
    bad = _run("domains/ecg/pretrain.py", "--steps", "1", "train.stepz=3", check=False)
    assert bad.returncode == 2 and "stepz" in bad.stderr and "Traceback" not in bad.stderr


def test_evaluate_mitdb_cli(tiny_run, tmp_path):
    out = tmp_path / "results.json"
    proc = _run(
        "domains/ecg/evaluate.py",
        "--checkpoint",
        str(tiny_run),
        "--task",
        "mitdb-aami",
        "--data-dir",
        str(SAMPLES),
        "--train",
        "208",
        "--test",
        "232",
        "--seeds",
        "0",
        "--supervised-epochs",
        "1",
        "--out",
        str(out),
    )
    report = json.loads(out.read_text())
    assert report["train"] == ["208"] and report["test"] == ["232"]
    assert set(report["results"]) == {"jepa", "jepa_rr", "random_init", "handcrafted", "supervised"}
    for result in report["results"].values():
        assert 0.0 <= result["macro_f1"] <= 1.0 and set(result["sensitivity"]) == {"N", "S", "V", "F"}
        # every test beat lands in the confusion matrix exactly once
        assert sum(map(sum, result["confusion"])) == sum(map(sum, report["results"]["jepa"]["confusion"]))
    assert "jepa" in proc.stdout and "handcrafted" in proc.stdout
    assert report["probe_c"] == "cv" and all(len(r["probe_c"]) == r["n_runs"] for n, r in report["results"].items()
                                              if n != "supervised")  # fmt: skip
    assert report["probe_c_cv_score"] == "macro_f1"  # the metric MIT-BIH reports


def test_evaluate_cinc_cli(tiny_run, tmp_path):
    out = tmp_path / "cinc.json"
    _run(
        "domains/ecg/evaluate.py",
        "--checkpoint",
        str(tiny_run),
        "--task",
        "cinc2017",
        "--data-dir",
        str(SAMPLES),
        "--folds",
        "3",
        "--seeds",
        "0",
        "--methods",
        "jepa",
        "handcrafted",
        "--out",
        str(out),
    )
    report = json.loads(out.read_text())
    jepa = report["results"]["jepa"]
    assert jepa["challenge_f1_spread"]["n"] == 3 and 0.0 <= jepa["challenge_f1"] <= 1.0
    assert len(report["test"]) == 12
    assert all(c in C_LADDER for c in jepa["probe_c"]) and len(jepa["probe_c"]) == 3  # chosen inside each fold
    assert report["probe_c_cv_score"] == "challenge_f1"  # C chosen by the metric the task reports
    for c, scores in zip(jepa["probe_c"], jepa["probe_c_cv"], strict=True):  # each fold's CV curve is kept
        assert {str(g) for g in C_GRID} <= set(scores) <= {str(g) for g in C_LADDER}
        assert scores[str(c)] == max(scores.values())


def test_evaluate_refuses_overlapping_split(tiny_run):
    proc = _run(
        "domains/ecg/evaluate.py",
        "--checkpoint",
        str(tiny_run),
        "--data-dir",
        str(SAMPLES),
        "--train",
        "208",
        "--test",
        "208",
        check=False,
    )
    assert proc.returncode == 2 and "both sides" in proc.stderr
