"""EEG corpus: EDF files patched from eegmat's Subject09_1.edf (cut to 10 s), and .fif files of its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.hardening.corpus import SAMPLES, Case, garbage, png_bytes, sparse_file

SRC = SAMPLES / "eeg" / "Subject09_1.edf"
N_RECORDS = 10  # of 1 s: longer than the model's 4 s window, and small


def _base() -> tuple[bytearray, int, int]:
    """The first ``N_RECORDS`` data records of the sample. Returns (bytes, n_signals, bytes per record)."""
    raw = SRC.read_bytes()
    ns = int(raw[252:256])
    per = [int(raw[256 + 216 * ns + 8 * i : 256 + 216 * ns + 8 * i + 8]) for i in range(ns)]
    head, rec_bytes = 256 * (ns + 1), 2 * sum(per)
    out = bytearray(raw[: head + N_RECORDS * rec_bytes])
    _set(out, 236, 8, N_RECORDS)
    return out, ns, rec_bytes


def _set(buf: bytearray, at: int, width: int, value: object) -> bytearray:
    buf[at : at + width] = str(value).encode("latin-1")[:width].ljust(width)
    return buf


def _signal_field(buf: bytearray, ns: int, offset: int, width: int, value: object) -> bytearray:
    """Set one field (EDF offset ``offset`` x ns, ``width`` bytes) of every signal header."""
    for i in range(ns):
        _set(buf, 256 + offset * ns + width * i, width, value)
    return buf


def _write(root: Path, name: str, content: bytes | bytearray) -> Path:
    (root / name).write_bytes(bytes(content))
    return root / name


def _fif(root: Path, name: str, edit) -> Path:
    """A .fif of the base recording's samples after ``edit(data)`` (volts, (C, T)) returns new data."""
    import mne

    tmp = _write(root, "_base.edf", _base()[0])
    raw = mne.io.read_raw_edf(tmp, preload=True, infer_types=True, verbose="error")
    tmp.unlink()
    raw.pick("eeg")
    data = edit(raw.get_data())
    out = mne.io.RawArray(data, mne.create_info(raw.ch_names, raw.info["sfreq"], "eeg"), verbose="error")
    out.save(root / name, overwrite=True, verbose="error")
    return root / name


def _nan_all(x: np.ndarray) -> np.ndarray:
    return np.full_like(x, np.nan)


