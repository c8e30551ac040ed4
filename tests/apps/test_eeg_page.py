"""The EEG page run headless with AppTest on a tiny model (JEPA_EEG_MODEL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.apps.eeg_model import SAMPLE_DIR, build_eeg_test_model

REPO = Path(__file__).resolve().parents[2]
PAGE = str(REPO / "apps" / "views" / "eeg.py")
TIMEOUT = 120


@pytest.fixture(scope="module")
def eeg_model(tmp_path_factory) -> Path:
    return build_eeg_test_model(tmp_path_factory.mktemp("eeg-model"))


@pytest.fixture(autouse=True)
def use_model(eeg_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEPA_EEG_MODEL", str(eeg_model))
    st.cache_data.clear()
    st.cache_resource.clear()


def _run(at: AppTest) -> AppTest:
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_bundled_sample_shows_traces_probabilities_and_map():
    at = _run(AppTest.from_file(PAGE, default_timeout=TIMEOUT))
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox[0].value.endswith(".edf")
    assert any("Whole recording" in m.label for m in at.metric)
    assert len(at.get("plotly_chart")) >= 3  # traces, P(task) over time, embedding map


def test_every_bundled_sample_analyses():
    at = _run(AppTest.from_file(PAGE, default_timeout=TIMEOUT))
    for option in at.selectbox[0].options:
        at.selectbox[0].set_value(str(SAMPLE_DIR / option.split(" · ")[0]))
        _run(at)
        assert not at.error, (option, [e.value for e in at.error])


def test_broken_model_dir_gives_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("JEPA_EEG_MODEL", str(tmp_path / "nowhere"))
    at = _run(AppTest.from_file(PAGE, default_timeout=TIMEOUT))
    assert at.error and "could not be loaded" in at.error[0].value


def _edf_bytes(tmp_path: Path, name: str, seconds: float, sfreq: float, names: list[str], types: list[str]) -> bytes:
    from tests.domains.eeg.edf_factory import oscillation, write_edf

    data = oscillation(10.0, seconds, sfreq, len(names))
    return write_edf(tmp_path / name, data, names, sfreq, ch_types=types).read_bytes()


@pytest.mark.parametrize(
    ("case", "seconds", "sfreq", "names", "types", "message"),
    [
        ("ecg_only.edf", 10, 256.0, ["ECG I", "ECG II"], ["ecg", "ecg"], "no usable EEG channel"),
        ("slow.edf", 20, 64.0, ["Fp1", "Cz", "O2"], ["eeg"] * 3, "sampling rate 64 Hz is too low"),
        ("short.edf", 2, 256.0, ["Fp1", "Cz", "O2"], ["eeg"] * 3, "too short"),
    ],
)  # fmt: skip
def test_unusable_upload_names_the_file_and_the_problem(tmp_path, case, seconds, sfreq, names, types, message):
    content = _edf_bytes(tmp_path, case, seconds, sfreq, names, types)
    at = _run(AppTest.from_file(PAGE, default_timeout=TIMEOUT))
    at.radio[0].set_value("Upload EDF/BDF/FIF")
    _run(at)
    at.file_uploader[0].set_value((case, content, "application/octet-stream"))
    _run(at)
    assert at.error and message in at.error[0].value and case in at.error[0].value, [e.value for e in at.error]
    assert not at.get("plotly_chart")  # nothing of a previous analysis is shown beside the error
