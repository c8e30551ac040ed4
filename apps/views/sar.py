"""SAR page: a chip in dB, its gradient targets, its embedding on the MSTAR map, the top-3 classes.

Logic lives in domains/sar/inference.py; the model is ``$JEPA_SAR_MODEL`` or ``models/sar-tiny``.
"""

import os
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from apps.common import MAX_UPLOAD_MB, REPO_ROOT, upload_dir
from domains.sar.inference import CLASS_NAMES, SarAnalyser, SarAnalysis
from domains.sar.io import IMAGE_SUFFIXES, find_images, sample_id
from jepa_core.errors import InputError

SAR_MODEL_ENV = "JEPA_SAR_MODEL"
SAMPLE_DIR = REPO_ROOT / "data" / "samples" / "sar"
COLOURS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"]


def sar_model_dir() -> Path:
    return Path(os.environ.get(SAR_MODEL_ENV) or REPO_ROOT / "models" / "sar-tiny").expanduser().resolve()


@st.cache_resource(show_spinner="Loading the SAR model ...")
def sar_analyser(model_dir: str) -> SarAnalyser:
    return SarAnalyser(model_dir)


@st.cache_data(max_entries=16, show_spinner="Analysing the chip ...")
def analyse_file(model_dir: str, path: str, band: str | None) -> SarAnalysis:
    return sar_analyser(model_dir).analyse(path, band=band)


@st.cache_data(max_entries=4, show_spinner="Analysing the upload ...")
def analyse_upload(model_dir: str, name: str, content: bytes, band: str | None) -> SarAnalysis:
    with upload_dir([(name, content)]) as folder:
        return sar_analyser(model_dir).analyse(next(folder.iterdir()), band=band)


def image_figure(a: SarAnalysis) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=a.chip.db, colorscale="gray", colorbar=dict(title="dB re median"),
                               hovertemplate="x %{x}, y %{y}: %{z:.1f} dB<extra></extra>"))  # fmt: skip
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return fig


def gradient_figure(a: SarAnalysis) -> go.Figure:
    fig = make_subplots(rows=1, cols=len(a.radii), subplot_titles=[f"r = {r} px" for r in a.radii])
    vmax = float(np.percentile(a.gradients, 99.5)) or 1.0
    for i, g in enumerate(a.gradients, start=1):
        fig.add_trace(go.Heatmap(z=g, colorscale="viridis", zmin=0, zmax=vmax, showscale=i == len(a.radii),
                                 colorbar=dict(title="|G|"), hovertemplate="%{z:.2f}<extra></extra>"), row=1, col=i)  # fmt: skip
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=60, b=10))  # t: subplot titles below the toolbar
    return fig


def map_figure(a: SarAnalysis) -> go.Figure:
    fig = go.Figure()
    for colour, c in zip(COLOURS, sorted(set(a.ref_label)), strict=False):
        sel = a.ref_label == c
        fig.add_trace(go.Scattergl(x=a.ref_xy[sel, 0], y=a.ref_xy[sel, 1], mode="markers", name=c,
                                   marker=dict(color=colour, size=6, opacity=0.6)))  # fmt: skip
    fig.add_trace(go.Scatter(x=[a.map_xy[0]], y=[a.map_xy[1]], mode="markers", name="this chip",
                             marker=dict(symbol="star", size=20, color="black", line=dict(color="white", width=1))))  # fmt: skip
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="PC 1", yaxis_title="PC 2")
    return fig


def show(a: SarAnalysis) -> None:
    st.subheader("Top-3 classes (MSTAR SOC probe)")
    for warning in a.warnings:
        st.warning(warning)
    st.dataframe(
        [{"class": c, "name": CLASS_NAMES.get(c, c), "probability": round(p, 3)} for c, p in a.top(3)],
        hide_index=True,
    )
    left, right = st.columns(2)
    band = a.chip.band if str(a.chip.band).lower().startswith("band") else f"band {a.chip.band}"
    left.markdown(f"**{band}, dB re the chip's median**")  # titles above the charts: inside, the toolbar covers them
    left.plotly_chart(image_figure(a), width="stretch")
    right.markdown("**Embedding on the MSTAR training references (PCA)**")
    right.plotly_chart(map_figure(a), width="stretch")
    st.subheader("SAR-JEPA targets: ratio-of-averages gradient magnitude per scale")
    st.plotly_chart(gradient_figure(a), width="stretch")
    with st.expander("What was done to the input"):
        img = a.image
        st.write(f"file {img.path.name}: {img.source_shape[0]}x{img.source_shape[1]} px, bands {img.bands}, "
                 f"stored as {img.scale}, CRS {img.crs or 'none'}")  # fmt: skip
        for note in a.chip.notes:
            st.write(f"- {note}")


def main() -> None:
    st.title("SAR target chips")
    st.caption("A SAR-JEPA encoder pretrained on MSTAR 17° chips; probe trained on the same chips.")
    model_dir = str(sar_model_dir())
    try:
        sar_analyser(model_dir)
    except InputError as err:
        st.error(f"The SAR model could not be loaded. {err}\n\nSet {SAR_MODEL_ENV} to a model directory.")
        return
    source = st.radio("Input", ["Bundled chip", "Upload"], horizontal=True, key="sar_source")
    band = st.text_input("Band (name such as VV, or 1-based index; empty: the first)", key="sar_band") or None
    try:
        if source == "Bundled chip":
            files = find_images(SAMPLE_DIR)
            path = st.selectbox(
                "Chip", [str(p) for p in files], format_func=lambda p: sample_id(Path(p)), key="sar_chip"
            )
            analysis = analyse_file(model_dir, path, band)
        else:
            up = st.file_uploader(f"GeoTIFF, JPEG or PNG (up to {MAX_UPLOAD_MB} MB)",
                                  type=[s.lstrip(".") for s in IMAGE_SUFFIXES], key="sar_upload",
                                  max_upload_size=MAX_UPLOAD_MB)  # fmt: skip
            if up is None:
                st.info("Upload a SAR chip or raster to analyse it.")
                return
            analysis = analyse_upload(model_dir, up.name, up.getvalue(), band)
    except InputError as err:
        st.error(str(err))
        return
    show(analysis)


main()
