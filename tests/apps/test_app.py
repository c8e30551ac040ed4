"""The Streamlit app run headless with AppTest, on a tiny random model (JEPA_ECG_MODEL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apps.common import DEFAULT_ECG_MODEL, ECG_MODEL_ENV, ecg_model_dir, sanitise_filename, upload_dir
from domains.ecg.inference import CINC_NAMES
from jepa_core.errors import InputError
from tests.apps.ecg_model import SAMPLE_DIR

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "apps" / "app.py")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def test_model(ecg_test_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ECG_MODEL_ENV, str(ecg_test_model))
    st.cache_data.clear()
    return ecg_test_model


def _no_failures(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_pages_are_not_in_a_folder_named_pages():
    # A 'pages' folder next to app.py makes Streamlit ignore st.navigation (v1 multipage mode).
    assert not (REPO / "apps" / "pages").exists()


def test_model_dir_comes_from_the_env_or_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(ECG_MODEL_ENV, str(tmp_path))
    assert ecg_model_dir() == tmp_path.resolve()
    monkeypatch.delenv(ECG_MODEL_ENV)
    monkeypatch.chdir(tmp_path)
    assert ecg_model_dir() == DEFAULT_ECG_MODEL == REPO / "models" / "ecg-tiny"


def test_home_page_links_to_every_domain_page():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _no_failures(at)
    assert at.title[0].value == "JEPA suite"
    labels = [link.label for link in at.get("page_link")]
    assert [label.split(":")[0] for label in labels] == ["ECG", "EEG", "SAR", "LiDAR"], labels


def test_ecg_page_analyses_bundled_samples():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/ecg.py").run()
    _no_failures(at)
    assert "ECG" in at.title[0].value
    counts = {m.label[0]: int(m.value) for m in at.metric if m.label[:2] in ("N:", "S:", "V:", "F:")}
    assert set(counts) == {"N", "S", "V", "F"} and sum(counts.values()) > 1000  # 208: 30 min of annotated beats
    assert any("from the record's .atr annotations" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 5

    at.selectbox[0].select(str(SAMPLE_DIR / "A00090")).run()
    _no_failures(at)
    rhythm = next(m for m in at.metric if m.label == "Record-level rhythm")
    assert rhythm.value.split(": ", 1)[1] in CINC_NAMES.values()
    assert any("R peaks detected" in c.value for c in at.caption)
    assert any("trained on 30-60 s single-lead AliveCor" in c.value for c in at.caption)


def _upload_script(files, root):
    from apps.common import analyse_upload

    analysis = analyse_upload(files, root=root)
    if analysis is not None:
        import streamlit as st

        st.success(f"{analysis.record.record_id}: {len(analysis.beats)} beats")


def _run_upload(files: list[tuple[str, bytes]], root: Path) -> AppTest:
    return AppTest.from_function(_upload_script, args=(files, str(root)), default_timeout=TIMEOUT).run()


def test_broken_upload_shows_a_readable_error_and_cleans_up(tmp_path: Path):
    hea = (SAMPLE_DIR / "A00002.hea").read_bytes()
    cases = {
        "missing .mat": (
            [("A00002.hea", hea)],
            "A00002.hea: header names signal file 'A00002.mat', which was not uploaded",
        ),
        "garbage header": ([("x.hea", b"\x00\x01garbage"), ("x.dat", b"\x00" * 64)], "x.hea: header unreadable"),
        "no header": ([("A00002.mat", b"\x00" * 64)], "upload: no .hea header among the uploaded files"),
    }
    for name, (files, message) in cases.items():
        at = _run_upload(files, tmp_path)
        assert not at.exception, name
        assert len(at.error) == 1 and message in at.error[0].value, name
        assert str(tmp_path) not in at.error[0].value, "the temporary folder leaks into the message"
        assert list(tmp_path.iterdir()) == [], f"{name}: upload folder left behind"


def test_good_upload_is_analysed_and_cleaned_up(tmp_path: Path):
    files = [(f"A00002.{ext}", (SAMPLE_DIR / f"A00002.{ext}").read_bytes()) for ext in ("hea", "mat")]
    at = _run_upload(files, tmp_path)
    _no_failures(at)
    assert at.success[0].value.startswith("A00002: ")
    assert list(tmp_path.iterdir()) == []


def test_upload_dir_sanitises_names_caps_size_and_always_removes(tmp_path: Path):
    with upload_dir([("../../etc/evil.hea", b"x"), ("C:\\x\\.hidden.dat", b"y")], root=tmp_path) as folder:
        assert sorted(p.name for p in folder.iterdir()) == ["evil.hea", "hidden.dat"]
    assert not folder.exists()
    with pytest.raises(InputError, match="boom"), upload_dir([("a.hea", b"x")], root=tmp_path) as folder:
        raise InputError(folder / "a.hea", "boom")
    assert list(tmp_path.iterdir()) == []
    with (
        pytest.raises(InputError, match="limit is 1 MB"),
        upload_dir([("a.dat", bytes(2 * 1024**2))], max_bytes=1024**2, root=tmp_path),
    ):
        pass
    with pytest.raises(InputError, match="twice"), upload_dir([("a.dat", b""), ("a.dat", b"")], root=tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []
    assert sanitise_filename("my record (1).hea") == "my_record__1_.hea"
    with pytest.raises(InputError):
        sanitise_filename("..")


def test_missing_model_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(ECG_MODEL_ENV, str(tmp_path / "no-model"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/ecg.py").run()
    assert not at.exception
    assert "ECG" in at.title[0].value
    assert "no-model: no model directory or checkpoint here" in at.error[0].value
