"""EEG reader on bundled real EDFs and on EDFs written in the test."""

from pathlib import Path

import numpy as np
import pytest

from domains.eeg.io import (
    STANDARD_CHANNELS,
    find_recordings,
    normalise_channel_name,
    read_eeg,
    subject_id,
    to_channel_slots,
)
from jepa_core.errors import InputError
from tests.domains.eeg.edf_factory import TEN_TWENTY_OLD, oscillation, write_edf

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "eeg"


@pytest.mark.parametrize(
    ("label", "name"),
    [("EEG Fp1-REF", "Fp1"), ("EEG FP1", "Fp1"), ("FP1", "Fp1"), ("Fp1.", "Fp1"), ("Cz..", "Cz"),
     ("T3", "T7"), ("EEG T6-LE", "P8"), ("fc5", "FC5"), ("Fp1-F7", "Fp1-F7"), ("ECG", "ECG")],
)  # fmt: skip
def test_channel_names_normalise(label, name):
    assert normalise_channel_name(label) == name


def test_bundled_eegmat_recording():
    rec = read_eeg(SAMPLES / "Subject09_2.edf", fs=128.0)
    assert rec.subject == 9 and rec.record_id == "Subject09_2"
    assert set(rec.channels) == set(STANDARD_CHANNELS)  # 19 EEG; A2-A1 and the ECG channel are left out
    assert rec.fs_original == 500.0 and rec.signal.shape == (19, round(62 * 128))
    assert 1.0 < float(np.median(rec.signal.std(1))) < 200.0  # microvolts, not volts
    slots, present = to_channel_slots(rec)
    assert present.all() and np.allclose(np.median(slots, axis=1), 0.0, atol=0.05)


def test_bundled_edf_plus_annotations_become_events():
    rec = read_eeg(SAMPLES / "S001R03.edf", fs=128.0)
    labels = [e[2] for e in rec.events]
    assert (labels.count("T0"), labels.count("T1"), labels.count("T2")) == (15, 8, 7)
    onsets = [e[0] for e in rec.events]
    assert onsets == sorted(onsets) and onsets[0] == 0.0 and 4.0 < onsets[1] < 4.3
    assert all(4.0 <= e[1] <= 4.3 for e in rec.events)
    assert len(rec.channels) == 19  # 64 channels, the 10-20 subset picked by name


def test_renamed_and_missing_channels(tmp_path):
    names = ["EEG Fp1-REF", "EEG FP2-REF", "EEG T3-REF", "EEG Cz-REF", "ECG EKG"]
    data = oscillation(10.0, 10, 256.0, len(names))
    path = write_edf(tmp_path / "vendor.edf", data, names, 256.0, ch_types=["eeg"] * 4 + ["ecg"])
    rec = read_eeg(path, fs=128.0)
    assert rec.channels == ("Fp1", "Fp2", "T7", "Cz")
    slots, present = to_channel_slots(rec)
    assert present.sum() == 4 and present[STANDARD_CHANNELS.index("T7")]
    assert not slots[~present].any()  # missing channels are zero-filled


def test_non_eeg_channels_skipped_by_type_not_position(tmp_path):
    # An ECG channel first and labelled like an electrode must still be dropped (its type is ecg).
    data = oscillation(10.0, 10, 256.0, 3)
    path = write_edf(tmp_path / "types.edf", data, ["ECG Cz", "Fp1", "O2"], 256.0, ch_types=["ecg", "eeg", "eeg"])
    assert read_eeg(path).channels == ("Fp1", "O2")


def test_bdf_reads_like_the_same_signal_written_as_edf(tmp_path):
    data = oscillation(10.0, 10, 256.0, 19)
    edf = read_eeg(write_edf(tmp_path / "same.edf", data, TEN_TWENTY_OLD, 256.0))
    bdf = read_eeg(write_edf(tmp_path / "same.bdf", data, TEN_TWENTY_OLD, 256.0))
    assert bdf.record_id == "same" and bdf.channels == edf.channels and bdf.fs_original == 256.0
    assert bdf.signal.shape == edf.signal.shape == (19, 10 * 128)
    # 24-bit and 16-bit samples of the same microvolts: equal far below the signal's 20 uV amplitude
    assert np.abs(bdf.signal - edf.signal).max() < 0.05 and bdf.signal.std() > 5.0


