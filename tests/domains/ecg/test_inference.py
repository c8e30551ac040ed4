"""The app's ECG analysis and asset build, with a tiny random model built from the bundled samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from domains.ecg.embed import beat_embed_dim
from domains.ecg.inference import BEAT_LEAD_NOTE, BEAT_TASK, RHYTHM_TASK, EcgAnalyser, beat_notes, uploaded_record
from domains.ecg.io import EcgRecord
from domains.ecg.tasks import AAMI_CLASSES, CINC_CLASSES, load_beats
from jepa_core.errors import InputError
from jepa_core.eval.references import stratified_subsample
from tests.apps.ecg_model import SAMPLE_DIR, build_ecg_test_model

EMBED_DIM = 32  # tests/apps/ecg_model.py


@pytest.fixture(scope="module")
def analyser(tmp_path_factory: pytest.TempPathFactory) -> EcgAnalyser:
    model_dir = build_ecg_test_model(tmp_path_factory.mktemp("ecg-model"))
    return EcgAnalyser(model_dir, max_duration_s=60.0)


def _copy_record(rec: str, dest: Path, exts=("hea", "dat")) -> Path:
    for ext in exts:
        shutil.copy(SAMPLE_DIR / f"{rec}.{ext}", dest / f"{rec}.{ext}")
    return dest / rec


def test_assets_hold_training_records_and_capped_references(analyser: EcgAnalyser):
    meta = analyser.probes[BEAT_TASK].meta
    assert meta["records"] == ["208", "232"] and meta["level"] == "beat"
    assert all(meta["n_reference"][c] == min(50, n) for c, n in meta["n_train"].items())
    with np.load(analyser.model_dir / "references" / f"{BEAT_TASK}.npz") as ref:
        assert ref["emb"].dtype == np.float16 and ref["emb"].shape == (
            sum(meta["n_reference"].values()),
            beat_embed_dim(EMBED_DIM),
        )
        assert set(ref["record"]) == {"208", "232"}
    rhythm = json.loads((analyser.model_dir / "probes" / f"{RHYTHM_TASK}.json").read_text())
    assert sorted(rhythm["classes"]) == sorted(CINC_CLASSES) and sum(rhythm["meta"]["n_train"].values()) == 12


def test_stratified_subsample_caps_each_class():
    y = np.array(["N"] * 30 + ["S"] * 3 + ["V"] * 12)
    idx = stratified_subsample(y, 10, seed=1)
    assert dict(zip(*np.unique(y[idx], return_counts=True), strict=True)) == {"N": 10, "S": 3, "V": 10}
    assert np.array_equal(idx, stratified_subsample(y, 10, seed=1)) and np.all(np.diff(idx) > 0)


def test_annotated_record_uses_atr_beats_and_gives_normalised_predictions(analyser: EcgAnalyser):
    a = analyser.analyse(SAMPLE_DIR / "232.hea")
    n_samples = a.record.signal.shape[1]
    assert a.record.duration_s == pytest.approx(60.0, abs=0.01) and any("first 1 min" in n for n in a.notes)
    truth = load_beats(SAMPLE_DIR / "232", fs=a.record.fs, classes=(*AAMI_CLASSES, "Q"))
    inside = truth.samples < n_samples
    assert a.beat_source == "annotations"
    np.testing.assert_array_equal(a.beats, truth.samples[inside])
    np.testing.assert_array_equal(a.beat_annotated, truth.labels[inside])
    n = len(a.beats)
    assert a.beat_proba.shape == (n, len(AAMI_CLASSES)) and a.beat_emb.shape == (n, beat_embed_dim(EMBED_DIM))
    np.testing.assert_allclose(a.beat_proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(a.beat_pred, np.asarray(AAMI_CLASSES)[a.beat_proba.argmax(axis=1)])
    assert a.rhythm_proba.shape == (len(CINC_CLASSES),) and a.rhythm_proba.sum() == pytest.approx(1.0)
    assert a.rhythm_pred in CINC_CLASSES and a.window_emb.shape[1] == EMBED_DIM
    assert sum(a.counts().values()) == n
    beat_map, rhythm_map = a.maps[BEAT_TASK], a.maps[RHYTHM_TASK]
    assert beat_map.xy.shape == (n, 2) and rhythm_map.xy.shape == (1, 2)
    assert beat_map.ref_xy.shape == (len(analyser.references[BEAT_TASK].emb), 2) and beat_map.method == "pca"


def test_reference_points_project_onto_their_own_map_positions(analyser: EcgAnalyser):
    ref = analyser.references[RHYTHM_TASK]
    m = analyser.project(RHYTHM_TASK, ref.emb[:4], ref.label[:4])
    np.testing.assert_allclose(m.xy, m.ref_xy[:4], rtol=1e-5, atol=1e-5)


def test_record_without_atr_gets_detected_beats_near_the_annotated_ones(analyser: EcgAnalyser, tmp_path: Path):
    a = analyser.analyse(_copy_record("208", tmp_path))
    assert a.beat_source == "detected" and a.beat_annotated is None
    truth = load_beats(SAMPLE_DIR / "208", fs=a.record.fs, classes=(*AAMI_CLASSES, "Q")).samples
    truth = truth[(truth > 50) & (truth < a.record.signal.shape[1] - 50)]
    nearest = np.abs(truth[:, None] - a.beats[None, :]).min(axis=1)
    assert np.mean(nearest <= 0.1 * a.record.fs) > 0.9  # 100 ms
    assert 0.8 < len(a.beats) / len(truth) < 1.2


def test_cinc_record_is_analysed_without_annotations(analyser: EcgAnalyser):
    a = analyser.analyse(SAMPLE_DIR / "A00002")
    assert a.beat_source == "detected" and a.record.leads == ("I",)
    assert a.notes == [BEAT_LEAD_NOTE.format(leads="I")]  # the beat probe saw lead II only; the rate is plausible
    assert 15 < len(a.beats) < 80  # 30 s of sinus rhythm


def _record(seconds: float, leads: tuple[str, ...] = ("II", "V1"), fs: float = 250.0) -> EcgRecord:
    signal = np.zeros((len(leads), int(seconds * fs)), dtype=np.float32)
    return EcgRecord(record_id="r", path=Path("r"), signal=signal, fs=fs, leads=leads, units=("mV",) * len(leads),
                     fs_original=fs, n_samples_original=signal.shape[1])  # fmt: skip


@pytest.mark.parametrize(
    ("n_beats", "source", "expect"),
    [
        (70, "detected", None),  # 70 per minute
        (10, "detected", "Only 10 beats were detected in 60 s (10 per minute): the R-peak detector probably missed"),
        (300, "detected", "300 beats were detected in 60 s (300 per minute): the R-peak detector probably counted"),
        (10, "annotations", None),  # an annotator's beats are what they are
    ],
)
def test_beat_notes_flag_an_implausible_detected_rate(n_beats: int, source: str, expect: str | None):
    notes = beat_notes(_record(60.0), np.arange(n_beats) * 10, source)
    assert notes == [] if expect is None else len(notes) == 1 and notes[0].startswith(expect)


def test_beat_notes_flag_a_record_without_lead_ii():
    assert beat_notes(_record(60.0, leads=("V5", "V2")), np.arange(70) * 200, "detected") == [
        BEAT_LEAD_NOTE.format(leads="V5, V2")
    ]
    assert beat_notes(_record(60.0, leads=("II",)), np.arange(70) * 200, "detected") == []


@pytest.mark.parametrize(
    "header",
    [
        "not a header at all\n",
        "broken 1 5 9000\nbroken.dat 16 200/mV 16 0 0 0 0 ECG\n",
        "broken 1 300 9000\n../x.dat 16\n",
    ],
)
def test_broken_header_raises_input_error_naming_the_file(analyser: EcgAnalyser, tmp_path: Path, header: str):
    (tmp_path / "broken.hea").write_text(header)
    (tmp_path / "broken.dat").write_bytes(bytes(2 * 9000))
    with pytest.raises(InputError, match=r"broken\.hea: (header unreadable|sampling rate 5 Hz outside)"):
        analyser.analyse(tmp_path / "broken")


def test_missing_signal_file_is_named(analyser: EcgAnalyser, tmp_path: Path):
    rec = _copy_record("208", tmp_path, exts=("hea",))
    with pytest.raises(InputError, match=r"208\.dat"):
        analyser.analyse(rec)


def test_flat_record_has_no_beats_and_says_so(analyser: EcgAnalyser, tmp_path: Path):
    wfdb.wrsamp(
        "flat", fs=250, units=["mV"], sig_name=["II"], p_signal=np.zeros((7500, 1)), fmt=["16"], write_dir=str(tmp_path)
    )
    with pytest.raises(InputError, match=r"flat.*no heartbeats detected"):
        analyser.analyse(tmp_path / "flat")


def test_uploaded_record_is_checked_before_reading(tmp_path: Path):
    with pytest.raises(InputError, match="no .hea header"):
        uploaded_record(tmp_path)
    rec = _copy_record("A00002", tmp_path, exts=("hea", "mat"))
    assert uploaded_record(tmp_path) == rec
    (tmp_path / "A00002.mat").unlink()
    with pytest.raises(InputError, match="'A00002.mat', which was not uploaded"):
        uploaded_record(tmp_path)
    shutil.copy(SAMPLE_DIR / "232.hea", tmp_path / "232.hea")
    with pytest.raises(InputError, match="one record at a time"):
        uploaded_record(tmp_path)


def test_umap_map_places_record_among_references(analyser: EcgAnalyser):
    a = analyser.analyse(SAMPLE_DIR / "A00090")
    maps = analyser.maps(a, "umap")
    assert maps[BEAT_TASK].method == "umap" and maps[BEAT_TASK].xy.shape == (len(a.beats), 2)
    assert np.isfinite(maps[RHYTHM_TASK].xy).all()


def test_build_cli_writes_assets_and_reports_bad_input(analyser: EcgAnalyser, tmp_path: Path, capsys):
    from domains.ecg.build_app_assets import main

    model = tmp_path / "model"
    model.mkdir()
    for name in ("encoder.safetensors", "model_card.json"):
        shutil.copy(analyser.model_dir / name, model / name)
    common = [
        "--model",
        str(model),
        "--mitdb-dir",
        str(SAMPLE_DIR),
        "--cinc-dir",
        str(SAMPLE_DIR),
        "--max-seconds",
        "40",
    ]
    assert main([*common, "--mitdb-records", "208", "232", "--per-class", "5"]) == 0
    assert sorted(p.relative_to(model).as_posix() for p in model.rglob("*.*") if p.parent != model) == [
        "probes/cinc2017.json", "probes/mitdb-aami.json", "references/cinc2017.npz", "references/mitdb-aami.npz",
    ]  # fmt: skip
    assert EcgAnalyser(model).references[BEAT_TASK].emb.shape[0] <= 4 * 5
    assert main([*common, "--mitdb-records", "999"]) == 2
    assert "999" in capsys.readouterr().err


def test_unreadable_atr_falls_back_to_detection_with_a_note(analyser: EcgAnalyser, tmp_path: Path):
    rec = _copy_record("208", tmp_path)
    (tmp_path / "208.atr").write_bytes(b"\xff\xff\xff")
    a = analyser.analyse(rec)
    assert a.beat_source == "detected" and len(a.beats) > 50
    assert any(n.startswith("Annotations in 208.atr not used") for n in a.notes), a.notes
    assert not any(str(tmp_path) in n for n in a.notes)


def test_bundled_model_says_when_a_record_is_unlike_the_rhythm_references():
    """MIT-BIH records (30 min, two leads) are far from every CinC 2017 reference; a CinC record is not."""
    bundled = EcgAnalyser(Path(__file__).resolve().parents[3] / "models" / "ecg-tiny", max_duration_s=120.0)
    mit = bundled.analyse(SAMPLE_DIR / "232")
    assert any(n.startswith("The record lies far from every CinC 2017 reference") for n in mit.notes), mit.notes
    cinc = bundled.analyse(SAMPLE_DIR / "A00002")
    assert not any("CinC 2017 reference" in n for n in cinc.notes), cinc.notes
    rhythm = bundled.novelty[RHYTHM_TASK]
    assert rhythm.nearest(mit.record_emb[None])[0] > rhythm.threshold >= rhythm.nearest(cinc.record_emb[None])[0]


def test_beats_unlike_every_reference_beat_are_noted(analyser: EcgAnalyser, monkeypatch: pytest.MonkeyPatch):
    import dataclasses

    a = analyser.analyse(SAMPLE_DIR / "232")
    assert not any("reference beat" in n for n in a.notes)
    strict = dataclasses.replace(analyser.novelty[BEAT_TASK], threshold=-1.0)  # every beat counts as novel
    monkeypatch.setitem(analyser.novelty, BEAT_TASK, strict)
    a = analyser.analyse(SAMPLE_DIR / "232")
    assert any(
        n.startswith("100% of the beats lie farther from every labelled MIT-BIH reference beat") for n in a.notes
    )


def test_beat_detection_falls_back_to_gqrs_when_xqrs_finds_too_few(analyser: EcgAnalyser):
    """CinC A00022: xqrs learns too high a threshold (3 beats in 30 s); gqrs, peak-corrected, finds the beats."""
    from wfdb.processing import xqrs_detect

    from domains.ecg.inference import detect_beats, load_for_model

    rec, _ = load_for_model(SAMPLE_DIR / "A00022", analyser.pre.cfg.data)
    minutes = rec.signal.shape[1] / rec.fs / 60
    assert len(xqrs_detect(rec.signal[0].astype(np.float64), fs=rec.fs, verbose=False)) / minutes < 30  # the case
    beats = detect_beats(rec)
    assert 50 < len(beats) / minutes < 120 and np.all(np.diff(beats) > 0.25 * rec.fs)  # a plausible, ordered rhythm
    assert not any("beats were detected" in n for n in analyser.analyse(SAMPLE_DIR / "A00022").notes)


def test_gqrs_fallback_finds_the_annotated_r_peaks(analyser: EcgAnalyser, monkeypatch: pytest.MonkeyPatch):
    """With xqrs made to fail, the fallback's beats on MIT-BIH 232 (1 min) match the cardiologists' to 40 ms."""
    import domains.ecg.inference as inference

    rec, _ = inference.load_for_model(SAMPLE_DIR / "232", analyser.pre.cfg.data, max_samples=360 * 60)
    monkeypatch.setattr(inference, "xqrs_detect", lambda *a, **k: [])
    beats = inference.detect_beats(rec)
    truth = load_beats(SAMPLE_DIR / "232", fs=rec.fs, classes=(*AAMI_CLASSES, "Q")).samples
    truth = truth[(truth > 25) & (truth < rec.signal.shape[1] - 25)]
    nearest = np.abs(truth[:, None] - beats[None, :]).min(axis=1)
    assert np.mean(nearest <= 0.04 * rec.fs) > 0.97 and abs(len(beats) - len(truth)) <= 3


def test_beats_come_from_another_lead_when_lead_ii_is_flat(analyser: EcgAnalyser, tmp_path: Path):
    """MIT-BIH 232 with its MLII zeroed: the beats are found on V1 instead of 'no heartbeats detected'."""
    ref = wfdb.rdrecord(str(SAMPLE_DIR / "232"), sampto=360 * 60)
    signal = ref.p_signal.copy()
    signal[:, 0] = 0.0  # lead II flat (a disconnected electrode)
    wfdb.wrsamp("flat2", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=signal, fmt=["16", "16"],
                write_dir=str(tmp_path))  # fmt: skip
    a = analyser.analyse(tmp_path / "flat2")
    truth = load_beats(SAMPLE_DIR / "232", fs=a.record.fs, classes=(*AAMI_CLASSES, "Q")).samples
    truth = truth[(truth > 50) & (truth < a.record.signal.shape[1] - 50)]
    nearest = np.abs(truth[:, None] - a.beats[None, :]).min(axis=1)
    assert a.beat_source == "detected" and np.mean(nearest <= 0.1 * a.record.fs) > 0.9


def test_a_non_finite_embedding_is_an_input_error(analyser: EcgAnalyser, monkeypatch: pytest.MonkeyPatch):
    """The last guard: whatever the reader let through, the app never shows maps of NaN embeddings."""
    import domains.ecg.inference as inference

    real = inference.window_embeddings
    monkeypatch.setattr(inference, "window_embeddings", lambda *a, **k: real(*a, **k) * np.nan)
    with pytest.raises(InputError, match=r"A00002: NaN or inf in the model's window embeddings for this input"):
        analyser.analyse(SAMPLE_DIR / "A00002")


TWELVE = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@pytest.mark.parametrize(
    ("leads", "beat", "rhythm"),
    [(("II", "V1"), None, None), (("I",), None, None), (TWELVE, ("II", "V1"), ("I",)), (("I", "II", "V5"), ("II", "V5"), ("I",)),
     (("I", "V2", "V5"), None, ("I",)), (("II", "III"), ("II",), None)],
)  # fmt: skip
def test_fitted_leads_are_the_probes_training_leads(leads, beat, rhythm):
    from domains.ecg.inference import fitted_leads

    assert fitted_leads(leads, BEAT_TASK) == beat
    assert fitted_leads(leads, RHYTHM_TASK) == rhythm


def test_a_twelve_lead_record_is_read_through_the_leads_the_probes_were_fitted_on(analyser: EcgAnalyser, tmp_path):
    """The tokens mix every lead slot: without the view, 10 more leads moved every beat of MIT-BIH 232 beyond the
    bundled model's novelty threshold. With it, a 12-lead record whose II and V1 are 232's gets 232's beat classes,
    and one whose lead I is CinC A00002's gets A00002's rhythm probabilities."""
    rng = np.random.default_rng(0)

    def write(name: str, fs: float, signal: np.ndarray, names) -> Path:
        wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=list(names), p_signal=signal,
                    fmt=["16"] * len(names), adc_gain=[1000.0] * len(names), baseline=[0] * len(names),
                    write_dir=str(tmp_path))  # fmt: skip
        return tmp_path / name

    ref = wfdb.rdrecord(str(SAMPLE_DIR / "232"), sampto=360 * 60).p_signal
    twelve = 0.3 * rng.standard_normal((len(ref), 12)) + ref[:, :1]
    twelve[:, 1], twelve[:, 6] = ref[:, 0], ref[:, 1]  # II and V1 are 232's MLII and V1
    a = analyser.analyse(write("two", 360, ref, ("MLII", "V1")))
    b = analyser.analyse(write("twelve", 360, twelve, TWELVE))
    np.testing.assert_array_equal(a.beats, b.beats)
    np.testing.assert_allclose(b.beat_proba, a.beat_proba, atol=1e-5)
    assert not a.info and b.info == ["The beat classes read leads II and V1 and the rhythm guess reads lead I only: "
                                     "the leads the probes were fitted on (MIT-BIH: lead II and a chest lead; "
                                     "CinC 2017: one lead-I-like lead). The other leads are shown but not used by them."]  # fmt: skip
    assert not np.allclose(b.rhythm_proba, a.rhythm_proba, atol=1e-3)  # lead I (noise here), not II and V1
    cinc = wfdb.rdrecord(str(SAMPLE_DIR / "A00002")).p_signal[:, 0]
    three = np.stack([cinc, 0.2 * rng.standard_normal(len(cinc)), -cinc], axis=1)
    c = analyser.analyse(write("three", 300, three, ("I", "II", "V1")))
    np.testing.assert_allclose(c.rhythm_proba, analyser.analyse(SAMPLE_DIR / "A00002").rhythm_proba, atol=1e-5)
