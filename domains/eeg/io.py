"""EEG reader: EDF, EDF+, BDF (and MNE .fif) through MNE, with header checks, channel-name
normalisation to the 10-20 system, resampling, band-pass and notch filters.

Every failure on bad input raises ``InputError`` naming the file and the problem; raw MNE or
numpy errors are wrapped, never passed on. Units: MNE stores volts; this module converts to
microvolts in exactly one place (``_load_uv``), and everything downstream is in uV until the
model's input scaling in :func:`to_channel_slots` (per recording and channel, or a fixed number of uV).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import mne
import numpy as np
import torch
from scipy import signal as sps

from jepa_core.errors import InputError

# The 19 channels of the international 10-20 system, front to back and left to right, with the
# modern (ACNS 2006) names; the old names T3/T4/T5/T6 are aliases of T7/T8/P7/P8.
STANDARD_CHANNELS: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip
ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
FORMATS = {".edf": "edf", ".bdf": "bdf", ".fif": "fif", ".fif.gz": "fif"}
FS_RANGE = (1.0, 100_000.0)  # Hz; outside this a header is broken, not exotic
MIN_DURATION_S = 1.0  # shorter recordings cannot be filtered (and hold no EEG rhythm)
# 1 MV: no EEG, even one whose header names no unit (MNE then takes its microvolt numbers for volts, 1e6x too
# large, which the app's amplitude note reports). Beyond this a channel is a broken physical range (+-1e30 gives
# NaN embeddings: the model's float32 squares overflow); it is zero-filled.
MAX_ABS_UV = 1e12
MAX_BYTES = 2 * 1024**3  # refuse recordings whose picked channels exceed this as float32 samples
DECODE_CHUNK_BYTES = 4 * 1024**2  # MNE decodes to float64 in pieces of at most this size (see _load_uv)
FFT_BLOCK_BYTES = 64 * 1024**2  # channels are filtered in blocks whose spectrum is at most this (_filter_in_buffer)
WHOLE_FFT_MAX = 1 << 18  # input samples (signal and padding) up to which one FFT filters a recording (_fft_plan)
SEGMENT_FFT = 1 << 16  # input-rate FFT length of one segment of a longer recording, at least
SEGMENT_OVERLAP_S = 8.0  # seconds of neighbouring signal each segment reads on both sides
_EVENT_LABEL = re.compile(r"^(?![Bb][Aa][Dd]|[Ee][Dd][Gg][Ee]).*$")  # MNE's default: BAD_*/EDGE* are no events
_REF_SUFFIX = re.compile(r"[-_ ]?(REF|LE|RE|AR|AVG|CAR|A1|A2|M1|M2|A1A2|LINKED)$")
_CANON: dict[str, str] = {}


def _canonical_names() -> dict[str, str]:
    """Upper-case 10-05 name -> its standard spelling (from MNE's standard_1005 montage)."""
    if not _CANON:
        montage = standard_montage()
        _CANON.update({n.upper(): n for n in montage.ch_names})
        _CANON.update({old.upper(): new for old, new in ALIASES.items()})
    return _CANON


def standard_montage() -> mne.channels.DigMontage:
    """The 10-05 template montage (``colin27_1005`` from MNE 1.13 on, ``standard_1005`` before)."""
    try:
        return mne.channels.make_standard_montage("colin27_1005")
    except ValueError:
        return mne.channels.make_standard_montage("standard_1005")


@lru_cache(maxsize=4096)
def normalise_channel_name(name: str) -> str:
    """Map vendor labels to 10-20 names: 'EEG Fp1-REF', 'EEG FP1', 'Fp1.', 'FP1' -> 'Fp1'; 'T3' -> 'T7'.

    Only reference suffixes are stripped, so a bipolar derivation such as 'Fp1-F7' stays as it is
    and is not taken for Fp1. Unknown names come back stripped but otherwise unchanged.
    """
    key = (name or "").strip().upper().rstrip(".")
    key = re.sub(r"^(EEG|EEG:)\s*", "", key).strip()
    key = _REF_SUFFIX.sub("", key).strip(" -_")
    return _canonical_names().get(key, (name or "").strip())


@dataclass(frozen=True)
class EegRecording:
    """One preprocessed recording. Shape: signal (C, T) float32 microvolts at rate ``fs``.

    ``channels`` are the 10-20 names of the rows of ``signal`` (only EEG-typed channels that map
    to a known name, first occurrence wins); ``events`` are (onset_s, duration_s, label) from
    EDF+ annotations or a .fif's annotations.
    """

    record_id: str
    path: Path
    subject: int | None
    signal: np.ndarray
    fs: float
    channels: tuple[str, ...]
    fs_original: float
    n_samples_original: int
    events: list[tuple[float, float, str]] = field(default_factory=list)
    flat_channels: tuple[str, ...] = ()
    nonfinite_samples: int = 0
    out_of_range_channels: tuple[str, ...] = ()  # beyond MAX_ABS_UV somewhere: zeroed before filtering

    @property
    def unusable_channels(self) -> tuple[str, ...]:
        """Flat and out-of-range channels: their rows hold no usable signal and are zero-filled for the model."""
        return self.flat_channels + self.out_of_range_channels

    @property
    def duration_s(self) -> float:
        return self.signal.shape[1] / self.fs

    def to_raw(self) -> mne.io.RawArray:
        """The preprocessed signal as an MNE Raw (volts, 10-20 names) with the standard 10-05 template
        montage set, for topographies and any further MNE processing."""
        info = mne.create_info(list(self.channels), self.fs, "eeg")
        raw = mne.io.RawArray(self.signal.astype(np.float64) * 1e-6, info, verbose="error")
        raw.set_montage(standard_montage(), on_missing="ignore", verbose="error")
        return raw


def subject_id(path: str | Path) -> int | None:
    """The first integer in the file name: 'Subject07_2.edf' -> 7, 'S001R03.edf' -> 1."""
    match = re.search(r"(\d+)", Path(path).name)
    return int(match.group(1)) if match else None


def _format(path: Path) -> str:
    name = path.name.lower()
    for ext, kind in FORMATS.items():
        if name.endswith(ext):
            return kind
    raise InputError(path, f"unsupported file type {path.suffix!r}: expected one of {', '.join(FORMATS)}")


def _field(raw: bytes, lo: int, hi: int) -> str:
    return raw[lo:hi].decode("latin-1").strip()


def check_edf_header(path: Path, kind: str, channels: Sequence[str] | None = None) -> list[str]:
    """Validate the fixed EDF/BDF header against the file size before MNE touches the samples.

    Catches truncated files, headers whose record count or duration disagree with the data,
    absurd sampling rates and declared sizes that would exhaust memory: the signals that map to
    ``channels`` (all signals when ``None``) as float32 at the file's highest rate (MNE brings every
    channel to it), plus any annotation signal as stored (MNE parses it when it opens the file),
    against ``MAX_BYTES``. Returns the signal labels.
    """
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "file is empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(256)
        if len(head) < 256:
            raise InputError(path, f"truncated header: {len(head)} of 256 bytes")
        try:
            n_records = int(_field(head, 236, 244))
            duration = float(_field(head, 244, 252))
            n_signals = int(_field(head, 252, 256))
        except ValueError:
            raise InputError(path, f"not an {kind.upper()} file: header fields are not numbers") from None
        if not 0 < n_signals <= 4096:
            raise InputError(path, f"header declares {n_signals} signals")
        try:
            header_bytes = int(_field(head, 184, 192))
        except ValueError:
            raise InputError(path, "header field 'number of bytes in header' is not a number") from None
        if header_bytes != 256 * (n_signals + 1):
            raise InputError(
                path,
                f"header size field says {header_bytes} bytes, but a header with {n_signals} signals "
                f"has {256 * (n_signals + 1)}",
            )
        sig = fh.read(256 * n_signals)
    if len(sig) < 256 * n_signals:
        raise InputError(path, f"truncated header: the {n_signals} signal headers need {256 * n_signals} bytes")
    try:
        per_record = [int(_field(sig, 216 * n_signals + 8 * i, 216 * n_signals + 8 * i + 8)) for i in range(n_signals)]
    except ValueError:
        raise InputError(path, "header field 'samples per record' is not a number") from None
    labels = [_field(sig, 16 * i, 16 * i + 16) for i in range(n_signals)]
    _check_ranges(path, sig, labels)
    if duration <= 0 or min(per_record) <= 0:
        raise InputError(path, f"header declares record duration {duration} s and samples {min(per_record)}")
    annotations = [i for i, lab in enumerate(labels) if lab.endswith("Annotations")]
    signals = [n for i, n in enumerate(per_record) if i not in annotations] or per_record
    rate = max(signals) / duration  # an annotation signal's "samples" are bytes of text, not a rate
    if not FS_RANGE[0] <= rate <= FS_RANGE[1]:
        raise InputError(path, f"absurd sampling rate {rate:g} Hz in the header")
    width = 3 if kind == "bdf" else 2
    record_bytes = sum(per_record) * width
    available = (size - header_bytes) // record_bytes
    if n_records == -1:  # EDF+ allows 'unknown' while recording; the file size decides
        n_records = available
    if n_records <= 0:
        raise InputError(path, "no data records")
    if available < n_records:
        raise InputError(
            path,
            f"truncated: the header declares {n_records} data records of {duration:g} s "
            f"but the file holds only {available} ({size} bytes)",
        )
    _check_record_size(path, size - header_bytes, n_records, record_bytes, width)
    wanted = set(channels) if channels is not None else None
    decoded = sum(1 for lab in labels if _may_map(lab, wanted)) if wanted is not None else n_signals - len(annotations)
    need = n_records * (max(per_record) * decoded * 4 + sum(per_record[i] for i in annotations) * width)
    if need > MAX_BYTES:
        raise InputError(
            path,
            f"declared size ({n_records} records x {decoded} EEG signals: {need / 1024**3:.1f} GiB) "
            f"exceeds the memory budget ({MAX_BYTES / 1024**3:g} GiB)",
        )
    plus = _field(head, 192, 236).upper()[:5]
    if annotations and plus in ("EDF+C", "EDF+D", "BDF+C", "BDF+D"):
        _check_record_onsets(path, n_records, duration, per_record, annotations[0], width, header_bytes, plus)
    return labels


def _check_record_size(path: Path, data_bytes: int, n_records: int, record_bytes: int, width: int) -> None:
    """Refuse data that are longer than the declared records by the same whole number of samples per record.

    That is what a header whose samples per record understate the data looks like, and MNE would read such a
    file with every record after the first shifted (garbage samples, no error). Whole extra records (a stale
    record count: MNE infers the count from the file size and reads them all) and a few trailing bytes are left
    alone, as MNE reads them.
    """
    extra = data_bytes - n_records * record_bytes
    if n_records < 2 or extra < width * n_records or extra % record_bytes == 0 or extra % (width * n_records):
        return
    raise InputError(
        path,
        f"the data are {extra} bytes longer than the {n_records} data records of {record_bytes} bytes the header "
        f"declares: {extra // n_records} bytes more in every record, so the header's samples per record do not "
        f"match the data",
    )


_RECORD_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)[\x14\x15]")  # a data record's first TAL starts with its onset
# Bytes no annotation text holds (TALs use NUL, 0x14 and 0x15 only): samples where the annotations should be.
_NOT_TEXT = np.zeros(256, dtype=bool)
_NOT_TEXT[[*range(0x01, 0x14), *range(0x16, 0x20), 0x7F]] = True