def test_truncated_bdf_counts_three_bytes_a_sample(tmp_path):
    path = write_edf(tmp_path / "full.bdf", oscillation(10.0, 10, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    cut = tmp_path / "cut.bdf"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size - 3 * 256])  # one second of one channel short
    with pytest.raises(InputError, match="truncated") as err:
        read_eeg(cut)
    assert "cut.bdf" in str(err.value)


def test_written_edf_plus_annotations_become_events(tmp_path):
    events = [(1.0, 4.0, "T1"), (6.5, 2.0, "T2"), (12.25, 3.0, "T0"), (15.0, 1.5, "T1")]
    path = write_edf(tmp_path / "events.edf", oscillation(10.0, 20, 250.0, 19), TEN_TWENTY_OLD, 250.0,
                     annotations=events)  # fmt: skip
    rec = read_eeg(path, fs=128.0)  # onsets in seconds from the first sample survive resampling
    assert [(label, duration) for _, duration, label in rec.events] == [(lab, dur) for _, dur, lab in events]
    # 12.25 s falls between two samples at 250 Hz: it lands on the nearer one, and keeps its duration
    assert np.allclose([e[0] for e in rec.events], [e[0] for e in events], atol=0.5 / 250.0)


def test_fif_annotations_become_events(tmp_path):
    import mne

    info = mne.create_info(TEN_TWENTY_OLD, 256.0, "eeg")
    raw = mne.io.RawArray(oscillation(10.0, 12, 256.0, 19) * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([2.0, 7.5], [1.0, 3.0], ["rest", "task"]))
    raw.save(tmp_path / "ann_raw.fif", verbose="error")
    rec = read_eeg(tmp_path / "ann_raw.fif")
    assert [(round(o, 4), round(d, 4), label) for o, d, label in rec.events] == [(2.0, 1.0, "rest"), (7.5, 3.0, "task")]


def test_events_at_one_sample_keep_their_own_labels_durations(tmp_path):
    import mne

    info = mne.create_info(TEN_TWENTY_OLD, 256.0, "eeg")
    raw = mne.io.RawArray(oscillation(10.0, 12, 256.0, 19) * 1e-6, info, verbose="error")
    # two labels on the same sample, and one label twice, 1 s apart: each event gets its own annotation's duration
    raw.set_annotations(mne.Annotations([3.0, 3.0, 5.0, 6.0], [0.5, 2.0, 1.0, 4.0], ["T1", "T2", "T1", "T1"]))
    raw.save(tmp_path / "same_raw.fif", verbose="error")
    events = sorted(read_eeg(tmp_path / "same_raw.fif").events)
    assert [(round(o, 4), d, label) for o, d, label in events] == [
        (3.0, 0.5, "T1"), (3.0, 2.0, "T2"), (5.0, 1.0, "T1"), (6.0, 4.0, "T1")
    ]  # fmt: skip


def test_resample_and_band_keep_the_oscillation(tmp_path):
    path = write_edf(tmp_path / "alpha.edf", oscillation(10.0, 20, 500.0, 19), TEN_TWENTY_OLD, 500.0)
    rec = read_eeg(path, fs=128.0)
    spectrum = np.abs(np.fft.rfft(rec.signal[0]))
    freqs = np.fft.rfftfreq(rec.signal.shape[1], 1 / 128.0)
    assert abs(freqs[spectrum.argmax()] - 10.0) < 0.2


def test_subject_ids():
    assert subject_id("Subject07_2.edf") == 7 and subject_id("S001R03.edf") == 1 and subject_id("rest.edf") is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"0" * 100), "truncated header"),
        (lambda p: p.write_bytes(b"x" * 256 + b"y" * 256), "not an EDF"),
    ],
)
def test_broken_headers(tmp_path, make, message):
    path = tmp_path / "broken.edf"
    make(path)
    with pytest.raises(InputError, match=message) as err:
        read_eeg(path)
    assert "broken.edf" in str(err.value)


