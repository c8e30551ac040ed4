"""WFDB reader on the bundled real records, and on broken copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from domains.ecg import io as ecg_io
from domains.ecg.io import (
    STANDARD_LEADS,
    EcgRecord,
    find_records,
    normalise_lead_name,
    read_annotations,
    read_record,
    to_lead_slots,
)
from jepa_core.errors import InputError

N_MITDB = 650_000  # samples per MIT-BIH record at 360 Hz


# Kept here, not in tests/conftest.py: a root conftest puts tests/ on sys.path, and its
# domains/ folder then shadows the real `domains` package under the editable install.
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "data" / "samples" / "ecg"


@pytest.fixture(scope="session")
def ecg_sample_dir() -> Path:
    """Bundled real records: MIT-BIH 208 and 232, 12 CinC 2017 records (see its README.md)."""
    return SAMPLE_DIR


@pytest.fixture(scope="module")
def rec232(ecg_sample_dir: Path) -> EcgRecord:
    return read_record(ecg_sample_dir / "232")


def _copy(src_dir: Path, src: str, dst_dir: Path, dst: str = "bad") -> Path:
    """Copy a sample record under a new name (header lines renamed too); return its path."""
    for f in src_dir.glob(f"{src}.*"):
        shutil.copy(f, dst_dir / f"{dst}{f.suffix}")
    hea = dst_dir / f"{dst}.hea"
    lines = [dst + ln[len(src) :] if ln.startswith(src) else ln for ln in hea.read_text().split("\n")]
    hea.write_text("\n".join(lines))
    return dst_dir / dst


def _edit_header(rec: Path, line: int, old: str, new: str) -> None:
    hea = rec.with_name(rec.name + ".hea")
    lines = hea.read_text().split("\n")
    assert old in lines[line]
    lines[line] = lines[line].replace(old, new, 1)
    hea.write_text("\n".join(lines))


# ---------------------------------------------------------------- real records


def test_native_read_matches_wfdb(ecg_sample_dir: Path) -> None:
    rec = read_record(ecg_sample_dir / "232.hea", fs=None, bandpass=None, standardise=False)
    ref = wfdb.rdrecord(str(ecg_sample_dir / "232"))
    assert rec.signal.shape == (2, N_MITDB) and rec.signal.dtype == np.float32
    assert rec.fs == rec.fs_original == 360.0 and rec.n_samples_original == N_MITDB
    assert rec.leads == ("II", "V1") and rec.units == ("mV", "mV")
    assert rec.record_id == "232" and rec.path == ecg_sample_dir / "232"
    np.testing.assert_allclose(rec.signal, ref.p_signal.T, atol=1e-6)


def test_resampled_standardised(rec232: EcgRecord) -> None:
    assert rec232.fs == 250.0 and rec232.fs_original == 360.0
    assert abs(rec232.signal.shape[1] - round(N_MITDB * 250 / 360)) <= 1
    assert rec232.duration_s == pytest.approx(N_MITDB / 360, abs=0.01)
    assert rec232.signal.dtype == np.float32 and np.isfinite(rec232.signal).all()
    q25, med, q75 = np.percentile(rec232.signal, [25, 50, 75], axis=1)
    np.testing.assert_allclose(med, 0.0, atol=1e-3)
    np.testing.assert_allclose(q75 - q25, 1.349, rtol=1e-3)


def test_bandpass_removes_baseline_wander(ecg_sample_dir: Path) -> None:
    raw = read_record(ecg_sample_dir / "208", bandpass=None, standardise=False).signal
    filt = read_record(ecg_sample_dir / "208", standardise=False).signal
    # Means over 4-s blocks track the baseline; the 0.5 Hz high-pass should flatten them.
    blocks = lambda x: x[:, : x.shape[1] // 1000 * 1000].reshape(2, -1, 1000).mean(-1)  # noqa: E731
    assert (blocks(filt).std(1) < 0.1 * blocks(raw).std(1)).all()


def test_mitdb_208_and_cinc_leads(ecg_sample_dir: Path) -> None:
    assert read_record(ecg_sample_dir / "208", max_samples=3600).leads == ("II", "V1")
    cinc = read_record(ecg_sample_dir / "A00002.mat")
    assert cinc.leads == ("I",) and cinc.units == ("mV",)
    assert cinc.fs_original == 300.0 and cinc.signal.shape == (1, 7500)


def test_max_samples_reads_prefix(ecg_sample_dir: Path) -> None:
    rec = read_record(ecg_sample_dir / "232", fs=None, bandpass=None, standardise=False,
                      max_samples=3600)  # fmt: skip
    ref = wfdb.rdrecord(str(ecg_sample_dir / "232"), sampto=3600)
    assert rec.signal.shape == (2, 3600)
    np.testing.assert_allclose(rec.signal, ref.p_signal.T, atol=1e-6)


def test_header_without_sig_len_and_long_max_samples(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    _edit_header(rec, 0, " 650000", "")  # wfdb then takes the length from the .dat size
    assert read_record(rec, fs=None, bandpass=None, standardise=False).signal.shape == (2, N_MITDB)
    assert read_record(ecg_sample_dir / "A00139", fs=None, max_samples=10**6).signal.shape == (1, 3760)


def test_annotations_count_and_scaling(ecg_sample_dir: Path) -> None:
    ref = wfdb.rdann(str(ecg_sample_dir / "208"), "atr")
    samples, symbols, aux = read_annotations(ecg_sample_dir / "208")
    native, _, _ = read_annotations(ecg_sample_dir / "208.dat", fs=None)
    assert len(samples) == len(symbols) == len(aux) == len(ref.sample) > 2000
    np.testing.assert_array_equal(native, ref.sample)
    np.testing.assert_array_equal(samples, np.rint(ref.sample * 250 / 360).astype(np.int64))
    assert samples.dtype == np.int64 and list(symbols) == ref.symbol
    assert {"V", "F", "N"} <= set(symbols.tolist()) and aux[0] == "(N"


@pytest.mark.parametrize(
    ("name", "want"),
    [("MLII", "II"), ("ML II", "II"), ("lead II", "II"), ("ECG II", "II"), ("II", "II"),
     ("MLI", "I"), ("MLIII", "III"), ("v1", "V1"), ("V6", "V6"), ("AVR", "aVR"), ("avf", "aVF"),
     ("ECG", "I"), ("ecg", "I"), ("", "I"), (" RESP ", "RESP"), ("V7", "V7")],
)  # fmt: skip
def test_normalise_lead_name(name: str, want: str) -> None:
    assert normalise_lead_name(name) == want


def test_to_lead_slots(rec232: EcgRecord) -> None:
    slots = to_lead_slots(rec232, STANDARD_LEADS)
    assert slots.shape == (12, rec232.signal.shape[1]) and slots.dtype == np.float32
    np.testing.assert_array_equal(slots[1], rec232.signal[0])  # II
    np.testing.assert_array_equal(slots[6], rec232.signal[1])  # V1
    others = [i for i in range(12) if i not in (1, 6)]
    assert not slots[others].any()


def test_to_lead_slots_duplicates_and_no_match(rec232: EcgRecord) -> None:
    sig = np.stack([np.ones(10), np.full(10, 2.0)]).astype(np.float32)
    dup = EcgRecord("x", Path("x"), sig, 250.0, ("II", "II"), ("mV",) * 2, 250.0, 10)
    np.testing.assert_array_equal(to_lead_slots(dup, ("I", "II"))[1], 1.0)  # first wins
    with pytest.raises(InputError, match=r"232.*\('II', 'V1'\)"):
        to_lead_slots(rec232, ("V5", "V6"))


def test_find_records(ecg_sample_dir: Path, tmp_path: Path) -> None:
    all_recs = find_records(ecg_sample_dir)
    assert len(all_recs) == 14 and all_recs == sorted(all_recs)
    assert all_recs[:2] == [ecg_sample_dir / "208", ecg_sample_dir / "232"]
    assert find_records(str(ecg_sample_dir / "A00002.mat")) == [ecg_sample_dir / "A00002"]
    _copy(ecg_sample_dir, "A00022", tmp_path, "A00022")
    (tmp_path / "list.txt").write_text(f"# mine\nA00022\n\n{ecg_sample_dir / '208.hea'}\n")
    assert find_records(tmp_path / "list.txt") == [tmp_path / "A00022", ecg_sample_dir / "208"]
    both = find_records([tmp_path / "list.txt", ecg_sample_dir / "232"])
    assert both == [tmp_path / "A00022", ecg_sample_dir / "208", ecg_sample_dir / "232"]


def test_find_records_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nowhere"):
        find_records(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty.*no WFDB records"):
        find_records(tmp_path / "empty")
    (tmp_path / "list.txt").write_text("ghost\n")
    with pytest.raises(InputError, match=r"list\.txt.*'ghost'"):
        find_records(tmp_path / "list.txt")


# ---------------------------------------------------------------- broken input


def test_missing_header_and_signal(ecg_sample_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothere\.hea.*not found"):
        read_record(tmp_path / "nothere")
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    (tmp_path / "bad.dat").unlink()
    with pytest.raises(InputError, match=r"bad\.dat.*not found"):
        read_record(rec)


def test_truncated_and_empty_signal(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    with open(tmp_path / "bad.dat", "r+b") as f:
        f.truncate(300_000)
    with pytest.raises(InputError, match=r"bad\.dat.*100000 samples.*sig_len 650000"):
        read_record(rec)
    (tmp_path / "bad.dat").write_bytes(b"")
    with pytest.raises(InputError, match=r"bad\.dat.*empty"):
        read_record(rec)
    mat = _copy(ecg_sample_dir, "A00002", tmp_path, "badmat")
    with open(tmp_path / "badmat.mat", "r+b") as f:
        f.truncate(5000)
    with pytest.raises(InputError, match=r"badmat\.mat.*sig_len 9000"):
        read_record(mat)


def test_wrong_lead_count(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    _edit_header(rec, 0, "bad 2 ", "bad 3 ")
    with pytest.raises(InputError, match=r"bad\.hea.*declares 3 signals but describes 2"):
        read_record(rec)
    _edit_header(rec, 0, "bad 3 ", "bad 1 ")
    with pytest.raises(InputError, match=r"bad\.hea.*declares 1 signals but describes 2"):
        read_record(rec)
    lines = (tmp_path / "bad.hea").read_text().split("\n")
    lines[0] = lines[0].replace("bad 1 ", "bad 3 ")
    lines.insert(2, lines[2])  # three signals described: the .dat holds only two
    (tmp_path / "bad.hea").write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"bad\.dat.*433333 samples.*sig_len 650000"):
        read_record(rec)


def test_garbage_header(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    (tmp_path / "bad.hea").write_bytes(b"hello \x00\xff world\nnot a header\n")
    with pytest.raises(InputError, match=r"bad\.hea.*header unreadable"):
        read_record(rec)


@pytest.mark.parametrize("fs", ["10000000", "10"])
def test_absurd_sampling_rate(ecg_sample_dir: Path, tmp_path: Path, fs: str) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    _edit_header(rec, 0, " 360 ", f" {fs} ")
    with pytest.raises(InputError, match=rf"bad\.hea.*sampling rate {fs}"):
        read_record(rec)


def test_huge_length_refused_before_reading(
    ecg_sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    _edit_header(rec, 0, " 650000", " 9000000000")

    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("rdrecord called on a record that should be refused")

    monkeypatch.setattr(ecg_io.wfdb, "rdrecord", no_read)
    with pytest.raises(InputError, match=r"bad\.hea.*9000000000 x 2 leads.*GB"):
        read_record(rec)


def test_shorter_than_one_second(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    _edit_header(rec, 0, " 650000", " 300")
    with pytest.raises(InputError, match=r"bad\.hea.*300 samples.*shorter than 1 s"):
        read_record(rec)


def _write(tmp_path: Path, name: str, d_signal: np.ndarray) -> Path:
    """Write a 16-bit record at 360 Hz, gain 200/mV; -32768 is WFDB's missing-sample code."""
    n_sig = d_signal.shape[1]
    wfdb.wrsamp(name, fs=360, units=["mV"] * n_sig, sig_name=["II", "V1"][:n_sig],
                d_signal=d_signal.astype(np.int64), fmt=["16"] * n_sig, adc_gain=[200.0] * n_sig,
                baseline=[0] * n_sig, write_dir=str(tmp_path))  # fmt: skip
    return tmp_path / name