ONSET_CHECK_RECORDS = 16  # EDF+C records whose onsets are checked; a misalignment shows from record 1 on


def _check_record_onsets(
    path: Path,
    n_records: int,
    duration: float,
    per_record: list[int],
    annotation: int,
    width: int,
    header: int,
    variant: str,
) -> None:
    """Check the onset that starts each EDF+ data record's annotation signal (its time-keeping TAL).

    - A record whose annotation signal starts, instead of an onset, with bytes no annotation text holds
      (control bytes), or with anything but an onset when record 0 starts with one, holds samples there: it is
      not where the header's samples per record put it, so the header understates or overstates the data. MNE
      would read every record after the first shifted, or stop with a misleading text-encoding error. This
      also works where the file size cannot tell: when the record count is wrong too, or unknown (-1). Empty
      annotation bytes (a writer that keeps no time) and text without an onset are left alone in EDF+C, as MNE
      reads them. The check is strong, not certain: sample bytes can look like text.
    - EDF+D ("discontinuous") may leave gaps between records, which MNE reads as if there were none: windows
      would run across them. Onsets that step by exactly the record duration are continuous in fact (many
      writers mark every file EDF+D) and read; a gap is refused, naming the first.

    ``variant`` is the header's "EDF+C", "EDF+D", "BDF+C" or "BDF+D". EDF+C files are checked on their first
    ``ONSET_CHECK_RECORDS`` records, EDF+D files on all.
    """
    discontinuous = variant.endswith("D")
    n = n_records if discontinuous else min(n_records, ONSET_CHECK_RECORDS)
    record_bytes = sum(per_record) * width
    start = sum(per_record[:annotation]) * width
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=header, shape=(n, record_bytes))
    heads = np.asarray(data[:, start : start + min(32, per_record[annotation] * width)])
    del data
    matches = [_RECORD_ONSET.match(raw.tobytes()) for raw in heads]
    # Samples where the annotations belong (control bytes; or anything but an onset in a file whose record 0 has
    # one): the records are not where the header puts them.
    samples = _NOT_TEXT[heads].any(axis=1) | (heads.any(axis=1) if matches[0] is not None else False)
    for k, match in enumerate(matches):
        if match is not None:
            continue
        if samples[k]:
            raise InputError(
                path,
                f"{variant} data record {k} holds sample bytes where its annotation signal should start: the "
                f"records are not where the header's samples per record put them (the header does not match the "
                f"data)",
            )
        if discontinuous:  # text without an onset, or none: MNE would read it, but it cannot be placed in time
            raise InputError(
                path,
                f"{variant} data record {k} has no record onset in its annotation signal, which an {variant} file "
                f"needs to place its records in time",
            )
    if not discontinuous:
        return
    onsets = [float(m.group(1)) for m in matches]
    steps = np.diff(np.asarray(onsets)) - duration
    gaps = np.flatnonzero(np.abs(steps) > 1e-3 * max(duration, 1.0))
    if len(gaps):
        k = int(gaps[0]) + 1
        raise InputError(
            path,
            f"discontinuous {variant}: data record {k} starts at {onsets[k]:g} s, {steps[k - 1]:+g} s from where "
            f"the previous one ends ({len(gaps)} gaps); split it into continuous recordings first",
        )


