"""The real EEG entry points end to end: pretrain.py and evaluate.py on a tiny config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_core.eval.probes import C_GRID, C_LADDER
from tests.domains.eeg.edf_factory import TEN_TWENTY_OLD, oscillation, write_edf

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "eeg"
TINY = [
    "model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_depth=1",
    "model.pred_heads=2", "train.batch_size=8", "train.log_every=2", "train.eval_every=4", "train.ckpt_every=4",
    "train.eval_samples=8", "optim.warmup_steps=2",
]  # fmt: skip


def _run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def eegmat_like(tmp_path_factory) -> Path:
    """Four subjects named like eegmat: rest is alpha-dominated, task beta-dominated, gains differ by subject."""
    folder = tmp_path_factory.mktemp("eegmat")
    for s in range(4):
        gain = 1.0 + 0.5 * s
        rest = gain * oscillation(10.0, 24, 256.0, 19, seed=2 * s)
        task = gain * oscillation(22.0, 24, 256.0, 19, seed=2 * s + 1)
        write_edf(folder / f"Subject{s:02d}_1.edf", rest, TEN_TWENTY_OLD, 256.0)
        write_edf(folder / f"Subject{s:02d}_2.edf", task, TEN_TWENTY_OLD, 256.0)
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, eegmat_like) -> Path:
    out = tmp_path_factory.mktemp("eeg") / "run"
    _run("domains/eeg/pretrain.py", "--data-dir", str(eegmat_like), "--out", str(out), "--steps", "8",
         "--no-progress", "data.include=['Subject00_*','Subject01_*']", *TINY)  # fmt: skip
    return out


def test_pretrain_cli_writes_run(tiny_run):
    metrics = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [2, 4, 6, 8]
    assert any("rankme" in m for m in metrics)
    card = json.loads((tiny_run / "encoder" / "model_card.json").read_text())
    assert card["domain"] == "eeg" and card["input_spec"]["video_shape"] == [1, 16, 19, 32]
    assert card["training_data"]["recordings"] == [
        "Subject00_1.edf",
        "Subject00_2.edf",
        "Subject01_1.edf",
        "Subject01_2.edf",
    ]


def test_pretrain_cli_help_and_errors(tmp_path):
    assert "--data-dir" in _run("domains/eeg/pretrain.py", "--help").stdout
    bad = _run("domains/eeg/pretrain.py", "--steps", "1", "data.tubelett=[1,1,1]", check=False)
    assert bad.returncode == 2 and "tubelett" in bad.stderr and "Traceback" not in bad.stderr
    empty = _run("domains/eeg/pretrain.py", "--data-dir", str(tmp_path), "--steps", "1", check=False)
    assert empty.returncode == 2 and "no EEG file" in empty.stderr and "Traceback" not in empty.stderr


def test_evaluate_eegmat_every_method(tiny_run, eegmat_like, tmp_path):
    out = tmp_path / "results.json"
    proc = _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(eegmat_like), "--seeds",
                "0", "--supervised-epochs", "1", "--out", str(out), "--no-progress")  # fmt: skip
    assert "EEG recordings" not in proc.stderr and "it/s]" not in proc.stderr  # no bar in a log file
    report = json.loads(out.read_text())
    # The encoder saw subjects 0 and 1 (unlabelled): they train the probe, 2 and 3 are the test side.
    assert report["split"]["folds"] == [{"train": [0, 1], "test": [2, 3]}]
    assert report["subjects_seen_in_pretraining"] == [0, 1]
    for method in ("jepa", "jepa_bandpower", "random_init", "handcrafted", "supervised"):
        r = report["results"][method]
        assert 0.0 <= r["balanced_accuracy"] <= 1.0 and 0.0 <= r["auroc"] <= 1.0, method
        assert set(r["recording"]) >= {"balanced_accuracy", "auroc"}
    assert report["results"]["handcrafted"]["balanced_accuracy"] > 0.95  # band power separates alpha from beta
    assert report["results"]["jepa_bandpower"]["balanced_accuracy"] > 0.95  # and still does beside the embedding
    # C chosen by CV grouped by subject inside the training side (subjects 0 and 1 only)
    assert report["probe_c"] == "cv" and report["results"]["jepa"]["probe_c"][0] in C_LADDER
    scores, chosen = report["results"]["jepa"]["probe_c_cv"][0], report["results"]["jepa"]["probe_c"][0]
    assert {str(g) for g in C_GRID} <= set(scores) <= {str(g) for g in C_LADDER}
    assert scores[str(chosen)] == max(scores.values())
    assert report["n_windows"] == {"rest": 4 * 11, "task": 4 * 11}  # 24 s, 4 s windows every 2 s


def test_evaluate_pinned_split_and_bad_splits(tiny_run, eegmat_like, tmp_path):
    out = tmp_path / "r.json"
    _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(eegmat_like), "--methods",
         "handcrafted", "--train-subjects", "0,2,3", "--test-subjects", "1", "--out", str(out))  # fmt: skip
    assert json.loads(out.read_text())["split"]["folds"] == [{"train": [0, 2, 3], "test": [1]}]
    for extra in (["--train-subjects", "0,1", "--test-subjects", "1"], ["--train-subjects", "0"],
                  ["--train-subjects", "0", "--test-subjects", "7"]):  # fmt: skip
        bad = _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(eegmat_like),
                   "--methods", "handcrafted", *extra, check=False)  # fmt: skip
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr


def test_evaluate_motor_smoke_on_edf_plus(tiny_run, tmp_path):
    out = tmp_path / "motor.json"
    _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--task", "eegmmidb-motor", "--data-dir",
         str(SAMPLES / "S001R03.edf"), "--methods", "jepa", "handcrafted", "--seeds", "0", "--out", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    assert report["n_windows"] == {"T0": 15, "T1": 8, "T2": 7}
    assert "time-blocked" in report["split"]["how"]
    assert report["results"]["jepa"]["n_runs"] == 5


def test_export_windows_and_report_broken_files(tiny_run, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "Subject09_2.edf", folder)
    (folder / "broken.edf").write_bytes(b"0" * 300)
    out = tmp_path / "emb.parquet"
    proc = _run("-m", "jepa_core.export_cli", "--checkpoint", str(tiny_run), "--input", str(folder), "--output",
                str(out), "--no-progress")  # fmt: skip
    table = pq.read_table(out)
    assert table.num_rows == 15 and set(table["record_id"].to_pylist()) == {"Subject09_2"}
    assert table["start_s"].to_pylist()[:3] == [0.0, 4.0, 8.0]
    assert table.schema.metadata[b"domain"] == b"eeg"
    assert "broken.edf" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_export_with_the_bundled_model_by_default(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "bundled.parquet"
    _run("-m", "jepa_core.export_cli", "--domain", "eeg", "--input", str(SAMPLES / "Subject09_1.edf"), "--output",
         str(out), "--no-progress")  # fmt: skip
    table = pq.read_table(out)
    card = json.loads((ROOT / "models" / "eeg-tiny" / "model_card.json").read_text())
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["domain"] == "eeg" and meta["model_name"] == card["name"]
    assert meta["checkpoint_sha256"] == card["encoder_sha256"] == table["checkpoint_sha256"][0].as_py()
    assert table.num_rows == 15 and table["start_s"].to_pylist()[-1] == 56.0  # 60 s in 4 s windows


def test_evaluate_cv_over_every_subject(tiny_run, eegmat_like, tmp_path):
    out = tmp_path / "cv.json"
    _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(eegmat_like), "--methods",
         "handcrafted", "--cv", "--folds", "4", "--out", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    assert report["split"]["how"] == "GroupKFold by subject, 4 folds"
    assert sorted(s for f in report["split"]["folds"] for s in f["test"]) == [0, 1, 2, 3]


def test_evaluate_subject_norm_is_reported_apart(tiny_run, eegmat_like, tmp_path):
    out = tmp_path / "sn.json"
    proc = _run("domains/eeg/evaluate.py", "--checkpoint", str(tiny_run), "--data-dir", str(eegmat_like), "--methods",
                "handcrafted", "supervised", "--seeds", "0", "--supervised-epochs", "1", "--subject-norm",
                "--out", str(out))  # fmt: skip
    report = json.loads(out.read_text())
    assert report["subject_norm"] is True and "subject-normalised" in proc.stdout
    assert report["results"]["handcrafted"]["balanced_accuracy"] > 0.95
    assert 0.0 <= report["results"]["supervised"]["balanced_accuracy"] <= 1.0
    from domains.eeg.evaluate import card_entry

    assert card_entry(report)[0] == "eegmat-rest-vs-task-subject-norm"  # never overwrites the headline entry


def test_standardise_video_per_subject():
    import numpy as np
    import torch

    from domains.eeg.eval_tasks import standardise_video_per_subject

    gen = torch.Generator().manual_seed(0)
    video = torch.randn(12, 1, 4, 3, 8, generator=gen)
    subjects = np.repeat([3, 7], 6)
    video[subjects == 7] *= 50.0  # one subject recorded with a much larger gain
    video[:, :, :, 2] = 0.0  # an empty channel slot
    z = standardise_video_per_subject(video, subjects)
    for s in (3, 7):
        rows = torch.from_numpy(subjects == s)
        per_slot = z[rows].transpose(0, 3).reshape(3, -1)  # (slot, everything else)
        torch.testing.assert_close(per_slot[:2].std(1), torch.ones(2))
        torch.testing.assert_close(per_slot[:2].mean(1), torch.zeros(2), atol=1e-6, rtol=0)
    assert (z[:, :, :, 2] == 0).all()