def test_all_nan_and_mostly_nan(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"allnan.*every sample of every lead is NaN"):
        read_record(_write(tmp_path, "allnan", np.full((1000, 2), -32768)))
    mostly = np.ones((1000, 2)) * 100
    mostly[:600] = -32768
    with pytest.raises(InputError, match=r"mostly.*more than 50% NaN"):
        read_record(_write(tmp_path, "mostly", mostly))


def test_nan_gaps_interpolated(tmp_path: Path) -> None:
    d = np.stack([np.arange(1000) * 2, np.full(1000, -32768)], axis=1)  # lead 2 entirely NaN
    d[100:200, 0] = -32768
    d[:10, 0] = -32768
    rec = read_record(_write(tmp_path, "gaps", d), fs=None, bandpass=None, standardise=False)
    want = np.arange(1000) * 2 / 200.0
    want[:10] = want[10]  # leading edge: nearest valid value
    np.testing.assert_allclose(rec.signal[0], want, atol=1e-5)
    assert not rec.signal[1].any()
    assert np.isfinite(read_record(tmp_path / "gaps").signal).all()


def test_annotation_errors(ecg_sample_dir: Path, tmp_path: Path) -> None:
    rec = _copy(ecg_sample_dir, "208", tmp_path)
    with pytest.raises(InputError, match=r"bad\.qrs.*not found"):
        read_annotations(rec, extension="qrs")
    (tmp_path / "bad.atr").write_bytes(b"\x01\x02\x03")
    with pytest.raises(InputError, match=r"bad\.atr.*unreadable"):
        read_annotations(rec)


