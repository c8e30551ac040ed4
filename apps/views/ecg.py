"""ECG page: beat classes, rhythm and embedding map of one record (logic in domains/ecg/inference.py)."""

import hashlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from apps.common import (
    ECG_UPLOAD_TYPES,
    MAX_UPLOAD_MB,
    SAMPLE_DIR,
    analyse_sample,
    analyse_upload,
    ecg_model_dir,
    embedding_maps,
    load_ecg_analyser,
)
from domains.ecg.inference import (
    AAMI_NAMES,
    BEAT_TASK,
    CINC_NAMES,
    RHYTHM_NOTE,
    RHYTHM_TASK,
    TASK_CLASSES,
    EcgAnalysis,
)
from domains.ecg.io import find_records
from domains.ecg.tasks import load_cinc_labels

BEAT_COLOURS = {"N": "#4c78a8", "S": "#f58518", "V": "#e45756", "F": "#b279a2", "Q": "#9d9d9d"}
RHYTHM_COLOURS = {"N": "#4c78a8", "A": "#e45756", "O": "#f58518", "~": "#9d9d9d"}
MAX_POINTS = 4000  # per lead and view; longer views are decimated for display
MAX_MAP_POINTS = 800  # of the record's beats on the map (a fixed random subset)


def sample_labels() -> dict[str, str]:
    """Bundled record path -> what it is."""
    try:
        cinc = load_cinc_labels(SAMPLE_DIR)
    except Exception:  # noqa: BLE001 - the list still works without labels
        cinc = {}
    out = {}
    for rec in find_records(SAMPLE_DIR):
        if rec.with_name(rec.name + ".atr").is_file():
            out[str(rec)] = f"{rec.name} · MIT-BIH Arrhythmia, 30 min, annotated beats"
        else:
            label = CINC_NAMES.get(cinc.get(rec.name, ""), "unlabelled")
            out[str(rec)] = f"{rec.name} · CinC 2017 AliveCor, labelled {label}"
    return out


