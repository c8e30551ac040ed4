"""The EEG reader benchmark's timing function on a bundled recording (what it reports, not how fast)."""

from pathlib import Path

import torch

from benchmarks.eeg import bench_reader
from domains.eeg.domain import DOMAIN
from jepa_core.config import load_config

ROOT = Path(__file__).resolve().parents[3]


def test_bench_reader_counts_windows_and_restores_torch_threads():
    cfg = load_config(DOMAIN.config_cls, ROOT / "domains/eeg/configs/tiny.yaml")
    before = torch.get_num_threads()
    r = bench_reader([ROOT / "data/samples/eeg/Subject09_1.edf"], cfg, rounds=2, threads=1)
    assert r["files"] == 1 and r["windows"] == 15 and r["rounds"] == 2 and r["torch_threads"] == 1  # 60 s / 4 s
    assert r["ours_over_bare_time"] > 0 and r["bare_mne_windows_per_s"] > 0 and r["ours_windows_per_s"] > 0
    assert torch.get_num_threads() == before


def test_bench_long_recording_reports_both_reads_from_fresh_processes():
    from benchmarks.eeg import bench_long_recording

    r = bench_long_recording(0.01, fs=256.0, channels=4)  # 36 s of 4 channels: what it reports, not how fast
    assert (r["hours"], r["fs"], r["channels"]) == (0.01, 256.0, 4) and r["file_mb"] > 0
    for who in ("bare", "ours"):
        assert r[who]["s"] > 0 and 0 <= r[who]["peak_rss_over_imports_gb"] < 1.0
