"""LiDAR page: BEV occupancy, a 3-D view, BEV embedding colours and the foreground heat map of one scan.

Logic lives in domains/lidar/inference.py; the model is ``$JEPA_LIDAR_MODEL`` or ``models/lidar-tiny``.
"""

import os
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from apps.common import MAX_UPLOAD_MB, REPO_ROOT, upload_dir
from domains.lidar.inference import LidarAnalysis, analyse_file, box_corners_bev, load_model
from domains.lidar.io import CLOUD_EXTS, Box3D
from domains.lidar.tasks import find_labelled_frames
from jepa_core.errors import InputError

LIDAR_MODEL_ENV = "JEPA_LIDAR_MODEL"
SAMPLE_DIR = REPO_ROOT / "data" / "samples" / "lidar"
MAX_3D_POINTS = 15000
BOX_COLOURS = {"Car": "#e45756", "Van": "#f58518", "Truck": "#b279a2", "Pedestrian": "#54a24b", "Cyclist": "#4c78a8"}


def lidar_model_dir() -> Path:
    return Path(os.environ.get(LIDAR_MODEL_ENV) or REPO_ROOT / "models" / "lidar-tiny").expanduser().resolve()


@st.cache_resource(show_spinner="Loading the LiDAR model ...")
def lidar_model(model_dir: str):
    return load_model(model_dir)


@st.cache_data(max_entries=8, show_spinner="Encoding the scan ...")
def analyse_path(model_dir: str, path: str) -> LidarAnalysis:
    return analyse_file(lidar_model(model_dir), path)


@st.cache_data(max_entries=4, show_spinner="Encoding the upload ...")
def analyse_upload(model_dir: str, name: str, content: bytes) -> LidarAnalysis:
    with upload_dir([(name, content)]) as folder:
        return analyse_file(lidar_model(model_dir), next(folder.iterdir()))


def frame_hint(model) -> str:
    """What clouds this model can read: a vehicle scanner's range (KITTI frame) or airborne crops."""
    d = model.pretrained.cfg.data
    x0, y0, _, x1, y1, _ = d.point_cloud_range
    if d.crop_region:
        return f"this model reads airborne tiles ({x1 - x0:g} x {y1 - y0:g} m crops)"
    return (f"this model reads a vehicle-mounted scanner's points within x {x0:g} to {x1:g} m, y {y0:g} to {y1:g} m "
            "(KITTI frame); airborne tiles need an airborne model (domains/lidar/configs/als.yaml)")  # fmt: skip


@st.cache_data
def bundled_frames() -> dict[str, list[Box3D]]:
    """Bundled scan path -> its labelled boxes (LiDAR frame)."""
    out = {}
    for sub in sorted(p for p in SAMPLE_DIR.iterdir() if p.is_dir()):
        for f in find_labelled_frames(sub):
            out[str(f.path)] = f.boxes
    return out


def bev_image(z: np.ndarray, a: LidarAnalysis, boxes: list[Box3D], **heat) -> go.Figure:
    """A (H, W) or (H, W, 3) BEV map, x forward to the right, y left upwards, with box outlines."""
    x0, x1, y0, y1 = a.extent
    h, w = z.shape[:2]
    xs, ys = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w, y0 + (np.arange(h) + 0.5) * (y1 - y0) / h
    if z.ndim == 3:
        img = (z * 255).astype(np.uint8)  # row 0 = y0 (right side) at the bottom: the y axis is not reversed
        fig = go.Figure(go.Image(z=img, x0=xs[0], dx=xs[1] - xs[0], y0=ys[0], dy=ys[1] - ys[0]))
    else:
        fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, **heat))
    for b in boxes:
        c = box_corners_bev(b)
        fig.add_trace(go.Scatter(x=c[:, 0], y=c[:, 1], mode="lines", name=b.cls, showlegend=False,
                                 line=dict(color=BOX_COLOURS.get(b.cls, "white"), width=2), hoverinfo="name"))  # fmt: skip
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10),  # t: room for the toolbar
                      xaxis=dict(title="x forward (m)", range=[x0, x1]),
                      yaxis=dict(title="y left (m)", range=[y0, y1], scaleanchor="x"))  # fmt: skip
    return fig


