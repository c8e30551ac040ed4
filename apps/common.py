"""Helpers shared by the app's pages: model location and caching, uploads, error display."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from domains.ecg.inference import EcgAnalyser, EcgAnalysis, EmbeddingMap, uploaded_record
from jepa_core.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO_ROOT / "data" / "samples" / "ecg"
DEFAULT_ECG_MODEL = REPO_ROOT / "models" / "ecg-tiny"
ECG_MODEL_ENV = "JEPA_ECG_MODEL"
MAX_UPLOAD_MB = 50  # also server.maxUploadSize in .streamlit/config.toml
ECG_UPLOAD_TYPES = ("hea", "dat", "mat", "atr")

Upload = tuple[str, bytes]  # (file name as the browser sent it, content)


def ecg_model_dir() -> Path:
    """``$JEPA_ECG_MODEL`` if set, else ``models/ecg-tiny`` in the repository (independent of the cwd)."""
    return Path(os.environ.get(ECG_MODEL_ENV) or DEFAULT_ECG_MODEL).expanduser().resolve()


@st.cache_resource(show_spinner="Loading the ECG model ...")
def ecg_analyser(model_dir: str) -> EcgAnalyser:
    return EcgAnalyser(model_dir)


def load_ecg_analyser() -> EcgAnalyser | None:
    """The cached analyser, or None after showing why the model cannot be loaded."""
    try:
        return ecg_analyser(str(ecg_model_dir()))
    except InputError as err:
        st.error(
            f"The ECG model could not be loaded. {err}\n\nSet {ECG_MODEL_ENV} to a model directory to use another one."
        )
        return None


def sanitise_filename(name: str) -> str:
    """The base name with anything but letters, digits, '.', '-' and '_' replaced; never hidden or empty."""
    base = re.split(r"[\\/]", name or "")[-1]
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[:128]
    if not clean or clean.strip("_") == "":
        raise InputError(name or "<unnamed>", "not a usable file name")
    return clean


@contextmanager
def upload_dir(
    files: Sequence[Upload], *, max_bytes: int = MAX_UPLOAD_MB * 1024**2, root: str | Path | None = None
) -> Iterator[Path]:
    """Write uploaded files into a fresh temporary folder that is always removed afterwards.

    Errors raised inside the block name the uploaded file, not the temporary path.
    """
    total = sum(len(content) for _, content in files)
    if total > max_bytes:
        raise InputError("upload", f"{total / 1024**2:.1f} MB uploaded, the limit is {max_bytes / 1024**2:.0f} MB")
    names = [sanitise_filename(name) for name, _ in files]
    if len(set(names)) != len(names):
        raise InputError("upload", f"the same file name was uploaded twice: {sorted(names)}")
    folder = Path(tempfile.mkdtemp(prefix="jepa-upload-", dir=root))
    try:
        for name, (_, content) in zip(names, files, strict=True):
            (folder / name).write_bytes(content)
        yield folder
    except InputError as err:
        prefix = f"{folder}{os.sep}"
        raise InputError(err.path.replace(prefix, ""), err.problem.replace(prefix, "")) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _model_key(model_dir: str) -> str:
    """Changes when the model's files change, so cached analyses are not reused for new weights or probes."""
    files = sorted(p for p in Path(model_dir).rglob("*") if p.is_file())
    return hashlib.sha256(repr([(str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files]).encode()).hexdigest()


@st.cache_data(max_entries=8, show_spinner="Analysing the record ...")
def _analyse_sample(model_dir: str, model_key: str, record: str) -> EcgAnalysis:
    return ecg_analyser(model_dir).analyse(record)


@st.cache_data(max_entries=4, show_spinner="Analysing the uploaded record ...")
def _analyse_files(model_dir: str, model_key: str, files: tuple[Upload, ...], root: str | None) -> EcgAnalysis:
    with upload_dir(files, root=root) as folder:
        return ecg_analyser(model_dir).analyse(uploaded_record(folder))


def analyse_sample(record: str | Path) -> EcgAnalysis | None:
    """Analyse a record on disk (cached); show the error and return None if it is unusable."""
    model_dir = str(ecg_model_dir())
    try:
        return _analyse_sample(model_dir, _model_key(model_dir), str(record))
    except InputError as err:
        st.error(str(err))
        return None


def analyse_upload(files: Sequence[Upload], *, root: str | Path | None = None) -> EcgAnalysis | None:
    """Analyse uploaded WFDB files (cached by content); show the error and return None if they are unusable."""
    model_dir = str(ecg_model_dir())
    try:
        return _analyse_files(model_dir, _model_key(model_dir), tuple(files), None if root is None else str(root))
    except InputError as err:
        st.error(str(err))
        return None


@st.cache_data(max_entries=8, show_spinner="Projecting the embeddings ...")
def embedding_maps(model_dir: str, analysis_key: str, method: str, _analysis: EcgAnalysis) -> dict[str, EmbeddingMap]:
    """The analysis' maps for ``method`` ('pca' maps come with the analysis); ``analysis_key`` names it for the cache."""
    return _analysis.maps if method == "pca" else ecg_analyser(model_dir).maps(_analysis, method)
