"""ECG corpus: WFDB records derived from CinC 2017's A00002 (.mat, fmt 16) and MIT-BIH 208 (.dat, fmt 212)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.hardening.corpus import SAMPLES, Case, garbage, png_bytes

SRC = SAMPLES / "ecg"
NO_BEATS = "no heartbeats detected"


def _cinc(root: Path, name: str, *, header: str | None = None, samples: np.ndarray | None = None,
          signal: bytes | None = None, fs: str = "300", sig_len: str = "9000") -> Path:  # fmt: skip
    """A copy of A00002 named ``name``: header text, int16 samples or raw signal bytes replaced as asked."""
    mat = (SRC / "A00002.mat").read_bytes()
    if samples is not None:
        signal = mat[:24] + np.asarray(samples, dtype="<i2").tobytes()
    (root / f"{name}.mat").write_bytes(mat if signal is None else signal)
    header = header or f"{name} 1 {fs} {sig_len}\n{name}.mat 16+24 1000/mV 16 0 128 0 0 ECG\n"
    (root / f"{name}.hea").write_text(header, encoding="utf-8")
    return root / f"{name}.hea"


def _mitdb(root: Path, name: str, *, n: int = 7200, line: str = "", leads: int = 2, fmt: str = "212",
           data: bytes | None = None) -> Path:  # fmt: skip
    """The first ``n`` samples of 208 (two leads, fmt 212) as record ``name``; ``line`` replaces the record line."""
    dat = (SRC / "208.dat").read_bytes()[: n * 3]
    (root / f"{name}.dat").write_bytes(dat if data is None else data)
    sigs = [f"{name}.dat {fmt} 200 11 1024 0 0 0 {lead}" for lead in ("MLII", "V1")[:leads]]
    (root / f"{name}.hea").write_text("\n".join([line or f"{name} 2 360 {n}", *sigs]) + "\n")
    return root / f"{name}.hea"


def build(root: Path) -> list[Case]:
    r = root
    png = png_bytes()
    quiet = np.zeros(9000, np.int16)
    nan = np.full(9000, -32768, np.int16)  # WFDB's "no sample" value for fmt 16
    half_nan = np.frombuffer((SRC / "A00002.mat").read_bytes()[24:], "<i2").copy()
    half_nan[::2] = -32768
    (r / "dir_record.hea").mkdir()
    cases = [
        Case(
            "dat-truncated",
            _mitdb(r, "dat_truncated", data=(SRC / "208.dat").read_bytes()[:10000]),
            "truncated",
            r"holds \d+ samples per lead but the header declares sig_len 7200|truncated",
        ),
        Case(
            "mat-truncated",
            _cinc(r, "mat_truncated", signal=(SRC / "A00002.mat").read_bytes()[:9000]),
            "truncated",
            r"truncated|holds \d+ samples",
        ),
        Case("dat-empty", _mitdb(r, "dat_empty", data=b""), "empty", r"empty \(0 bytes\)"),
        Case("hea-empty", _cinc(r, "hea_empty", header=" "), "empty", "header"),
        Case("dat-missing", _unlink(_mitdb(r, "dat_missing"), ".dat"), "missing", "not found"),
        Case(
            "hea-more-leads",
            _mitdb(r, "hea_more_leads", line="hea_more_leads 3 360 7200"),
            "header",
            "declares 3 signals but describes 2",
        ),
        Case(
            "hea-fewer-leads",
            _mitdb(r, "hea_fewer_leads", line="hea_fewer_leads 1 360 7200"),
            "header",
            "declares 1 signals but describes 2",
        ),
        Case(
            "hea-10000-leads",
            _cinc(
                r,
                "hea_many_leads",
                header="hea_many_leads 10000 300 9000\nhea_many_leads.mat 16+24 1000/mV 16 0 128 0 0 ECG\n",
            ),
            "header",
            "declares 10000 signals",
        ),
        Case(
            "hea-longer",
            _mitdb(r, "hea_longer", line="hea_longer 2 360 72000"),
            "header",
            r"holds 7200 samples per lead but the header declares sig_len 72000|72000",
        ),
        Case("hea-fmt-16", _mitdb(r, "hea_fmt16", fmt="16"), "header", r"holds 5400 samples per lead|5400"),
        Case(
            "hea-fmt-unknown", _mitdb(r, "hea_fmt_unknown", fmt="999"), "header", "unsupported WFDB signal format 999"
        ),
        Case(
            "hea-not-numbers",
            _cinc(r, "hea_not_numbers", header="hea_not_numbers two 300 9000\n"),
            "header",
            "header unreadable",
        ),
        Case("hea-png", _png_header(r, png), "wrong-ext", "header unreadable"),
        Case("dat-png", _mitdb(r, "dat_png", data=png[: 7200 * 3]), "wrong-ext", None),  # noise, but a signal
        Case("hea-garbage", _garbage_header(r), "garbage", "header unreadable"),
        Case("dat-garbage-odd", _mitdb(r, "dat_garbage", data=garbage(7777)), "garbage", r"truncated|samples"),
        Case("all-nan", _cinc(r, "all_nan", samples=nan), "nonfinite", "every sample of every lead is NaN"),
        Case("half-nan", _cinc(r, "half_nan", samples=half_nan), "nonfinite", None, checks=("finite",)),
        Case("gain-zero", _gain_zero(r), "header", None, checks=("finite",)),  # WFDB: gain 0 means 200
        Case("all-zero", _cinc(r, "all_zero", samples=quiet), "zero", None, app=NO_BEATS, checks=("zero",)),
        Case("one-sample", _cinc(r, "one_sample", samples=quiet[:1], sig_len="1"), "tiny", "shorter than 1 s"),
        Case(
            "no-samples",
            _cinc(r, "no_samples", samples=quiet[:0], sig_len="0"),
            "empty",
            r"empty|shorter than 1 s|no sample",
        ),
        Case("fs-zero", _cinc(r, "fs_zero", fs="0"), "rate", "sampling rate 0 Hz outside"),
        Case("fs-negative", _cinc(r, "fs_negative", fs="-300"), "rate", r"sampling rate -300 Hz outside|header"),
        Case("fs-1e9", _cinc(r, "fs_huge", fs="1e9"), "rate", "sampling rate 1000000000 Hz outside"),
        Case(
            "huge-sig-len",
            _cinc(r, "huge_sig_len", sig_len="1000000000000"),
            "huge",
            r"declared size .* GB",
            app="header declares sig_len 1000000000000",
        ),  # the app reads only the first 35 min
        Case(
            "dir-named-hea",
            r / "dir_record.hea",
            "directory",
            r"\.hea\) not found",
            export="no WFDB records found",
            app=r"\.hea\) not found",
        ),
        Case("space-in-name", _cinc(r, "bröken rec", header=" "), "unicode", "header"),
        Case("unicode-valid", _unicode_record(r), "unicode", None, checks=("finite",)),
        Case("unicode-signal-file", _cinc(r, "ecg_ü"), "unicode", "non-ASCII"),
    ]
    return cases


def _png_header(root: Path, png: bytes) -> Path:
    (root / "hea_png.hea").write_bytes(png)
    (root / "hea_png.dat").write_bytes((SRC / "208.dat").read_bytes()[:21600])
    return root / "hea_png.hea"


def _garbage_header(root: Path) -> Path:
    (root / "hea_garbage.hea").write_bytes(garbage(300, seed=1))
    return root / "hea_garbage.hea"


def _gain_zero(root: Path) -> Path:
    path = _cinc(root, "gain_zero")
    path.write_text("gain_zero 1 300 9000\ngain_zero.mat 16+24 0/mV 16 0 128 0 0 ECG\n")
    return path


def _unlink(header: Path, ext: str) -> Path:
    header.with_suffix(ext).unlink()
    return header


def _unicode_record(root: Path) -> Path:
    """A valid record whose header file name has a space and non-ASCII letters (its signal file: ASCII)."""
    _cinc(root, "ecg_u2")
    (root / "ecg_u2.hea").unlink()
    path = root / "ecg ü 2.hea"
    path.write_text("ecg_u2 1 300 9000\necg_u2.mat 16+24 1000/mV 16 0 128 0 0 ECG\n")
    return path