def test_truncated_edf(tmp_path):
    path = write_edf(tmp_path / "full.edf", oscillation(10.0, 30, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    cut = tmp_path / "cut.edf"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated") as err:
        read_eeg(cut)
    assert "cut.edf" in str(err.value)


def test_header_claims_more_records_than_data(tmp_path):
    path = write_edf(tmp_path / "liar.edf", oscillation(10.0, 10, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    raw = bytearray(path.read_bytes())
    raw[236:244] = b"99999   "
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="declares 99999 data records"):
        read_eeg(path)


def test_no_usable_eeg_channels(tmp_path):
    path = write_edf(tmp_path / "ecg_only.edf", oscillation(1.0, 10, 256.0, 2), ["ECG I", "ECG II"], 256.0,
                     ch_types=["ecg", "ecg"])  # fmt: skip
    with pytest.raises(InputError, match="no usable EEG channel"):
        read_eeg(path)


def test_rate_too_low_for_the_band(tmp_path):
    path = write_edf(tmp_path / "slow.edf", oscillation(5.0, 20, 64.0, 19), TEN_TWENTY_OLD, 64.0)
    with pytest.raises(InputError, match="too low"):
        read_eeg(path, bandpass=(0.5, 45.0))


def test_too_short(tmp_path):
    path = write_edf(tmp_path / "short.edf", oscillation(10.0, 2, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    with pytest.raises(InputError, match="too short"):
        read_eeg(path, min_duration_s=4.0)


def test_flat_recording_refused(tmp_path):
    path = write_edf(tmp_path / "flat.edf", np.zeros((19, 2560)), TEN_TWENTY_OLD, 256.0)
    with pytest.raises(InputError, match="flat"):
        read_eeg(path)


def test_wrong_extension_and_missing(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="unsupported file type"):
        read_eeg(tmp_path / "notes.csv")
    with pytest.raises(InputError, match="no such file"):
        read_eeg(tmp_path / "absent.edf")
    with pytest.raises(InputError, match="no EEG file"):
        find_recordings(tmp_path)


def test_find_recordings_dir_file_and_list(tmp_path):
    a = write_edf(tmp_path / "a.edf", oscillation(10.0, 5, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    (tmp_path / "sub").mkdir()
    b = write_edf(tmp_path / "sub" / "b.EDF", oscillation(10.0, 5, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    assert find_recordings(tmp_path) == sorted([a, b])
    listing = tmp_path / "list.txt"
    listing.write_text("a.edf\n# comment\nsub/b.EDF\n")
    assert find_recordings(listing) == [a, tmp_path / "sub" / "b.EDF"]


def test_recording_as_mne_raw_with_standard_montage():
    rec = read_eeg(SAMPLES / "Subject09_2.edf", fs=128.0)
    raw = rec.to_raw()
    positions = raw.get_montage().get_positions()["ch_pos"]
    assert set(positions) == set(rec.channels)
    assert all(np.isfinite(xyz).all() for xyz in positions.values())
    assert np.allclose(raw.get_data(units="uV"), rec.signal, atol=1e-3)  # volts in MNE, uV here


@pytest.mark.parametrize("name", ["S001R03.edf", "Subject09_1.edf"])
def test_opening_only_the_wanted_channels_changes_nothing(name, monkeypatch):
    """MNE is given only the labels that can map to the channel set; the result equals opening every channel."""
    from domains.eeg import io as eeg_io

    narrow = read_eeg(SAMPLES / name, fs=128.0)
    monkeypatch.setattr(eeg_io, "_wanted_labels", lambda labels, wanted: None)
    full = read_eeg(SAMPLES / name, fs=128.0)
    assert narrow.channels == full.channels and narrow.events == full.events
    assert narrow.n_samples_original == full.n_samples_original
    np.testing.assert_array_equal(narrow.signal, full.signal)


def test_wanted_labels_keep_both_forms_of_typed_labels():
    from domains.eeg.io import _wanted_labels

    labels = ["EEG Fp1-REF", "ECG Cz", "Fp1-F7", "EDF Annotations", "POL DC01", "T3"]
    assert _wanted_labels(labels, STANDARD_CHANNELS) == ["EEG Fp1-REF", "Fp1-REF", "ECG Cz", "Cz", "T3", "T3"]


def test_robust_scaling_quantiles_and_fixed_scaling_keeps_amplitude(tmp_path):
    rng = np.random.default_rng(0)
    quiet, loud = (rng.standard_normal((19, 20 * 256)) * a for a in (10.0, 30.0))  # uV
    recs = [read_eeg(write_edf(tmp_path / f"{n}.edf", x, TEN_TWENTY_OLD, 256.0), fs=128.0)
            for n, x in (("quiet", quiet), ("loud", loud))]  # fmt: skip
    for rec in recs:  # per recording: median 0, IQR / 1.349 = 1, whatever the amplitude
        slots, _ = to_channel_slots(rec)
        q25, q50, q75 = np.percentile(slots[:, :: max(1, slots.shape[1] // 2048)], [25, 50, 75], axis=1)
        assert np.allclose(q50, 0.0, atol=0.02) and np.allclose((q75 - q25) / 1.349, 1.0, atol=0.03)
    fixed = [to_channel_slots(rec, fixed_uv=10.0)[0] for rec in recs]
    np.testing.assert_allclose(fixed[0], to_channel_slots(recs[0], fixed_uv=1.0)[0] / 10.0, rtol=1e-6)
    ratio = np.median(fixed[1].std(1)) / np.median(fixed[0].std(1))
    assert 2.7 < ratio < 3.3  # the 3x louder recording stays 3x louder


def test_nonfinite_samples_repaired_and_flat_channels_found(tmp_path):
    import mne

    data = oscillation(10.0, 10, 256.0, 19) * 1e-6
    data[3, 100:110] = np.nan
    data[5] = 2e-6  # constant: flat
    info = mne.create_info(list(TEN_TWENTY_OLD), 256.0, "eeg")
    path = tmp_path / "holes_raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    rec = read_eeg(path, fs=128.0)
    assert rec.nonfinite_samples == 10 and np.isfinite(rec.signal).all()
    assert rec.flat_channels == (normalise_channel_name(TEN_TWENTY_OLD[5]),)


def test_decoding_in_pieces_gives_the_same_microvolts(monkeypatch):
    import mne

    import domains.eeg.io as io

    path = SAMPLES / "S001R03.edf"
    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    picks = list(range(19))
    whole = io._load_uv(raw, picks, path)
    calls = []
    real = type(raw).get_data
    monkeypatch.setattr(type(raw), "get_data", lambda self, **kw: calls.append(kw) or real(self, **kw))
    pieces = io._load_uv(raw, picks, path, chunk_bytes=8 * 19 * 1000)  # 1000 samples a piece
    assert len(calls) == -(-raw.n_times // 1000) and calls[-1]["stop"] == raw.n_times
    assert pieces.dtype == np.float32 and np.array_equal(pieces, whole)
    assert np.allclose(whole, raw.get_data(picks=picks) * 1e6, rtol=1e-6)


def test_filtering_in_channel_blocks_changes_nothing(monkeypatch):
    import domains.eeg.io as io

    path = SAMPLES / "Subject09_1.edf"
    ref = read_eeg(path).signal.copy()
    monkeypatch.setattr(io, "FFT_BLOCK_BYTES", 1)  # one channel at a time
    assert np.allclose(read_eeg(path).signal, ref, rtol=0, atol=1e-4 * float(ref.std()))


def test_memory_budget_counts_only_the_channels_that_are_read(tmp_path, monkeypatch):
    import domains.eeg.io as io

    names = TEN_TWENTY_OLD + [f"X{i}" for i in range(19)]  # 19 EEG channels and 19 the model never reads
    path = write_edf(tmp_path / "wide.edf", oscillation(10.0, 20, 256.0, 38), names, 256.0)
    eeg_bytes = 20 * 256 * 19 * 4  # 20 s x 256 Hz x 19 channels as float32
    monkeypatch.setattr(io, "MAX_BYTES", int(1.5 * eeg_bytes))  # room for the 19, not for all 38
    assert read_eeg(path).signal.shape == (19, 20 * 128)
    with pytest.raises(InputError, match=r"wide.edf: declared size .*38 EEG signals.* exceeds the memory budget"):
        io.check_edf_header(path, "edf")  # no channel set: every signal counts
    monkeypatch.setattr(io, "MAX_BYTES", int(0.9 * eeg_bytes))
    with pytest.raises(InputError, match=r"19 EEG signals.* exceeds the memory budget"):
        read_eeg(path)


def _patch_signal_field(path: Path, field_at: int, signal: int, value: bytes) -> None:
    """Overwrite one 8-byte per-signal header field (e.g. 104: physical minimum) of signal ``signal``."""
    raw = bytearray(path.read_bytes())
    n = int(raw[252:256])
    raw[256 + field_at * n + 8 * signal : 256 + field_at * n + 8 * signal + 8] = value.ljust(8)
    path.write_bytes(bytes(raw))


def test_a_channel_with_an_absurd_physical_range_is_zeroed_not_passed_on(tmp_path):
    """A physical minimum of -1e30 decodes to finite values near 1e29 uV, which the model's layer norms
    would turn into NaN: that channel is set aside (zero-filled), the others read as before."""
    from domains.eeg.io import MAX_ABS_UV

    path = write_edf(tmp_path / "huge.edf", oscillation(10.0, 20, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    good = read_eeg(path)
    _patch_signal_field(path, 104, 7, b"-1e30")
    rec = read_eeg(path)
    bad = rec.channels[7]
    assert rec.out_of_range_channels == (bad,) and rec.unusable_channels == (bad,) and not rec.flat_channels
    assert np.isfinite(rec.signal).all() and np.abs(rec.signal).max() < MAX_ABS_UV and not rec.signal[7].any()
    others = [i for i in range(19) if i != 7]
    np.testing.assert_allclose(rec.signal[others], good.signal[others], atol=1e-3)
    slots, present = to_channel_slots(rec, fixed_uv=10.0)
    assert not present[list(STANDARD_CHANNELS).index(bad)] and not slots[list(STANDARD_CHANNELS).index(bad)].any()
    for i in range(19):
        _patch_signal_field(path, 104, i, b"-1e30")
    with pytest.raises(InputError, match="every EEG channel is flat or out of range"):
        read_eeg(path)


def test_only_rejected_segment_annotations_make_no_events(tmp_path):
    """BAD_*/EDGE* annotations (MNE's own EDF export adds BAD_ACQ_SKIP to pad the last record) are no events;
    a file with nothing else must still read (events_from_annotations raises when no event is left)."""
    import mne

    info = mne.create_info(list(STANDARD_CHANNELS), 256.0, "eeg")
    raw = mne.io.RawArray(oscillation(10.0, 30, 256.0, 19) * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([5.0, 9.0], [2.0, 1.0], ["BAD_muscle", "EDGE boundary"]))
    path = tmp_path / "rejected.edf"
    mne.export.export_raw(path, raw, verbose="error")
    assert read_eeg(path).events == []
    raw.set_annotations(mne.Annotations([5.0, 9.0], [2.0, 1.0], ["BAD_muscle", "T1"]))
    mne.export.export_raw(path, raw, overwrite=True, verbose="error")
    assert [(round(o, 3), d, lab) for o, d, lab in read_eeg(path).events] == [(9.0, 1.0, "T1")]


def test_header_size_field_must_match_the_signal_count(tmp_path):
    path = write_edf(tmp_path / "size.edf", oscillation(10.0, 10, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    raw = bytearray(path.read_bytes())
    raw[184:192] = b"1024    "
    path.write_bytes(bytes(raw))
    with pytest.raises(
        InputError, match=r"size\.edf: header size field says 1024 bytes, but a header with 20 signals has 5376"
    ):
        read_eeg(path)


def test_fif_with_an_unknown_channel_kind_gives_a_clear_error(tmp_path):
    import struct

    import mne

    path = tmp_path / "kind_raw.fif"
    info = mne.create_info(["Fp1", "Fp2", "Cz"], 256.0, "eeg")
    mne.io.RawArray(oscillation(10.0, 10, 256.0, 3) * 1e-6, info, verbose="error").save(path, verbose="error")
    raw, pos = bytearray(path.read_bytes()), 0
    while pos + 16 <= len(raw):  # FIF tags: kind, type, size, next (big-endian int32)
        kind, _, size, _ = struct.unpack_from(">iiii", raw, pos)
        if kind == 203:  # FIFF_CH_INFO: scanno, logno, kind, ...: an unknown channel kind
            struct.pack_into(">i", raw, pos + 16 + 8, 268435458)
        pos += 16 + size
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"kind_raw\.fif: cannot read the channel list: Unknown channel type"):
        read_eeg(path)


def test_edf_plus_d_reads_when_contiguous_and_is_refused_with_a_gap(tmp_path):
    """Many writers mark every file EDF+D; MNE reads any as continuous, so only a real gap must be refused."""
    import mne

    info = mne.create_info(list(STANDARD_CHANNELS), 256.0, "eeg")
    raw = mne.io.RawArray(oscillation(10.0, 10, 256.0, 19) * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([2.0], [1.0], ["T1"]))
    path = tmp_path / "plusd.edf"
    mne.export.export_raw(path, raw, verbose="error")
    continuous = read_eeg(path).signal
    data = bytearray(path.read_bytes())
    assert data[192:197] == b"EDF+C"
    data[192:197] = b"EDF+D"
    path.write_bytes(bytes(data))
    np.testing.assert_array_equal(read_eeg(path).signal, continuous)  # marked D, contiguous in fact: reads
    assert data.count(b"+5\x14\x14") == 1
    path.write_bytes(bytes(data).replace(b"+5\x14\x14", b"+7\x14\x14"))  # record 5 starts 2 s late
    with pytest.raises(InputError, match=r"plusd\.edf: discontinuous EDF\+D: data record 5 starts at 7 s, \+2 s"):
        read_eeg(path)


def test_a_header_without_a_unit_still_reads(tmp_path):
    """MNE takes the samples of a signal with no physical dimension for volts (1e6x too large in uV): unusual,
    but EEG all the same; only a broken range (far beyond) is set aside."""
    path = write_edf(tmp_path / "nodim.edf", oscillation(10.0, 20, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    good = read_eeg(path)
    for i in range(19):
        _patch_signal_field(path, 96, i, b"")  # physical dimension: empty
    rec = read_eeg(path)
    assert not rec.out_of_range_channels and not rec.flat_channels
    np.testing.assert_allclose(rec.signal, good.signal * 1e6, rtol=1e-3, atol=1e-3 * np.abs(good.signal).max() * 1e6)


def test_the_annotation_signal_does_not_set_the_sampling_rate(tmp_path):
    """EDF+ stores annotations as a signal whose 'samples per record' are bytes of text: not a rate."""
    path = write_edf(tmp_path / "ann.edf", oscillation(10.0, 20, 128.0, 19), TEN_TWENTY_OLD, 128.0)
    raw = bytearray(path.read_bytes())
    n = int(raw[252:256])
    labels = [raw[256 + 16 * i : 256 + 16 * i + 16].decode().strip() for i in range(n)]
    assert labels[-1] == "EDF Annotations"
    from domains.eeg.io import check_edf_header

    _patch_signal_field(path, 216, n - 1, b"120000")  # a long annotation signal (the file is then short)
    with pytest.raises(InputError, match="truncated") as err:
        check_edf_header(path, "edf")
    assert "sampling rate" not in str(err.value)


def test_samples_per_record_that_understate_the_data_are_refused(tmp_path):
    """MNE reads such a header with every later record shifted (garbage, no error); whole extra records (a stale
    record count: MNE reads every whole record in the file) and a few trailing bytes still read, as in MNE."""
    path = write_edf(tmp_path / "spr.edf", oscillation(10.0, 20, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    good, body = read_eeg(path).signal, path.read_bytes()
    n = int(body[252:256])
    spr = int(body[256 + 216 * n + 8 * 3 : 256 + 216 * n + 8 * 4])
    _patch_signal_field(path, 216, 3, str(spr - 4).encode())
    with pytest.raises(InputError, match=r"spr\.edf: the data are \d+ bytes longer .* 8 bytes more in every record"):
        read_eeg(path)
    path.write_bytes(body + b"\0" * 7)  # trailing bytes: read as before
    np.testing.assert_array_equal(read_eeg(path).signal, good)
    records = int(body[236:244])
    path.write_bytes(body[:236] + str(records - 2).encode().ljust(8) + body[244:])  # a stale record count
    np.testing.assert_array_equal(read_eeg(path).signal, good)


@pytest.mark.parametrize(
    ("count", "drop", "error"),
    [
        ("7", 4, r"EDF\+C data record 0 holds sample bytes where its annotation .* does not match the data"),
        ("-1", 4, r"the data are 160 bytes longer .* 8 bytes more in every record"),  # the size rule sees it
        ("-1", 240, r"EDF\+C data record 0 holds sample bytes where its annotation .* does not match the data"),
    ],
)
def test_edf_plus_records_out_of_place_are_refused(tmp_path, count, drop, error):
    """With a wrong or unknown (-1) record count the file size may not show an understated samples-per-record
    (240 samples less: the data then hold 21 declared records and 346 bytes); the records' onsets, out of place,
    still do."""
    path = write_edf(tmp_path / "spr.edf", oscillation(10.0, 20, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    body = bytearray(path.read_bytes())
    assert body[192:197] == b"EDF+C"
    good = read_eeg(path).signal
    body[236:244] = count.encode().ljust(8)
    path.write_bytes(bytes(body))
    np.testing.assert_array_equal(read_eeg(path).signal, good)  # a wrong count alone still reads, as in MNE
    n = int(body[252:256])
    spr = int(body[256 + 216 * n + 8 * 3 : 256 + 216 * n + 8 * 4])
    _patch_signal_field(path, 216, 3, str(spr - drop).encode())
    with pytest.raises(InputError, match=r"spr\.edf: " + error):
        read_eeg(path)


def test_bdf_plus_records_out_of_place_are_refused_naming_bdf(tmp_path):
    path = write_edf(tmp_path / "spr.bdf", oscillation(10.0, 20, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    body = bytearray(path.read_bytes())
    assert body[192:197] == b"BDF+C"
    body[236:244] = b"7".ljust(8)
    path.write_bytes(bytes(body))
    read_eeg(path)
    n = int(body[252:256])
    spr = int(body[256 + 216 * n + 8 * 3 : 256 + 216 * n + 8 * 4])
    _patch_signal_field(path, 216, 3, str(spr - 4).encode())
    with pytest.raises(InputError, match=r"spr\.bdf: BDF\+C data record \d+ holds sample bytes where its annotation"):
        read_eeg(path)


def test_edf_plus_c_without_any_record_onset_still_reads(tmp_path):
    """Some writers keep no time in the annotation signal at all; MNE reads such files, and so do we."""
    path = write_edf(tmp_path / "notime.edf", oscillation(10.0, 10, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    good = read_eeg(path).signal
    body = path.read_bytes()
    assert body.count(b"+0\x14\x14") == 1
    path.write_bytes(body.replace(b"+0\x14\x14", b"\0\0\0\0"))
    np.testing.assert_array_equal(read_eeg(path).signal, good)