def signal_figure(a: EcgAnalysis, leads: list[int], start_s: float, span_s: float) -> go.Figure:
    rec = a.record
    lo, hi = int(start_s * rec.fs), min(int((start_s + span_s) * rec.fs), rec.signal.shape[1])
    step = max(1, -(-(hi - lo) // MAX_POINTS))
    t = np.arange(lo, hi, step) / rec.fs
    fig = make_subplots(rows=len(leads), cols=1, shared_xaxes=True, vertical_spacing=0.03)
    in_view = (a.beats >= lo) & (a.beats < hi)
    for row, lead in enumerate(leads, start=1):
        y = rec.signal[lead]
        fig.add_trace(
            go.Scatter(
                x=t, y=y[lo:hi:step], mode="lines", line=dict(color="#333", width=1), showlegend=False, hoverinfo="skip"
            ),
            row=row,
            col=1,
        )
        for c in a.beat_classes:
            sel = in_view & (a.beat_pred == c)
            fig.add_trace(go.Scatter(
                x=a.beats[sel] / rec.fs, y=y[a.beats[sel]], mode="markers", name=f"{c} ({AAMI_NAMES[c]})",
                marker=dict(color=BEAT_COLOURS[c], size=9, line=dict(color="white", width=1)),
                legendgroup=c, showlegend=row == 1, hovertemplate=f"{c} beat at %{{x:.2f}} s<extra></extra>",
            ), row=row, col=1)  # fmt: skip
        unit = rec.units[lead] or "a.u."
        fig.update_yaxes(title_text=f"{rec.leads[lead]} ({unit})", row=row, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(leads), col=1)
    fig.update_layout(
        height=170 * len(leads) + 110, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08)
    )
    return fig


def proba_figure(a: EcgAnalysis, start_s: float, span_s: float) -> go.Figure:
    """Stacked class probabilities of every beat in the view."""
    t = a.beats / a.record.fs
    sel = (t >= start_s) & (t < start_s + span_s)
    fig = go.Figure()
    for j, c in enumerate(a.beat_classes):
        fig.add_trace(go.Bar(x=t[sel], y=a.beat_proba[sel, j], name=f"P({c})", marker_color=BEAT_COLOURS[c], width=0.25,
                             hovertemplate=f"P({c}) = %{{y:.2f}} at %{{x:.2f}} s<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="stack", height=230, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="time (s)",
                      xaxis_range=[start_s, start_s + span_s], yaxis_title="probability", legend=dict(orientation="h", y=1.2, traceorder="normal"))  # fmt: skip
    return fig


def timeline_figure(a: EcgAnalysis, start_s: float, span_s: float) -> go.Figure:
    """Predicted class of every beat of the record, the view shaded."""
    t = a.beats / a.record.fs
    fig = go.Figure()
    for j, c in enumerate(a.beat_classes):
        sel = a.beat_pred == c
        fig.add_trace(go.Scattergl(x=t[sel], y=np.full(sel.sum(), c), mode="markers", name=c, showlegend=False,
                                   marker=dict(color=BEAT_COLOURS[c], size=5, opacity=0.6), customdata=a.beat_proba[sel, j],
                                   hovertemplate=f"{c} beat at %{{x:.1f}} s, P = %{{customdata:.2f}}<extra></extra>"))  # fmt: skip
    fig.add_vrect(x0=start_s, x1=start_s + span_s, fillcolor="#2563eb", opacity=0.12, line_width=0)
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="time (s)",
                      yaxis=dict(categoryorder="array", categoryarray=list(a.beat_classes)[::-1]))  # fmt: skip
    return fig


def map_figure(m, colours: dict[str, str], names: dict[str, str], point_name: str) -> go.Figure:
    fig = go.Figure()
    for c in colours:
        sel = m.ref_label == c
        if sel.any():
            fig.add_trace(go.Scattergl(x=m.ref_xy[sel, 0], y=m.ref_xy[sel, 1], mode="markers", name=f"reference {c} ({names[c]})",
                                       marker=dict(color=colours[c], size=6, opacity=0.45)))  # fmt: skip
    shown = np.sort(np.random.default_rng(0).permutation(len(m.xy))[:MAX_MAP_POINTS])
    for c in colours:
        sel = shown[m.label[shown] == c]
        if len(sel):
            fig.add_trace(go.Scattergl(x=m.xy[sel, 0], y=m.xy[sel, 1], mode="markers", name=f"{point_name}: predicted {c}",
                                       marker=dict(color=colours[c], size=14 if len(m.xy) == 1 else 6, symbol="diamond",
                                                   line=dict(color="black", width=1 if len(m.xy) == 1 else 0.5))))  # fmt: skip
    fig.update_layout(
        height=480,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title=f"{m.method.upper()} 1",
        yaxis_title=f"{m.method.upper()} 2",
    )
    return fig


def beat_table(a: EcgAnalysis, lo_s: float, hi_s: float) -> pd.DataFrame:
    t = a.beats / a.record.fs
    sel = (t >= lo_s) & (t < hi_s)
    table = pd.DataFrame({"time (s)": t[sel].round(2), "predicted": a.beat_pred[sel]})
    if a.beat_annotated is not None:
        table["annotated (.atr)"] = a.beat_annotated[sel]
    for j, c in enumerate(a.beat_classes):
        table[f"P({c})"] = a.beat_proba[sel, j].round(3)
    return table


def show_beats(a: EcgAnalysis, analyser) -> None:
    st.subheader("Heartbeats")
    source = "the record's .atr annotations" if a.beat_source == "annotations" else "R peaks detected with wfdb's XQRS"
    st.caption(
        f"{len(a.beats)} beats, positions from {source}; classes from a linear probe on the frozen encoder (AAMI classes)."
    )
    counts = a.counts()
    for col, c in zip(st.columns(len(counts)), counts, strict=True):
        col.metric(
            f"{c}: {AAMI_NAMES[c]}",
            counts[c],
            f"{100 * counts[c] / max(1, len(a.beats)):.1f}% of beats",
            delta_color="off",
            delta_arrow="off",
        )
    if a.beat_annotated is not None:
        known = np.isin(a.beat_annotated, a.beat_classes)
        agree = float((a.beat_pred[known] == a.beat_annotated[known]).mean()) if known.any() else float("nan")
        fitted_on = analyser.probes[BEAT_TASK].meta.get("records", [])
        caveat = (
            " This record was used to fit the beat probe, so this is optimistic."
            if a.record.record_id in fitted_on
            else ""
        )
        st.caption(f"Agreement with the annotations (N/S/V/F beats): {agree:.1%}.{caveat}")


def show_rhythm(a: EcgAnalysis) -> None:
    st.subheader("Rhythm")
    pred = a.rhythm_pred
    st.metric(
        "Record-level rhythm",
        f"{pred}: {CINC_NAMES[pred]}",
        f"probability {a.rhythm_proba.max():.2f}",
        delta_color="off",
        delta_arrow="off",
    )
    labels = [f"{c}: {CINC_NAMES[c]}" for c in a.rhythm_classes]
    fig = go.Figure(
        go.Bar(x=a.rhythm_proba, y=labels, orientation="h", marker_color=[RHYTHM_COLOURS[c] for c in a.rhythm_classes])
    )
    fig.update_layout(height=200, margin=dict(l=10, r=10, t=10, b=10), xaxis_range=[0, 1], xaxis_title="probability")
    st.plotly_chart(fig, key="rhythm")
    st.caption(RHYTHM_NOTE)


def show_map(a: EcgAnalysis, key: str) -> None:
    st.subheader("Embedding map")
    left, right = st.columns(2)
    which = left.radio("Points", ["Beats (MIT-BIH references)", "Record (CinC 2017 references)"], horizontal=True)
    method = right.radio(
        "Projection",
        ["pca", "umap"],
        horizontal=True,
        format_func=str.upper,
        help="PCA and UMAP are fitted on the references only",
    )
    maps = embedding_maps(str(ecg_model_dir()), key, method, a)
    if which.startswith("Beats"):
        st.plotly_chart(map_figure(maps[BEAT_TASK], BEAT_COLOURS, AAMI_NAMES, "this record's beats"), key="map")
    else:
        st.plotly_chart(map_figure(maps[RHYTHM_TASK], RHYTHM_COLOURS, CINC_NAMES, "this record"), key="map")
    n_beats = len(a.beats)
    subset = (
        f" ({MAX_MAP_POINTS} of its {n_beats} beats)" if which.startswith("Beats") and n_beats > MAX_MAP_POINTS else ""
    )
    st.caption(f"Dots: labelled reference embeddings from the probes' training records; diamonds: this record{subset}.")


def show_model_card(analyser) -> None:
    card, data = analyser.card, analyser.card.get("training_data") or {}
    with st.expander("Model card"):
        st.markdown(f"**{card.get('name', 'ECG encoder')}**: {card.get('summary', '')}")
        rankme = (card.get("metrics") or {}).get("rankme")
        facts = [
            f"pretrained for {card.get('trained_steps')} steps on {data.get('n_records', '?')} unlabelled records "
            f"from {', '.join(map(str, data.get('sources', []))) or '?'}",
            f"encoder used downstream: `{card.get('encoder_used_downstream')}`, {card.get('pooling', 'mean')} pooling",
        ]
        if rankme is not None:
            facts.append(
                f"RankMe (effective rank of the embeddings): {rankme:.1f} of {analyser.pre.cfg.model.embed_dim}"
            )
        st.markdown("\n".join(f"- {fact}" for fact in facts))
        if card.get("training_command"):
            st.code(card["training_command"], language="bash")
        for task, probe in analyser.probes.items():
            meta, order = probe.meta, TASK_CLASSES[task]
            counts = meta.get("n_train") or {}
            per_class = ", ".join(f"{c} {counts[c]}" for c in order if c in counts).replace(
                "~", "\\~"
            )  # not strikethrough
            st.markdown(f"**{task} probe** ({meta.get('level', '?')} level): fitted on "
                        f"{len(meta.get('records', []))} records; examples per class: {per_class or '?'}")  # fmt: skip
        if card.get("probe_metrics"):
            st.markdown("**Probe metrics** (held-out records)")
            st.json(card["probe_metrics"], expanded=2)
        with st.popover("Full model card (JSON)"):
            st.json({k: v for k, v in card.items() if k != "config"}, expanded=1)
            st.json({task: probe.meta for task, probe in analyser.probes.items()}, expanded=1)
        st.caption(f"Model directory: {analyser.model_dir}")


st.title("ECG: heartbeat classes and rhythm")
st.caption("Frozen JEPA encoder + linear probes. Research software: not for diagnosis.")
analyser = load_ecg_analyser()
if analyser is None:
    st.stop()

source = st.radio("Record", ["Bundled sample", "Upload WFDB files"], horizontal=True)
if source == "Bundled sample":
    samples = sample_labels()
    record = st.selectbox("Sample", list(samples), format_func=samples.get)
    analysis, key = analyse_sample(record), record
else:
    uploads = st.file_uploader(
        f"One record: .hea with its .dat or .mat, optionally .atr beat annotations (at most {MAX_UPLOAD_MB} MB)",
        type=list(ECG_UPLOAD_TYPES), accept_multiple_files=True, max_upload_size=MAX_UPLOAD_MB,
    )  # fmt: skip
    if not uploads:
        st.info(
            "Upload the files of one WFDB record, e.g. `100.hea`, `100.dat` and `100.atr` from PhysioNet's MIT-BIH database."
        )
        st.stop()
    files = [(f.name, f.getvalue()) for f in uploads]
    analysis = analyse_upload(files)
    key = hashlib.sha256(b"".join(n.encode() + hashlib.sha256(c).digest() for n, c in files)).hexdigest()
if analysis is None:
    st.stop()

rec = analysis.record
st.markdown(f"**Record {rec.record_id}**: {rec.duration_s:.1f} s, leads {', '.join(rec.leads)}, "
            f"{rec.fs_original:g} Hz (shown band-passed at {rec.fs:g} Hz).")  # fmt: skip
for note in analysis.notes:
    st.warning(note)
for line in analysis.info:
    st.info(line)

left, middle, right = st.columns([1, 3, 2])
span = left.selectbox("Window (s)", [5, 10, 20, 30, 60], index=1)
last_start = max(0.0, float(np.floor(rec.duration_s - span)))
start = middle.slider("Start (s)", 0.0, last_start, 0.0, step=1.0) if last_start > 0 else 0.0
lead_names = [f"{i}: {name}" for i, name in enumerate(rec.leads)]
chosen = right.multiselect("Leads", lead_names, default=lead_names[:3]) or lead_names[:1]
st.plotly_chart(signal_figure(analysis, [lead_names.index(c) for c in chosen], start, span), key="signal")

show_beats(analysis, analyser)
st.plotly_chart(timeline_figure(analysis, start, span), key="timeline")
st.markdown(f"**Class probabilities of the beats from {start:g} s to {start + span:g} s**")
st.plotly_chart(proba_figure(analysis, start, span), key="proba")
st.dataframe(beat_table(analysis, start, start + span), hide_index=True)
st.download_button(
    "Download all beats (CSV)",
    beat_table(analysis, 0, np.inf).to_csv(index=False),
    f"{rec.record_id}_beats.csv",
    "text/csv",
)
show_rhythm(analysis)
show_map(analysis, key)
show_model_card(analyser)