def _wanted_labels(labels: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The labels MNE may give the channels that can map to ``wanted``: opening only those skips the rest.

    With ``infer_types`` MNE drops a leading type word ('EEG Fp1' -> 'Fp1', 'ECG Cz' -> 'Cz'), so both
    forms are listed; channel types are still decided by MNE, and :func:`_eeg_picks` still picks by type.
    """
    wanted, out = set(wanted), []
    for label in labels:
        if _may_map(label, wanted):
            out += [label, _without_type(label)]
    return out


def _without_type(label: str) -> str:
    return label.split(" ", 1)[1] if " " in label else label


def _may_map(label: str, wanted: set[str]) -> bool:
    """Whether the signal ``label``, with or without its leading type word, is a channel of ``wanted``."""
    return normalise_channel_name(label) in wanted or normalise_channel_name(_without_type(label)) in wanted


def _check_ranges(path: Path, sig: bytes, labels: list[str]) -> None:
    """Physical and digital ranges of every signal: numbers, digital max > min, physical max != min.

    Either broken range makes the gain 0 or infinite, so every sample would decode as a constant or inf.
    """
    n_signals = len(labels)
    for name, lo_at, hi_at in (("physical", 104, 112), ("digital", 120, 128)):
        try:
            lo = [
                float(_field(sig, lo_at * n_signals + 8 * i, lo_at * n_signals + 8 * i + 8)) for i in range(n_signals)
            ]
            hi = [
                float(_field(sig, hi_at * n_signals + 8 * i, hi_at * n_signals + 8 * i + 8)) for i in range(n_signals)
            ]
        except ValueError:
            raise InputError(path, f"header field '{name} minimum/maximum' is not a number") from None
        bad = [lab for lab, a, b in zip(labels, lo, hi, strict=True) if (b <= a if name == "digital" else b == a)]
        if bad:
            rule = "maximum <= minimum" if name == "digital" else "maximum == minimum"
            raise InputError(path, f"{name} range broken ({rule}) for {len(bad)} signals, e.g. {bad[0]!r}")


def _open_raw(path: Path, kind: str, include: Sequence[str] | None = None) -> mne.io.BaseRaw:
    """Open lazily; ``include`` (EDF/BDF) limits MNE to those channel names, which halves the cost of opening."""
    extra = {"include": list(include)} if include else {}
    try:
        if kind == "edf":
            return mne.io.read_raw_edf(path, preload=False, infer_types=True, verbose="error", **extra)
        if kind == "bdf":
            return mne.io.read_raw_bdf(path, preload=False, infer_types=True, verbose="error", **extra)
        return mne.io.read_raw_fif(path, preload=False, verbose="error")
    except Exception as err:  # MNE raises many types on broken files; the user needs one message
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(path, f"cannot read as {kind.upper()}: {first}") from None


def _eeg_picks(raw: mne.io.BaseRaw, wanted: Sequence[str]) -> tuple[list[int], list[str]]:
    """Indices and 10-20 names of EEG-typed channels in ``wanted`` (by type, not by position)."""
    eeg = mne.pick_types(raw.info, eeg=True, exclude=[])
    picks, names, wanted = [], [], set(wanted)
    for i in eeg:
        name = normalise_channel_name(raw.ch_names[i])
        if name in wanted and name not in names:
            picks.append(int(i)), names.append(name)
    return picks, names


def _load_uv(
    raw: mne.io.BaseRaw,
    picks: list[int],
    path: Path,
    out: np.ndarray | None = None,
    chunk_bytes: int = DECODE_CHUNK_BYTES,
) -> np.ndarray:
    """The one place where volts become microvolts. Shape: (len(picks), T) float32 (``out`` when given).

    MNE decodes to float64 volts; one pass scales and narrows them (float32 keeps 24 bits, finer than
    a 16-bit EDF or 24-bit BDF sample at any realistic gain), which halves every later pass over the
    samples. A value beyond float32's range becomes inf here and is repaired like any non-finite sample.
    MNE decodes ``chunk_bytes`` of float64 at a time, so a long recording never exists in float64 whole:
    the float32 result is the only full-length copy (it was a 2.2 GB float64 detour for an 8 h,
    19-channel recording at 512 Hz). 4 MB pieces stay in cache while they are scaled: 25-45% faster
    than 64 MB ones from 20 s to 2 h of signal (14 ms instead of 22-27 for 20 min of 19 channels at 256 Hz).
    """
    n = raw.n_times
    data = np.empty((len(picks), n), dtype=np.float32) if out is None else out
    step = max(1, chunk_bytes // (8 * max(1, len(picks))))
    for start in range(0, n, step):
        stop = min(n, start + step)
        try:  # a new array (the raw is not preloaded), in volts: EEG-typed picks
            volts = raw.get_data(picks=picks, start=start, stop=stop)
        except Exception as err:
            raise InputError(path, f"cannot decode the samples: {str(err).splitlines()[0]}") from None
        with np.errstate(over="ignore", invalid="ignore"):  # what get_data(units="uV") does, in one pass
            np.multiply(volts, 1e6, out=data[:, start:stop], casting="unsafe")
    return data


def _repair(data: np.ndarray) -> int:
    """Replace non-finite samples by 0 uV in place (after filtering they would spread); returns their count."""
    bad = ~np.isfinite(data)
    count = int(bad.sum())
    if count:
        data[bad] = 0.0
    return count


PAD_S = 2.0  # odd-reflection padding on each side before the FFT, faded to zero (see preprocess)


def _biquad_power(sections: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``|H(e^jw)|^2`` of a cascade of biquads (rows b0 b1 b2 a0 a1 a2), in real arithmetic.

    ``|b0 + b1 z^-1 + b2 z^-2|^2 = b0^2 + b1^2 + b2^2 + 2 (b0 b1 + b1 b2) cos w + 2 b0 b2 cos 2w`` on the
    unit circle, and the same for ``a``: two cosines serve every section, ~10x faster than ``sosfreqz``'s
    complex polynomials on long recordings (a 1 h recording's 230k bins: ~5 ms instead of ~50).
    """
    c1 = np.cos(w)
    c2 = 2.0 * c1 * c1 - 1.0  # cos 2w without a second cosine
    power = np.ones_like(w)
    for b0, b1, b2, a0, a1, a2 in np.atleast_2d(sections):
        num = (b0 * b0 + b1 * b1 + b2 * b2) + 2.0 * (b0 * b1 + b1 * b2) * c1 + 2.0 * b0 * b2 * c2
        den = (a0 * a0 + a1 * a1 + a2 * a2) + 2.0 * (a0 * a1 + a1 * a2) * c1 + 2.0 * a0 * a2 * c2
        power *= num / den
    return power


@lru_cache(maxsize=16)
def _filter_sections(fs: float, bandpass: tuple[float, float] | None, notch: tuple[float, ...]) -> np.ndarray:
    """The biquads of the band-pass (4th-order Butterworth) and of the notches (Q = 30) that apply at ``fs``.

    Shape: (sections, 6), possibly (0, 6).
    """
    rows = [sps.butter(4, bandpass, btype="bandpass", fs=fs, output="sos")] if bandpass is not None else []
    for f0 in notch:
        if f0 < fs / 2 and (bandpass is None or f0 < bandpass[1] + 5):
            b, a = sps.iirnotch(f0, Q=30.0, fs=fs)
            rows.append(np.concatenate([b, a])[None])
    return np.concatenate(rows) if rows else np.zeros((0, 6))


@lru_cache(maxsize=64)
def _zero_phase_gain(n: int, fs: float, bandpass: tuple[float, float] | None, notch: tuple[float, ...]) -> np.ndarray:
    """``|H(f)|^2`` of the band-pass and notches on the ``rfft`` bins of an ``n``-point signal at ``fs``.

    This is the magnitude response of running the filters forwards and backwards (``sosfiltfilt``),
    applied in one multiplication. Without a band-pass, a raised-cosine roll-off between 0.9 and
    1.0 times Nyquist stands in for the anti-alias filter. Shape: (n // 2 + 1,) float32.
    """
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    gain = _biquad_power(_filter_sections(fs, bandpass, notch), 2.0 * np.pi * freqs / fs)
    if bandpass is None:
        edge = np.clip((freqs / (fs / 2) - 0.9) / 0.1, 0.0, 1.0)
        gain *= 0.5 + 0.5 * np.cos(np.pi * edge)
    if n % 2 == 0:
        gain[-1] = 0.0  # the Nyquist bin of a real signal cannot carry a phase: drop it
    return gain.astype(np.float32)


@lru_cache(maxsize=16)
def _line_basis(t: int) -> tuple[torch.Tensor, float]:
    """The (2, t) rows 1 and a ramp from -1 to 1, and the ramp's squared norm: building them cost 20% of the filter
    on a 60 s recording, and recordings of one dataset share their lengths."""
    ramp = torch.linspace(-1.0, 1.0, t)
    return torch.stack([torch.ones(t), ramp]), float(ramp @ ramp)


@lru_cache(maxsize=16)
def _fade(pad: int) -> np.ndarray:
    """Half a cosine from 1 down to 0 (both ends left out), over ``pad`` samples. Shape: (pad,) float32."""
    fade = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, pad + 2, dtype=np.float32)[1:-1])
    fade.flags.writeable = False
    return fade


