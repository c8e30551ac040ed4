"""The LiDAR page through AppTest on a tiny random model: bundled scans, uploads, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "apps" / "app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def test_model(lidar_test_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JEPA_LIDAR_MODEL", str(lidar_test_model))
    st.cache_data.clear()
    st.cache_resource.clear()
    return lidar_test_model


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    return at.switch_page("views/lidar.py").run()


def test_bundled_scan_shows_bev_embedding_and_probe():
    at = _page()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "LiDAR scans"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["points in file"].replace(",", "")) > 10000
    occupied = int(metrics["occupied BEV cells"].split("/")[0])
    assert 50 < occupied < int(metrics["occupied BEV cells"].split("/")[1])
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # occupancy, embedding, foreground, 3-D
    assert any("class-balanced linear probe" in c.value for c in at.caption)  # how to read the foreground map


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("short.bin", b"\x00" * 20, "not a multiple of 16"),
        ("empty.bin", b"", "empty"),
        ("nan.npy", None, "NaN"),
        ("far.bin", np.array([[500.0, 0, 0, 0.5]] * 10, np.float32).tobytes(), "outside point_cloud_range"),
    ],
)
def test_bad_uploads_give_clear_messages(  # the page shows str(err) of exactly these
    lidar_test_model, name, content, message, tmp_path
):
    from domains.lidar.inference import analyse_file, load_model
    from jepa_core.errors import InputError

    path = tmp_path / name
    if content is None:
        pts = np.ones((10, 4), np.float32)
        pts[2, 0] = np.nan
        np.save(path, pts)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        analyse_file(load_model(lidar_test_model), path)


def test_upload_names_the_range_this_model_reads():
    at = _page()
    at.radio(key="lidar_source").set_value("Upload").run()
    assert not at.exception, [e.value for e in at.exception]
    label = at.get("file_uploader")[0].proto.label
    assert "x 0 to 51.2 m, y -25.6 to 25.6 m (KITTI frame)" in label and "airborne model" in label
    assert at.info and "Upload a point cloud" in at.info[0].value
