"""Pretraining windows cut from the bundled real records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from domains.ecg.dataset import EcgWindows, WindowIndex, window_starts
from domains.ecg.io import STANDARD_LEADS, read_record
from jepa_core.errors import InputError

T232 = 451_389  # 650000 samples at 360 Hz -> 250 Hz


# Kept here, not in tests/conftest.py: a root conftest puts tests/ on sys.path, and its
# domains/ folder then shadows the real `domains` package under the editable install.
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "data" / "samples" / "ecg"


@pytest.fixture(scope="session")
def ecg_sample_dir() -> Path:
    """Bundled real records: MIT-BIH 208 and 232, 12 CinC 2017 records (see its README.md)."""
    return SAMPLE_DIR


@pytest.fixture(scope="module")
def ds232(ecg_sample_dir: Path) -> EcgWindows:
    return EcgWindows([ecg_sample_dir / "232"])


def test_window_count_and_starts(ds232: EcgWindows) -> None:
    assert len(ds232) == 180  # floor((451389 - 2500) / 2500) + 1; the tail is dropped
    assert ds232.windows[:2] == [WindowIndex(0, 0), WindowIndex(0, 2500)]
    assert ds232.windows[-1].start == 179 * 2500
    assert ds232.record_ids == ["232"] and ds232.fs == 250.0 and ds232.window == 2500
    assert ds232.leads == STANDARD_LEADS and ds232.skipped == []
    half = window_starts(T232, 2500, 1250)
    assert len(half) == 360 and half[-1] == 359 * 1250


def test_items_fill_lead_slots(ds232: EcgWindows, ecg_sample_dir: Path) -> None:
    signal = read_record(ecg_sample_dir / "232").signal
    item = ds232[3]
    x = item["x"]
    assert x.shape == (12, 2500) and x.dtype == torch.float32
    assert item["record_id"] == "232" and item["start"] == 7500
    np.testing.assert_array_equal(x[1].numpy(), signal[0, 7500:10000])  # II
    np.testing.assert_array_equal(x[6].numpy(), signal[1, 7500:10000])  # V1
    assert not x[[0, 2, 3, 4, 5, 7, 8, 9, 10, 11]].any()


def test_batches_collate(ds232: EcgWindows) -> None:
    batch = next(iter(DataLoader(ds232, batch_size=4)))
    assert batch["x"].shape == (4, 12, 2500)
    assert batch["record_id"] == ["232"] * 4 and batch["start"].tolist() == [0, 2500, 5000, 7500]


def test_short_record_is_one_padded_window(ecg_sample_dir: Path) -> None:
    # A00139: 3760 samples at 300 Hz -> 3134 at 250 Hz, shorter than the 5000-sample window.
    ds = EcgWindows([ecg_sample_dir / "A00139"], window=5000, leads=("I", "II"))
    assert len(ds) == 1
    x = ds[0]["x"]
    assert x.shape == (2, 5000)
    assert (x[0, :3134] != 0).sum() > 3000 and not x[0, 3134:].any() and not x[1].any()


def test_stride_overlap(ecg_sample_dir: Path) -> None:
    ds = EcgWindows([ecg_sample_dir / "A00002"], window=2500, stride=1000, leads=("I",))
    assert [w.start for w in ds.windows] == [0, 1000, 2000, 3000, 4000, 5000]  # T = 7500
    np.testing.assert_array_equal(ds[1]["x"][0, :1500].numpy(), ds[0]["x"][0, 1000:].numpy())


def test_bad_and_unmapped_records_skipped(ecg_sample_dir: Path, tmp_path: Path) -> None:
    ghost = tmp_path / "ghost"
    ds = EcgWindows(ecg_sample_dir, leads=("I",))  # the MIT-BIH records have II and V1 only
    assert len(ds.record_ids) == 12 and all(r.startswith("A") for r in ds.record_ids)
    assert [Path(p).name for p, _ in ds.skipped] == ["208", "232"]
    assert "('II', 'V1')" in ds.skipped[0][1]
    ds = EcgWindows([ghost, ecg_sample_dir / "A00002"], leads=("I",))
    assert ds.record_ids == ["A00002"] and len(ds) == 3
    assert ds.skipped[0][0] == str(ghost) and "ghost.hea" in ds.skipped[0][1]
    with pytest.raises(InputError, match=r"ghost\.hea.*not found"):
        EcgWindows([ghost, ecg_sample_dir / "A00002"], skip_bad=False)


def test_no_window_at_all(ecg_sample_dir: Path) -> None:
    with pytest.raises(InputError, match=r"A00002.*no ECG window.*maps to \('V6',\)"):
        EcgWindows([ecg_sample_dir / "A00002"], leads=("V6",))
    with pytest.raises(InputError, match="no records"):
        EcgWindows([])
