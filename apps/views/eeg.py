"""EEG page: channel traces, rest/task probability per window, embedding map (logic in domains/eeg/inference.py)."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from apps.common import MAX_UPLOAD_MB, REPO_ROOT, upload_dir
from domains.eeg.inference import CLASS_NAMES, TASK, TASK_NOTE, EegAnalyser, EegAnalysis
from domains.eeg.io import find_recordings
from jepa_core.errors import InputError

EEG_MODEL_ENV = "JEPA_EEG_MODEL"
DEFAULT_EEG_MODEL = REPO_ROOT / "models" / "eeg-tiny"
SAMPLE_DIR = REPO_ROOT / "data" / "samples" / "eeg"
UPLOAD_TYPES = ("edf", "bdf", "fif")
COLOURS = {"rest": "#4c78a8", "task": "#e45756"}
MAX_POINTS = 3000  # per channel and view


def eeg_model_dir() -> Path:
    return Path(os.environ.get(EEG_MODEL_ENV) or DEFAULT_EEG_MODEL).expanduser().resolve()


@st.cache_resource(show_spinner="Loading the EEG model ...")
def eeg_analyser(model_dir: str) -> EegAnalyser:
    return EegAnalyser(model_dir)


@st.cache_data(max_entries=8, show_spinner="Analysing the recording ...")
def analyse_path(model_dir: str, path: str) -> EegAnalysis:
    return eeg_analyser(model_dir).analyse(path)


@st.cache_data(max_entries=4, show_spinner="Analysing the uploaded recording ...")
def analyse_upload(model_dir: str, name: str, content: bytes) -> EegAnalysis:
    with upload_dir([(name, content)]) as folder:
        return eeg_analyser(model_dir).analyse(next(folder.iterdir()))


def sample_labels() -> dict[str, str]:
    what = {"Subject09_1": "eegmat subject 9, rest (first 60 s)", "Subject09_2": "eegmat subject 9, mental arithmetic",
            "S001R03": "eegmmidb subject 1, run 3: fist movements (EDF+ annotations)"}  # fmt: skip
    paths = sorted(
        find_recordings(SAMPLE_DIR), key=lambda p: (p.stem not in what, not p.stem.startswith("Subject"), p.name)
    )
    return {str(p): f"{p.name} · {what.get(p.stem, 'EEG recording')}" for p in paths}


def traces_figure(a: EegAnalysis, channels: list[str], start_s: float, span_s: float) -> go.Figure:
    """Stacked channels, each offset by a robust multiple of the median spread so they do not overlap."""
    rec = a.record
    lo, hi = int(start_s * rec.fs), min(int((start_s + span_s) * rec.fs), rec.signal.shape[1])
    step = max(1, -(-(hi - lo) // MAX_POINTS))
    t = np.arange(lo, hi, step) / rec.fs
    rows = [rec.channels.index(c) for c in channels]
    gap = 6 * float(np.median([np.std(rec.signal[r, lo:hi]) for r in rows]) or 1.0)
    fig = go.Figure()
    for k, r in enumerate(rows):
        fig.add_trace(go.Scattergl(x=t, y=rec.signal[r, lo:hi:step] - k * gap, mode="lines", name=rec.channels[r],
                                   line=dict(width=1, color="#333"), showlegend=False,
                                   hovertemplate=f"{rec.channels[r]}: %{{customdata:.1f}} uV at %{{x:.2f}} s<extra></extra>",
                                   customdata=rec.signal[r, lo:hi:step]))  # fmt: skip
    for s, p in zip(a.starts_s, a.pred, strict=True):
        if s + _window_s(a) > start_s and s < start_s + span_s:
            fig.add_vrect(x0=s, x1=s + _window_s(a), fillcolor=COLOURS[p], opacity=0.07, line_width=0)
    fig.update_yaxes(tickvals=[-k * gap for k in range(len(rows))], ticktext=[rec.channels[r] for r in rows])
    fig.update_layout(height=60 + 38 * len(rows), margin=dict(l=10, r=10, t=20, b=10), xaxis_title="time (s)",
                      xaxis_range=[start_s, start_s + span_s])  # fmt: skip
    return fig


def _window_s(a: EegAnalysis) -> float:
    return float(a.starts_s[1] - a.starts_s[0]) if len(a.starts_s) > 1 else a.record.duration_s


def proba_figure(a: EegAnalysis, start_s: float, span_s: float) -> go.Figure:
    centre = a.starts_s + _window_s(a) / 2
    fig = go.Figure(go.Scatter(x=centre, y=a.proba[:, 1], mode="lines+markers", name="P(task)",
                               line=dict(color=COLOURS["task"]), hovertemplate="P(task) = %{y:.2f} at %{x:.1f} s<extra></extra>"))  # fmt: skip
    fig.add_hline(y=0.5, line_dash="dot", line_color="#888")
    fig.add_vrect(x0=start_s, x1=start_s + span_s, fillcolor="#2563eb", opacity=0.1, line_width=0)
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=20, b=10), xaxis_title="time (s)",
                      yaxis=dict(range=[0, 1], title="P(mental arithmetic)"))  # fmt: skip
    return fig


def map_figure(m) -> go.Figure:
    fig = go.Figure()
    for c, colour in COLOURS.items():
        sel = m.ref_label == c
        fig.add_trace(go.Scattergl(x=m.ref_xy[sel, 0], y=m.ref_xy[sel, 1], mode="markers", name=f"reference {c}",
                                   marker=dict(color=colour, size=6, opacity=0.4)))  # fmt: skip
    for c, colour in COLOURS.items():
        sel = m.label == c
        if sel.any():
            fig.add_trace(go.Scattergl(x=m.xy[sel, 0], y=m.xy[sel, 1], mode="markers", name=f"this recording: predicted {c}",
                                       marker=dict(color=colour, size=9, symbol="diamond", line=dict(color="black", width=1))))  # fmt: skip
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=f"{m.method.upper()} 1",
                      yaxis_title=f"{m.method.upper()} 2")  # fmt: skip
    return fig


st.title("EEG: rest or mental arithmetic")
st.caption("Frozen EEG-VJEPA encoder + linear probe, window by window. Research software: not for diagnosis.")
model_dir = str(eeg_model_dir())
try:
    analyser = eeg_analyser(model_dir)
except InputError as err:
    st.error(
        f"The EEG model could not be loaded. {err}\n\nSet {EEG_MODEL_ENV} to a model directory to use another one."
    )
    st.stop()

source = st.radio("Recording", ["Bundled sample", "Upload EDF/BDF/FIF"], horizontal=True)
try:
    if source == "Bundled sample":
        samples = sample_labels()
        path = st.selectbox("Sample", list(samples), format_func=samples.get)
        analysis, key = analyse_path(model_dir, path), path
    else:
        upload = st.file_uploader(f"One EEG recording (EDF, EDF+, BDF or MNE .fif; at most {MAX_UPLOAD_MB} MB)",
                                  type=list(UPLOAD_TYPES), max_upload_size=MAX_UPLOAD_MB)  # fmt: skip
        if upload is None:
            st.info("Upload an EEG recording, e.g. `Subject00_2.edf` from PhysioNet's eegmat.")
            st.stop()
        content = upload.getvalue()
        analysis, key = analyse_upload(model_dir, upload.name, content), hashlib.sha256(content).hexdigest()
except InputError as err:
    st.error(str(err))
    st.stop()

rec = analysis.record
st.markdown(f"**{rec.record_id}**: {rec.duration_s:.1f} s, {len(rec.channels)} EEG channels used, recorded at "
            f"{rec.fs_original:g} Hz (shown filtered at {rec.fs:g} Hz, in uV); {len(analysis.starts_s)} windows "
            f"of {_window_s(analysis):g} s.")  # fmt: skip
for note in analysis.notes:
    st.warning(note)

left, middle, right = st.columns([1, 3, 2])
span = left.selectbox("View (s)", [4, 10, 20, 30, 60], index=1)
last_start = max(0.0, float(np.floor(rec.duration_s - span)))
start = middle.slider("Start (s)", 0.0, last_start, 0.0, step=1.0) if last_start > 0 else 0.0
chosen = right.multiselect("Channels", list(rec.channels), default=list(rec.channels)) or list(rec.channels[:1])
st.plotly_chart(traces_figure(analysis, chosen, start, span), key="traces")
st.caption("Shading: each window's predicted class (blue rest, red mental arithmetic).")

st.subheader("Rest or mental arithmetic")
p_task = float(analysis.recording_proba[1])
label = "task" if p_task >= 0.5 else "rest"
st.metric("Whole recording (mean of window probabilities)", f"{label}: {CLASS_NAMES[label]}",
          f"P(task) = {p_task:.2f}", delta_color="off", delta_arrow="off")  # fmt: skip
st.plotly_chart(proba_figure(analysis, start, span), key="proba")
st.caption(TASK_NOTE)
table = pd.DataFrame({"start (s)": analysis.starts_s.round(2), "predicted": analysis.pred,
                      "P(rest)": analysis.proba[:, 0].round(3), "P(task)": analysis.proba[:, 1].round(3)})  # fmt: skip
st.download_button(
    "Download window predictions (CSV)", table.to_csv(index=False), f"{rec.record_id}_windows.csv", "text/csv"
)
if rec.events:
    with st.expander(f"Annotations ({len(rec.events)})"):
        st.dataframe(pd.DataFrame(rec.events, columns=["onset (s)", "duration (s)", "label"]), hide_index=True)

st.subheader("Embedding map")
method = st.radio("Projection", ["pca", "umap"], horizontal=True, format_func=str.upper,
                  help="Fitted on the labelled reference windows only")  # fmt: skip
maps = analysis.maps if method == "pca" else analyser.maps(analysis, method)
st.plotly_chart(map_figure(maps[TASK]), key="map")
st.caption("Dots: reference windows of the probe's training subjects; diamonds: this recording's windows.")

with st.expander("Model card"):
    card, data = analyser.card, analyser.card.get("training_data") or {}
    st.markdown(f"Pretrained for {card.get('trained_steps')} steps on {data.get('n_recordings', '?')} unlabelled "
                f"recordings; pooling `{analyser.pooling}`; probe fitted on subjects "
                f"{analyser.probe.meta.get('subjects')}.")  # fmt: skip
    if card.get("probe_metrics"):
        st.json(card["probe_metrics"], expanded=2)
    st.caption(f"Model directory: {analyser.model_dir}")
