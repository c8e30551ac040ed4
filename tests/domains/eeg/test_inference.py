"""The app's EEG analyser on bundled recordings and on broken uploads."""

import numpy as np
import pytest

from domains.eeg.inference import TASK, EegAnalyser
from jepa_core.errors import InputError
from tests.apps.eeg_model import SAMPLE_DIR, build_eeg_test_model
from tests.domains.eeg.edf_factory import TEN_TWENTY_OLD, oscillation, write_edf


@pytest.fixture(scope="module")
def analyser(tmp_path_factory) -> EegAnalyser:
    return EegAnalyser(build_eeg_test_model(tmp_path_factory.mktemp("eeg-model")))


def test_analyse_bundled_recording(analyser):
    a = analyser.analyse(SAMPLE_DIR / "Subject09_2.edf")
    assert len(a.starts_s) == 15 and a.starts_s[1] == 4.0  # 62 s in 4 s windows
    assert a.proba.shape == (15, 2) and np.allclose(a.proba.sum(1), 1.0)
    assert set(a.pred) <= {"rest", "task"} and a.recording_proba.shape == (2,)
    m = a.maps[TASK]
    assert m.xy.shape == (15, 2) and len(m.ref_xy) == len(m.ref_label) > 0
    assert a.present.all() and not a.notes


def test_missing_channels_are_noted(analyser, tmp_path):
    path = write_edf(tmp_path / "few.edf", oscillation(10.0, 12, 256.0, 3), ["Fp1", "Cz", "O2"], 256.0)
    a = analyser.analyse(path)
    assert a.present.sum() == 3 and any("16 of 19 channels missing" in n for n in a.notes)


def test_long_recordings_are_cut(tmp_path):
    model = build_eeg_test_model(tmp_path / "m", scaling="recording")
    short = EegAnalyser(model, max_duration_s=8.0)
    a = short.analyse(SAMPLE_DIR / "Subject09_2.edf")
    assert len(a.starts_s) == 2 and any("first" in n for n in a.notes)
    loud = write_edf(tmp_path / "loud.edf", 40 * oscillation(10.0, 12, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    assert not any("amplitude" in n for n in short.analyse(loud).notes)  # per-recording scaling: no concern


def test_unusual_amplitude_is_noted(analyser, tmp_path):
    assert analyser.pre.cfg.data.scaling == "fixed"
    loud = write_edf(tmp_path / "loud.edf", 40 * oscillation(10.0, 12, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    assert any("Unusual amplitude" in n and "uV" in n for n in analyser.analyse(loud).notes)


def test_out_of_range_channel_is_noted_and_embeddings_stay_finite(analyser, tmp_path):
    path = write_edf(tmp_path / "huge.edf", oscillation(10.0, 12, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    raw = bytearray(path.read_bytes())
    n = int(raw[252:256])
    raw[256 + 104 * n + 8 * 2 : 256 + 104 * n + 8 * 2 + 8] = b"-1e30   "  # physical minimum of signal 2
    path.write_bytes(bytes(raw))
    a = analyser.analyse(path)
    assert np.isfinite(a.window_emb).all() and np.isfinite(a.proba).all() and a.present.sum() == 18
    assert len(a.notes) == 1 and a.notes[0].startswith("F3: values beyond +-1e+06 V, not EEG"), a.notes


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"\x00" * 300), "not an EDF"),
        (lambda p: write_edf(p, oscillation(10.0, 2, 256.0, 19), TEN_TWENTY_OLD, 256.0), "too short"),
        (lambda p: write_edf(p, oscillation(5.0, 20, 64.0, 19), TEN_TWENTY_OLD, 64.0), "too low"),
        (lambda p: write_edf(p, oscillation(1.0, 20, 256.0, 1), ["ECG"], 256.0, ch_types=["ecg"]), "no usable EEG"),
    ],
)
def test_broken_inputs_name_file_and_problem(analyser, tmp_path, make, message):
    path = tmp_path / "upload.edf"
    make(path)
    with pytest.raises(InputError, match=message) as err:
        analyser.analyse(path)
    assert "upload.edf" in str(err.value)
