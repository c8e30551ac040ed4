"""The SAR page run headless with AppTest on a tiny random model (JEPA_SAR_MODEL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from domains.sar.inference import SarAnalyser
from jepa_core.errors import InputError

REPO = Path(__file__).resolve().parents[3]
PAGE = str(REPO / "apps" / "views" / "sar.py")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def model(sar_test_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JEPA_SAR_MODEL", str(sar_test_model))
    st.cache_data.clear()
    st.cache_resource.clear()
    return sar_test_model


def _no_failures(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_page_analyses_a_bundled_mstar_chip():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    _no_failures(at)
    assert at.title[0].value == "SAR target chips"
    top3 = at.dataframe[0].value
    assert len(top3) == 3 and abs(top3["probability"].sum()) <= 1.0 + 1e-6
    assert len(at.get("plotly_chart")) == 3  # dB image, reference map, gradient maps


def test_page_reads_a_two_band_geotiff_band_by_index_and_reports_a_bad_band():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    chip = next(o for o in at.selectbox(key="sar_chip").options if "opensarship" in o)
    at.selectbox(key="sar_chip").set_value(chip).run()
    at.text_input(key="sar_band").input("2").run()
    _no_failures(at)
    assert any("band band2" in str(e.value) for e in at.get("markdown"))  # the notes name the band used
    at.text_input(key="sar_band").input("HH").run()
    assert at.error and "no band named 'HH'" in at.error[0].value


def test_page_warns_when_the_classes_mean_nothing(monkeypatch: pytest.MonkeyPatch):
    """With the bundled model: an MSTAR chip gets its classes plainly, a Sentinel-1 ship patch a warning above them."""
    monkeypatch.setenv("JEPA_SAR_MODEL", str(REPO / "models" / "sar-tiny"))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    _no_failures(at)
    assert "mstar" in at.selectbox(key="sar_chip").value and not at.warning
    ship = next(o for o in at.selectbox(key="sar_chip").options if "opensarship" in o)
    at.selectbox(key="sar_chip").set_value(ship).run()
    _no_failures(at)
    assert len(at.warning) == 1 and "far from every labelled MSTAR reference" in at.warning[0].value


def test_page_reports_a_model_that_cannot_be_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("JEPA_SAR_MODEL", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert at.error and "could not be loaded" in at.error[0].value


def test_analyser_messages_for_unusable_uploads(model: Path, tmp_path: Path):
    import rasterio

    analyser = SarAnalyser(model)
    bad = tmp_path / "garbage.tif"
    bad.write_bytes(b"\x00" * 100)
    nodata = tmp_path / "nodata.tif"
    with rasterio.open(nodata, "w", driver="GTiff", height=32, width=32, count=1, dtype="float32", nodata=0.0) as dst:
        dst.write(np.zeros((1, 32, 32), np.float32))
    for path, message in ((bad, "unreadable"), (nodata, "every pixel is nodata")):
        with pytest.raises(InputError, match=message):
            analyser.analyse(path)
