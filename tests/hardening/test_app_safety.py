"""App pages with broken and oversized uploads: an error message, a usable page, no upload folder left behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apps.common import MAX_UPLOAD_MB
from tests.hardening.corpus import SAMPLES, build

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 180
OVERSIZED = bytes(MAX_UPLOAD_MB * 1024**2 + 1)
# page, upload radio label, uploader key (None: the only one), a good file, broken corpus cases
PAGES = {
    "eeg": ("Upload EDF/BDF/FIF", None, SAMPLES / "eeg" / "Subject09_1.edf", ["data-truncated", "png-as-edf"]),
    "sar": ("Upload", "sar_upload", SAMPLES / "sar" / "mstar" / "test" / "T72" / "hb03334.jpeg",
            ["tif-truncated", "huge-declared"]),
    "lidar": ("Upload", "lidar_upload", SAMPLES / "lidar" / "kitti_tracking" / "training" / "velodyne_fov" / "000000.bin",
              ["bin-not-16", "npy-huge-header"]),
}  # fmt: skip


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploads go to ``tempfile.gettempdir()``: point it at an empty folder to see what is left there."""
    uploads = tmp_path / "tmp"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    for env in ("JEPA_ECG_MODEL", "JEPA_EEG_MODEL", "JEPA_SAR_MODEL", "JEPA_LIDAR_MODEL"):
        monkeypatch.delenv(env, raising=False)  # the bundled models
    st.cache_data.clear()
    st.cache_resource.clear()
    return uploads


def _upload(at: AppTest, key: str | None, name: str, content: bytes) -> AppTest:
    uploader = at.file_uploader(key=key) if key else at.file_uploader[0]
    uploader.set_value((name, content, "application/octet-stream"))
    return at.run(timeout=TIMEOUT)


@pytest.mark.parametrize("domain", list(PAGES))
def test_page_shows_errors_for_broken_and_oversized_uploads_and_stays_usable(domain, tmp_path, private_tmp):
    label, key, good, broken_ids = PAGES[domain]
    cases = {c.id: c for c in build(domain, tmp_path / "corpus")}
    at = AppTest.from_file(str(REPO / "apps" / "views" / f"{domain}.py"), default_timeout=TIMEOUT).run()
    at.radio[0].set_value(label).run(timeout=TIMEOUT)
    uploads = [(cases[i].path.name, cases[i].path.read_bytes(), cases[i].name) for i in broken_ids]
    uploads.append((good.name.replace(good.stem, "too_big"), OVERSIZED, f"limit is {MAX_UPLOAD_MB} MB"))
    for name, content, expected in uploads:
        _upload(at, key, name, content)
        assert not at.exception, (name, [e.value for e in at.exception])
        assert at.error and expected in at.error[0].value, (name, [e.value for e in at.error])
        assert list(private_tmp.iterdir()) == [], f"{name}: upload folder left behind"
    _upload(at, key, good.name, good.read_bytes())  # the same page still analyses a good upload
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert list(private_tmp.iterdir()) == []


def _ecg_upload_script(files, root):
    from apps.common import analyse_upload

    analysis = analyse_upload(files, root=root)
    if analysis is not None:
        st.write(f"beats: {len(analysis.beats)}")


@pytest.mark.parametrize("case_id", ["dat-truncated", "hea-10000-leads", "all-nan", "huge-sig-len", "hea-png"])
def test_ecg_upload_helper_shows_the_problem_and_cleans_up(case_id, tmp_path, private_tmp):
    """The ECG page's upload helper (apps.common.analyse_upload) on broken records of the corpus."""
    case = next(c for c in build("ecg", tmp_path / "corpus") if c.id == case_id)
    files = [(p.name, p.read_bytes()) for p in sorted(case.path.parent.glob(case.name + ".*"))]
    at = AppTest.from_function(_ecg_upload_script, args=(files, None), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and case.name in at.error[0].value, [e.value for e in at.error]
    assert "jepa-upload-" not in at.error[0].value  # the message names the upload, not the temporary path
    assert list(private_tmp.iterdir()) == []


def test_ecg_upload_over_the_cap_is_refused_before_writing(private_tmp):
    at = AppTest.from_function(_ecg_upload_script, args=([("big.dat", OVERSIZED)], None), default_timeout=TIMEOUT)
    at.run()
    assert at.error and f"the limit is {MAX_UPLOAD_MB} MB" in at.error[0].value
    assert list(private_tmp.iterdir()) == []


def test_streamlit_config_caps_uploads_at_the_app_limit():
    import tomllib

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