@dataclass(frozen=True)
class _FftPlan:
    """Sizes of the resampling FFT round trips: ``t`` input samples at ``up / down`` times the rate.

    Buffer layout (``length`` columns): zeros, the left reflection (``pad``), the signal at
    ``[overlap, overlap + t)``, the right reflection, zeros. Segment ``k`` is the ``nfft`` columns from
    ``k * core``; of its output, the ``core`` samples after the first ``overlap`` are kept. A short
    recording is one segment with ``overlap == pad`` (one FFT over the whole buffer, whose zeros wrap
    round to the left reflection); a long one is cut into overlapping segments (see :func:`_fft_plan`).
    """

    t: int
    up: int
    down: int
    pad: int  # input samples of reflection on each side (whole output samples)
    nfft: int  # input-rate FFT length of one segment: a multiple of ``down``
    overlap: int  # input samples each segment reads beyond its core on each side (>= pad; whole output samples)
    t_out: int

    @property
    def n_out(self) -> int:
        return self.nfft * self.up // self.down

    @property
    def core(self) -> int:
        return self.nfft - 2 * self.overlap

    @property
    def segments(self) -> int:
        return -(-self.t // self.core)

    @property
    def length(self) -> int:
        return self.segments * self.core + 2 * self.overlap


def _fft_plan(t: int, fs_in: float, fs: float) -> _FftPlan:
    """One FFT for signal and padding up to ``WHOLE_FFT_MAX`` input samples, overlapping segments above.

    Per point, MKL's FFT is ~2x slower at 1M points and ~8x at 4M than at 32k-64k (one thread), so a
    long recording goes through segments of ~64k points (or 8 overlaps, if more) that each read
    ``SEGMENT_OVERLAP_S`` of the neighbouring signal on both sides, beyond which the filters' impulse
    responses have died away: the output equals one whole FFT's to 1e-5 of the signal's RMS inside the
    recording and 2e-3 in its first and last 2 s, where the whole FFT's wrap-around differs (tested).
    """
    ratio = Fraction(fs / fs_in).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    pad = min(t - 1, round(PAD_S * fs_in)) // down * down
    t_out = -(-t * up // down)
    if t + 2 * pad <= WHOLE_FFT_MAX:
        nfft = down * _fast_multiple(-(-(t + 2 * pad) // down), up, down)
        return _FftPlan(t=t, up=up, down=down, pad=pad, nfft=nfft, overlap=pad, t_out=t_out)
    overlap = max(pad, -(-round(SEGMENT_OVERLAP_S * fs_in) // down) * down)
    nfft = down * _fast_multiple(-(-max(SEGMENT_FFT, 8 * overlap) // down), up, down)
    return _FftPlan(t=t, up=up, down=down, pad=pad, nfft=nfft, overlap=overlap, t_out=t_out)


def _fast_multiple(m: int, up: int, down: int) -> int:
    """The smallest ``m' >= m`` that makes both FFT lengths, ``down * m'`` and ``up * m'``, fast.

    Fast: ``m'`` has no prime factor above 7 and both lengths are multiples of 8. MKL's real FFT
    (torch's on x86) slows down sharply with fewer factors of 2, whatever the other factors: 19 x
    33,750 points (one 2) take 2.0 ms, 35,000 (2^3) 1.5 ms, 39,375 (odd) 5.2 ms (one thread); so a
    few per cent more points often cost less time. A multiple of 8 always qualifies, so the search is short.
    """
    while (down * m) % 8 or (up * m) % 8 or not _seven_smooth(m):
        m += 1
    return m


def _seven_smooth(n: int) -> bool:
    for p in (2, 3, 5, 7):
        while n % p == 0:
            n //= p
    return n == 1


def _fft_buffer(channels: int, plan: _FftPlan) -> np.ndarray:
    """The round trips' buffer; the signal goes in ``[:, overlap : overlap + t]``. Shape: (channels, length) float32.

    Only the zeros beyond the reflections are written here: the rest is written before it is read.
    """
    buf = np.empty((channels, plan.length), dtype=np.float32)
    buf[:, : plan.overlap - plan.pad] = 0.0
    buf[:, plan.overlap + plan.t + plan.pad :] = 0.0
    return buf


def _signal_buffer(
    channels: int, t: int, fs_in: float, fs: float, bandpass, notch: Sequence[float]
) -> tuple[np.ndarray, _FftPlan | None, np.ndarray]:
    """Where a (channels, t) signal goes before filtering: the FFT buffer, its plan and the buffer's
    (channels, t) view that takes the signal; or, when no resampling or filter applies, a plain
    (channels, t) float32 array, no plan, and the array itself."""
    if fs_in == fs and bandpass is None and not any(f < fs / 2 for f in notch):
        buf = np.empty((channels, t), dtype=np.float32)
        return buf, None, buf
    plan = _fft_plan(t, fs_in, fs)
    buf = _fft_buffer(channels, plan)
    return buf, plan, buf[:, plan.overlap : plan.overlap + t]


def preprocess(
    data: np.ndarray,
    fs_in: float,
    fs: float,
    bandpass: tuple[float, float] | None,
    notch: Sequence[float],
) -> np.ndarray:
    """Resample to ``fs`` and apply the zero-phase band-pass and notches, in one FFT round trip
    (in overlapping segments for recordings over ``WHOLE_FFT_MAX`` samples, see :func:`_fft_plan`).

    The filters are the 4th-order Butterworth band-pass and the Q=30 notches of the model card;
    their squared magnitude is applied in the frequency domain, which is what ``sosfiltfilt``
    does in the time domain (zero phase, ``|H|^2``), and truncating the spectrum at the new
    Nyquist resamples (an ideal low-pass; the band-pass ends well below it). Edges: each
    channel's least-squares line is removed, then the signal is extended by odd reflection
    (``PAD_S`` seconds, as ``filtfilt`` pads) faded to zero, so that the circular FFT sees no jump.
    Sample k of the output is at k / ``fs`` seconds, as with ``resample_poly``.

    Against ``resample_poly`` + ``sosfiltfilt`` on EEG: ~0.2 % RMS apart away from the first and
    last two seconds, closer to the answer for the infinite signal at the edges, 2-3x faster.
    Runs in float32 (microvolt amplitudes need no more) and returns a view of the inverse FFT's output.
    Shape: (C, T_in) -> (C, ceil(T_in * fs / fs_in)) float32.
    """
    x = np.asarray(data)
    buf, plan, view = _signal_buffer(*x.shape, fs_in, fs, bandpass, notch)
    view[:] = x  # float32 from here on
    return _filter_in_buffer(buf, plan, fs, bandpass, notch) if plan else buf


def _filter_in_buffer(
    buf: np.ndarray, plan: _FftPlan, fs: float, bandpass: tuple[float, float] | None, notch: Sequence[float]
) -> np.ndarray:
    """:func:`preprocess` on a buffer from :func:`_fft_buffer` that holds the signal (overwritten)."""
    notch = tuple(float(f) for f in notch)
    bandpass = None if bandpass is None else (float(bandpass[0]), float(bandpass[1]))
    t, pad, v, nfft, c = plan.t, plan.pad, plan.overlap, plan.nfft, buf.shape[0]
    # Remove each channel's least-squares line first: the band-pass (two zeros at DC) removes a
    # line exactly, and without it an offset or a drift would ring at the edges of the padding.
    sig = buf[:, v : v + t]
    sig_t = torch.from_numpy(sig)  # shares the buffer
    basis, ramp_norm = _line_basis(t)  # (2, t): offset and ramp, orthogonal, so least squares
    coef = torch.stack([sig_t.sum(1) / t, torch.mv(sig_t, basis[1]) / ramp_norm], dim=1)  # (C, 2)
    sig_t.addmm_(coef, basis, alpha=-1.0)  # in place, one pass (a sum and a GEMV beat a GEMM with N=2: 2x)
    if pad:  # odd reflections about the end samples, faded to zero at their outer ends: no jump anywhere
        fade = _fade(pad)  # 1 -> 0
        buf[:, v + t : v + t + pad] = -sig[:, -2 : -pad - 2 : -1] * fade
        buf[:, v + t : v + t + pad] += 2 * sig[:, -1:] * fade
        buf[:, v - pad : v] = (2 * sig[:, :1] - sig[:, pad:0:-1]) * fade[::-1]
    # torch's FFT (MKL on x86 builds) is 2-3x faster than scipy's pocketfft at 19 x 30k-100k points
    # with one thread. Channels go through in blocks whose spectrum is at most FFT_BLOCK_BYTES, so no
    # spectrum as large as the buffer ever exists: the buffer and the output are the only full-length arrays.
    n_out, keep = plan.n_out, plan.n_out // 2 + 1
    v_out, core_out = v * plan.up // plan.down, plan.core * plan.up // plan.down
    gain = torch.from_numpy(_zero_phase_gain(n_out, float(fs), bandpass, notch) * np.float32(n_out / nfft))
    src, out = torch.from_numpy(buf), torch.empty((c, plan.segments * core_out), dtype=torch.float32)
    rows = max(1, FFT_BLOCK_BYTES // (8 * (nfft // 2 + 1)))
    for k in range(plan.segments):
        for r in range(0, c, rows):
            spec = torch.fft.rfft(src[r : r + rows, k * plan.core : k * plan.core + nfft], dim=1)
            if keep > spec.shape[1]:  # up-sampling: zero-pad the spectrum
                spec = torch.cat([spec, spec.new_zeros(spec.shape[0], keep - spec.shape[1])], dim=1)
            spec = spec[:, :keep]
            spec *= gain
            seg = torch.fft.irfft(spec, n_out, dim=1)
            out[r : r + rows, k * core_out : (k + 1) * core_out] = seg[:, v_out : v_out + core_out]
    out = out[:, : plan.t_out].numpy()  # a view: the caller copies what it keeps
    if bandpass is None:  # put the line back, sampled at the output times
        times = np.arange(plan.t_out) * (plan.down / plan.up) * (2.0 / max(t - 1, 1)) - 1.0
        mean, slope = coef.numpy()[:, :1], coef.numpy()[:, 1:]
        out += (mean + slope * times).astype(np.float32)
    return out


def read_eeg(
    path: str | Path,
    *,
    fs: float = 128.0,
    bandpass: tuple[float, float] | None = (0.5, 45.0),
    notch: Sequence[float] = (50.0, 60.0),
    channels: Sequence[str] = STANDARD_CHANNELS,
    min_duration_s: float = 0.0,
    max_duration_s: float | None = None,
) -> EegRecording:
    """Read, pick the EEG channels of ``channels``, convert to uV, resample and filter one recording.

    ``max_duration_s`` keeps only the start of longer recordings (cropped before any sample is decoded).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    kind = _format(path)
    include = _wanted_labels(check_edf_header(path, kind, channels), channels) if kind in ("edf", "bdf") else None
    raw = _open_raw(path, kind, include)
    fs_in = float(raw.info["sfreq"])
    if not FS_RANGE[0] <= fs_in <= FS_RANGE[1]:
        raise InputError(path, f"absurd sampling rate {fs_in:g} Hz")
    if bandpass is not None and fs_in <= 2 * bandpass[1]:
        raise InputError(
            path,
            f"sampling rate {fs_in:g} Hz is too low for the {bandpass[0]:g}-{bandpass[1]:g} Hz band "
            f"(needs more than {2 * bandpass[1]:g} Hz)",
        )
    try:
        picks, names = _eeg_picks(raw, channels)
    except (ValueError, KeyError) as err:  # e.g. a .fif whose channel kind or coil type is not one MNE knows
        raise InputError(
            path, f"cannot read the channel list: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        ) from None
    if not picks:
        raw = _open_raw(path, kind) if include else raw  # name every channel in the message
        found = ", ".join(f"{n} ({t})" for n, t in list(zip(raw.ch_names, raw.get_channel_types(), strict=True))[:12])
        raise InputError(
            path, f"no usable EEG channel: none of the channels maps to {', '.join(channels)}; found {found}"
        )
    n_original, duration = int(raw.n_times), raw.n_times / fs_in
    if duration < max(min_duration_s, MIN_DURATION_S):
        need = max(min_duration_s, MIN_DURATION_S)
        raise InputError(path, f"too short: {n_original} samples ({duration:.3g} s), at least {need:g} s needed")
    if max_duration_s is not None and duration > max_duration_s:
        raw.crop(tmax=max_duration_s, include_tmax=False)
    if len(picks) * raw.n_times * 4 > MAX_BYTES:  # before any buffer is allocated
        raise InputError(
            path,
            f"{len(picks)} channels x {raw.n_times} samples exceed the memory budget ({MAX_BYTES / 1024**3:g} GiB)",
        )
    # Decode straight into the resampling FFT's buffer: no copy of the recording between MNE and the filters.
    buf, plan, view = _signal_buffer(len(picks), raw.n_times, fs_in, fs, bandpass, notch)
    data = _load_uv(raw, picks, path, out=view)
    lo, hi = data.min(axis=1), data.max(axis=1)  # NaN or inf anywhere shows in these
    nonfinite = 0
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        nonfinite = _repair(data)
        if nonfinite == data.size:
            raise InputError(path, "every sample is NaN or infinite")
        lo, hi = data.min(axis=1), data.max(axis=1)
    flat = tuple(n for n, a, b in zip(names, lo, hi, strict=True) if b - a < 1e-3)
    if len(flat) == len(names):
        raise InputError(path, "every EEG channel is flat (constant signal)")
    # A physical range of +-1e30 in a header decodes to finite but absurd values, which the filters keep finite
    # and the model's layer norms turn into NaN (squares beyond float32): such channels carry no EEG.
    huge = np.maximum(np.abs(lo), np.abs(hi)) > MAX_ABS_UV
    out_of_range = tuple(n for n, h in zip(names, huge, strict=True) if h and n not in flat)
    if len(out_of_range) + len(flat) == len(names):
        peak = float(np.max(np.maximum(np.abs(lo), np.abs(hi))))
        raise InputError(
            path, f"every EEG channel is flat or out of range (up to {peak:.3g} uV; check the physical ranges)"
        )
    if huge.any():
        data[np.flatnonzero(huge)] = 0.0
    try:
        signal = _filter_in_buffer(buf, plan, fs, bandpass, notch) if plan else data
    except ValueError as err:  # e.g. a band-pass that does not fit below the output rate's Nyquist
        raise InputError(path, f"cannot filter the signal: {str(err).splitlines()[0]}") from None
    if not np.isfinite(signal).all():
        raise InputError(path, "filtering produced non-finite values (signal out of range)")
    return EegRecording(
        record_id=path.name.split(".")[0],
        path=path,
        subject=subject_id(path),
        signal=signal,
        fs=float(fs),
        channels=tuple(names),
        fs_original=fs_in,
        n_samples_original=n_original,
        events=read_events(raw),
        flat_channels=flat,
        nonfinite_samples=nonfinite,
        out_of_range_channels=out_of_range,
    )


def read_events(raw: mne.io.BaseRaw) -> list[tuple[float, float, str]]:
    """Annotations as (onset_s, duration_s, label), through ``mne.events_from_annotations``.

    Onsets are in seconds from the first sample, on the recording's own sample grid (an annotation
    between two samples lands on the nearer one, as MNE places it), so they survive resampling
    unchanged. Each event's duration is that of the annotation it came from: the nearest onset
    with the same label, within half a sample.
    """
    if not len(raw.annotations):
        return []
    if not any(_EVENT_LABEL.match(str(d)) for d in raw.annotations.description):
        return []  # only rejected segments (BAD_*, EDGE*), which MNE does not make events of
    events, event_id = mne.events_from_annotations(raw, regexp=_EVENT_LABEL.pattern, verbose="error")
    label = {code: name for name, code in event_id.items()}
    fs = float(raw.info["sfreq"])
    ann_onset = np.asarray(raw.annotations.onset, dtype=float) - raw.first_time
    ann_duration = np.asarray(raw.annotations.duration, dtype=float)
    ann_label = np.asarray(raw.annotations.description)
    onsets = (events[:, 0].astype(float) - raw.first_samp) / fs
    names = np.asarray([label[int(code)] for code in events[:, 2]], dtype=object)
    durations = np.zeros(len(events))
    for name in set(names):  # per label, the nearest onset by binary search: files may hold 10^5 annotations
        rows = np.flatnonzero(names == name)
        same = np.flatnonzero(ann_label == name)
        ann = same[np.argsort(ann_onset[same], kind="stable")]  # this label's annotations, by onset
        right = np.clip(np.searchsorted(ann_onset[ann], onsets[rows]), 0, len(ann) - 1)
        left = np.maximum(right - 1, 0)
        gap_left, gap_right = np.abs(ann_onset[ann[left]] - onsets[rows]), np.abs(ann_onset[ann[right]] - onsets[rows])
        near = np.where(gap_left <= gap_right, ann[left], ann[right])
        close = np.minimum(gap_left, gap_right) <= 0.5 / fs + 1e-9
        durations[rows] = np.where(close, ann_duration[near], 0.0)
    return [(float(o), float(d), str(n)) for o, d, n in zip(onsets, durations, names, strict=True)]


def to_channel_slots(
    rec: EegRecording,
    channels: Sequence[str] = STANDARD_CHANNELS,
    *,
    fixed_uv: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Place the recording's channels in the slots of ``channels`` and scale them.

    Missing (and flat or out-of-range) channels are zero-filled, which after scaling means "no information".
    Per-recording robust scaling (default): each present channel is centred on its median and
    divided by IQR / 1.349 (the standard deviation of a Gaussian with that IQR), so artefacts do
    not set the scale, and neither does the recording's overall amplitude. ``fixed_uv``: every
    channel divided by that many microvolts instead, which keeps amplitude differences between
    recordings (the band-passed signal is already centred); ``fixed_uv=1`` leaves microvolts.
    Shape: returns ((len(channels), T) float32, (len(channels),) bool present).
    """
    out = np.zeros((len(channels), rec.signal.shape[1]), dtype=np.float32)
    present = np.zeros(len(channels), dtype=bool)
    rows = [(r, list(channels).index(n)) for r, n in enumerate(rec.channels)
            if n in channels and n not in rec.unusable_channels]  # fmt: skip
    if not rows:
        return out, present
    src, dst = (list(t) for t in zip(*rows, strict=True))
    present[dst] = True
    if fixed_uv is not None:
        out[dst] = rec.signal[src] if fixed_uv == 1 else rec.signal[src] * np.float32(1.0 / fixed_uv)
        return out, present
    q50, spread = _robust_stats(rec.signal[src])
    inv = np.where(spread > 1e-6, 1.0 / np.maximum(spread, 1e-6), 0.0).astype(np.float32)
    out[dst] = (rec.signal[src] - q50) * inv  # float32 throughout: a float64 detour tripled the read time
    return out, present


def _robust_stats(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row median and IQR / 1.349 from ~2k regularly spaced samples. Shape: (C, T) -> 2 x (C, 1)."""
    sub = signal[:, :: max(1, signal.shape[1] // 2048)]
    ks = [round(q * (sub.shape[1] - 1)) for q in (0.25, 0.5, 0.75)]
    sub = np.partition(sub, ks, axis=1)  # one partial sort serves the three quantiles
    q25, q50, q75 = (sub[:, k][:, None] for k in ks)
    return q50, (q75 - q25) / np.float32(1.349)


def robust_spread_uv(rec: EegRecording) -> np.ndarray:
    """IQR / 1.349 of each usable channel, in microvolts. Shape: (n usable channels,)."""
    rows = [r for r, n in enumerate(rec.channels) if n not in rec.unusable_channels]
    return _robust_stats(rec.signal[rows])[1][:, 0] if rows else np.zeros(0, dtype=np.float32)


def find_recordings(source: str | Path) -> list[Path]:
    """EEG files in a directory (recursively), a single file, or a text file listing paths."""
    source = Path(source)
    if source.is_dir():
        found = sorted(p for p in source.rglob("*") if p.is_file() and _is_eeg(p))
        if not found:
            raise InputError(source, f"no EEG file ({', '.join(FORMATS)}) in this directory")
        return found
    if source.is_file() and source.suffix.lower() in (".txt", ".list"):
        lines = [ln.strip() for ln in source.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return [Path(ln) if Path(ln).is_absolute() else source.parent / ln for ln in lines]
    if source.is_file():
        return [source]
    raise InputError(source, "no such file or directory")


def _is_eeg(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(ext) for ext in FORMATS)