def _inf_some(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[:, ::50] = np.inf
    return x


def build(root: Path) -> list[Case]:
    r = root
    base, ns, rec_bytes = _base()
    head = 256 * (ns + 1)
    b = lambda: bytearray(base)  # noqa: E731 - a fresh copy to patch
    zeros = b()
    zeros[head:] = bytes(len(zeros) - head)
    constant_fif = lambda x: np.full_like(x, 1e-5)  # noqa: E731
    huge = _set(_set(b()[:head], 236, 8, 60000), 244, 8, 1)  # 60000 records of 1 s: ~1.2 GB on disk, 2.3 GB as float32
    (r / "dir_recording.edf").mkdir()
    return [
        Case("empty", _write(r, "empty.edf", b""), "empty", r"empty \(0 bytes\)"),
        Case("header-truncated", _write(r, "header_truncated.edf", base[:100]), "truncated", "truncated header"),
        Case(
            "signal-headers-truncated",
            _write(r, "sig_headers_truncated.edf", base[:1000]),
            "truncated",
            "truncated header",
        ),
        Case(
            "data-truncated",
            _write(r, "data_truncated.edf", base[: head + 3 * rec_bytes + 77]),
            "truncated",
            r"truncated: the header declares 10 data records .* holds only 3",
        ),
        Case(
            "records-more", _write(r, "records_more.edf", _set(b(), 236, 8, 99)), "header", "declares 99 data records"
        ),
        Case(
            "records-unknown",
            _write(r, "records_unknown.edf", _set(b(), 236, 8, -1)),
            "header",
            None,
            checks=("finite",),
        ),
        Case("records-zero", _write(r, "records_zero.edf", _set(b()[:head], 236, 8, 0)), "empty", "no data records"),
        Case("duration-zero", _write(r, "duration_zero.edf", _set(b(), 244, 8, 0)), "rate", "record duration 0"),
        Case(
            "duration-negative", _write(r, "duration_negative.edf", _set(b(), 244, 8, -1)), "rate", "record duration -1"
        ),
        Case("rate-1e9", _write(r, "rate_huge.edf", _set(b(), 244, 8, "1e-9")), "rate", "absurd sampling rate"),
        Case("rate-5hz", _write(r, "rate_low.edf", _set(b(), 244, 8, 100)), "rate", "too low for the"),
        Case("nsignals-zero", _write(r, "nsignals_zero.edf", _set(b(), 252, 4, 0)), "header", "declares 0 signals"),
        Case(
            "nsignals-more",
            _write(r, "nsignals_more.edf", _set(b(), 252, 4, 30)),
            "header",
            r"header size field says \d+ bytes, but a header with 30 signals has 7936",
        ),
        Case(
            "nsignals-fewer",
            _write(r, "nsignals_fewer.edf", _set(b(), 252, 4, 5)),
            "header",
            r"header size field says \d+ bytes, but a header with 5 signals has 1536",
        ),
        Case(
            "samples-not-number",
            _write(r, "samples_nan.edf", _signal_field(b(), ns, 216, 8, "abc")),
            "header",
            "'samples per record' is not a number",
        ),
        Case("samples-zero", _write(r, "samples_zero.edf", _signal_field(b(), ns, 216, 8, 0)), "header", "samples 0"),
        Case(
            "samples-understated",  # MNE reads it with every record after the first shifted
            _write(
                r,
                "samples_understated.edf",
                _set(b(), 256 + 216 * ns, 8, int(base[256 + 216 * ns : 264 + 216 * ns]) - 10),
            ),
            "header",
            r"the data are 200 bytes longer than the 10 data records .* 20 bytes more in every record",
        ),
        Case(
            "samples-understated-count-wrong",  # the file size cannot tell (63,158 bytes over 7 records); the onsets do
            _write(
                r,
                "samples_understated_count.edf",
                _set(_set(b(), 256 + 216 * ns, 8, int(base[256 + 216 * ns : 264 + 216 * ns]) - 10), 236, 8, 7),
            ),
            "header",
            r"EDF\+C data record \d+ holds sample bytes where its annotation signal should start",
        ),
        Case("trailing-bytes", _write(r, "trailing_bytes.edf", base + b"\0" * 7), "header", None, checks=("finite",)),
        Case(
            "physical-range-zero",
            _write(r, "phys_zero.edf", _signal_field(_signal_field(b(), ns, 104, 8, 100), ns, 112, 8, 100)),
            "header",
            r"physical range broken \(maximum == minimum\)",
        ),
        Case(
            "digital-range-zero",
            _write(r, "dig_zero.edf", _signal_field(_signal_field(b(), ns, 120, 8, 0), ns, 128, 8, 0)),
            "header",
            r"digital range broken \(maximum <= minimum\)",
        ),
        Case(
            "huge-declared",
            sparse_file(r / "huge.edf", bytes(huge), head + 60000 * rec_bytes),
            "huge",
            "exceeds the memory budget",
        ),
        Case("all-zero", _write(r, "all_zero.edf", zeros), "zero", "every EEG channel is flat"),
        Case("constant-fif", _fif(r, "constant_raw.fif", constant_fif), "zero", "every EEG channel is flat"),
        Case("all-nan-fif", _fif(r, "all_nan_raw.fif", _nan_all), "nonfinite", "every sample is NaN or infinite"),
        Case("some-inf-fif", _fif(r, "some_inf_raw.fif", _inf_some), "nonfinite", None, checks=("finite",)),
        Case("one-sample-fif", _fif(r, "one_sample_raw.fif", lambda x: x[:, :1]), "tiny", r"too short: 1 samples"),
        Case("short-fif", _fif(r, "short_raw.fif", lambda x: x[:, :200]), "tiny", r"too short: 200 samples \(0\.4 s\)"),
        Case(
            "fif-truncated",
            _write(r, "fif_truncated_raw.fif", (r / "constant_raw.fif").read_bytes()[:3000]),
            "truncated",
            "cannot (read as FIF|decode the samples)",
            export=r"too short: 500 samples",
        ),  # the model path checks the length before decoding
        Case("png-as-edf", _write(r, "png.edf", png_bytes()), "wrong-ext", "not an EDF file"),
        Case("edf-as-bdf", _write(r, "edf_as.bdf", base), "wrong-ext", r"truncated|not a BDF|cannot read"),
        Case("garbage", _write(r, "garbage.edf", garbage(20000, seed=2)), "garbage", r"not an EDF file|header"),
        Case("unsupported-ext", _write(r, "recording.set", base), "unsupported", "unsupported file type '.set'"),
        Case(
            "dir-named-edf",
            r / "dir_recording.edf",
            "directory",
            "no such file",
            export="no EEG file",
            app="no such file",
        ),
        Case("unicode-valid", _write(r, "Sübject 09 ✓.edf", base), "unicode", None, checks=("finite",)),
    ]