def test_mat_record_without_sig_len_reads_with_a_sample_limit(ecg_sample_dir: Path, tmp_path: Path) -> None:
    """sig_len is optional in a header; wfdb cannot stop early without it, so the record is read whole and cut."""
    rec = _copy(ecg_sample_dir, "A00002", tmp_path)
    _edit_header(rec, 0, " 9000 11:05:25 1/05/2000", "")
    whole = read_record(ecg_sample_dir / "A00002", fs=None, bandpass=None, standardise=False)
    for limit, n in ((630000, 9000), (3000, 3000)):
        got = read_record(rec, fs=None, bandpass=None, standardise=False, max_samples=limit)
        np.testing.assert_array_equal(got.signal, whole.signal[:, :n])


def test_broken_gain_is_a_gap_not_a_nan_window(tmp_path: Path) -> None:
    """A gain of 1e-36/mV overflows float32 (inf); filtered, one such sample would make every window NaN."""
    d = np.stack([np.round(200 * np.sin(np.arange(3600) / 20)), np.full(3600, 100)], axis=1)
    path = _write(tmp_path, "gain", d)
    _edit_header(path, 1, "200.0(0)/mV", "1e-36(0)/mV")  # lead II: every sample out of range -> zero
    rec = read_record(path, fs=None, bandpass=None, standardise=False)
    assert np.isfinite(rec.signal).all() and not rec.signal[0].any() and rec.signal[1].any()
    _edit_header(path, 2, "200.0(0)/mV", "1e-36(0)/mV")
    with pytest.raises(
        InputError, match=r"gain: more than 50% NaN or out-of-range samples in every lead .*check the gains"
    ):
        read_record(path)
    x = np.array([[0.0, 1.0, np.inf, 3.0, 1e30, 5.0, np.nan, 7.0]], dtype=np.float32)
    np.testing.assert_allclose(ecg_io._repair_nans(x, tmp_path), [np.arange(8.0)])  # interpolated over the gaps