FG_NOTE = (
    "A class-balanced linear probe: on held-out KITTI frames (bundled model) it marks a median 24% of occupied "
    "cells p >= 0.5 where 1.5-11% are foreground (precision 0.05-0.30, AUROC 0.82-0.88). Read it as a ranking of "
    "cells, not as detections."
)


def cloud_figure(a: LidarAnalysis) -> go.Figure:
    pts = a.points
    if len(pts) > MAX_3D_POINTS:
        pts = pts[np.random.default_rng(0).choice(len(pts), MAX_3D_POINTS, replace=False)]
    fig = go.Figure(go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="markers",
                                 marker=dict(size=1.5, color=pts[:, 2], colorscale="viridis")))  # fmt: skip
    fig.update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0),
                      scene=dict(aspectmode="data", xaxis_title="x fwd", yaxis_title="y left", zaxis_title="z up"))  # fmt: skip
    return fig


def show(a: LidarAnalysis, boxes: list[Box3D], has_probe: bool) -> None:
    cols = st.columns(3)
    cols[0].metric("points in file", f"{len(a.points):,}")
    cols[1].metric("points encoded", f"{len(a.used):,}")
    cols[2].metric("occupied BEV cells", f"{int((a.occupancy > 0).sum())} / {a.occupancy.size}")
    left, right = st.columns(2)
    occ = np.where(a.occupancy > 0, np.log1p(a.occupancy), np.nan)
    left.markdown("**BEV occupancy (log points per cell)**")  # titles above the charts: inside, the toolbar covers them
    left.plotly_chart(bev_image(occ, a, boxes, colorscale="gray_r", colorbar=dict(title="log(1+n)")), width="stretch")
    right.markdown("**BEV embedding (PCA of cell embeddings as RGB)**")
    right.plotly_chart(bev_image(a.embedding_rgb, a, boxes), width="stretch")
    left, right = st.columns(2)
    if has_probe and a.fg_proba is not None:
        left.markdown("**Foreground probability (linear probe)**")
        left.plotly_chart(bev_image(a.fg_proba, a, boxes, colorscale="inferno", zmin=0, zmax=1,
                                    colorbar=dict(title="p(fg)")), width="stretch")  # fmt: skip
        left.caption(FG_NOTE)
    else:
        left.info("This model directory has no foreground probe (fg_probe.json); run evaluate.py --save-probe.")
    right.markdown(f"**3-D view ({min(len(a.points), MAX_3D_POINTS):,} points shown)**")
    right.plotly_chart(cloud_figure(a), width="stretch")
    st.caption("Boxes: labelled KITTI objects (when the scan has labels). Frame: x forward, y left, z up.")


def main() -> None:
    st.title("LiDAR scans")
    st.caption(
        "An AD-L-JEPA sparse BEV encoder pretrained on unlabelled KITTI scans; foreground probe on labelled cells."
    )
    model_dir = str(lidar_model_dir())
    try:
        model = lidar_model(model_dir)
    except InputError as err:
        st.error(f"The LiDAR model could not be loaded. {err}\n\nSet {LIDAR_MODEL_ENV} to a model directory.")
        return
    source = st.radio("Input", ["Bundled scan", "Upload"], horizontal=True, key="lidar_source")
    boxes: list[Box3D] = []
    try:
        if source == "Bundled scan":
            frames = bundled_frames()
            path = st.selectbox("Scan", list(frames), format_func=lambda p: str(Path(p).relative_to(SAMPLE_DIR)),
                                key="lidar_scan")  # fmt: skip
            boxes = frames[path]
            analysis = analyse_path(model_dir, path)
        else:
            up = st.file_uploader(f".bin, .npy, .pcd, .ply or .las (up to {MAX_UPLOAD_MB} MB); {frame_hint(model)}",
                                  type=[e.lstrip(".") for e in CLOUD_EXTS], key="lidar_upload",
                                  max_upload_size=MAX_UPLOAD_MB)  # fmt: skip
            if up is None:
                st.info("Upload a point cloud (x forward, y left, z up, metres) to analyse it.")
                return
            analysis = analyse_upload(model_dir, up.name, up.getvalue())
    except InputError as err:
        st.error(str(err))
        return
    show(analysis, boxes, model.probe is not None)


main()
