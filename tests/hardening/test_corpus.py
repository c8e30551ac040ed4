"""Every hostile input of the corpus, through each domain's reader, its export read path and its app analyser.

Each either raises ``InputError`` naming the file with the expected problem, or (valid but degenerate
inputs) reads with the documented result. No other exception may escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jepa_core.errors import InputError
from tests.hardening.corpus import DOMAINS, Case, build

REPO = Path(__file__).resolve().parents[2]
MIN_CASES = 20


@pytest.fixture(scope="module", params=DOMAINS)
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Case]]:
    domain = request.param
    return domain, build(domain, tmp_path_factory.mktemp(f"corpus-{domain}"))


def _reader(domain: str) -> Callable[[Path], object]:
    if domain == "ecg":
        from domains.ecg.io import read_record

        return read_record
    if domain == "eeg":
        from domains.eeg.io import read_eeg

        return read_eeg
    if domain == "sar":
        from domains.sar.io import read_sar

        return read_sar
    from domains.lidar.io import read_points

    return read_points


def _values(result: object) -> np.ndarray:
    for attr in ("signal", "intensity", "x"):
        if hasattr(result, attr):
            return np.asarray(getattr(result, attr))
    return np.asarray(result)


def _check(case: Case, expected: str | None, run: Callable[[], object], where: str) -> str | None:
    """Run one read; return a description of what went wrong, or None."""
    try:
        result = run()
    except InputError as err:
        if expected is None:
            return f"{where}: documented to read, raised InputError: {err}"
        if case.name not in str(err):
            return f"{where}: message does not name {case.name!r}: {err}"
        if not re.search(expected, str(err)):
            return f"{where}: message {str(err)!r} does not match {expected!r}"
        return None
    except Exception as err:  # noqa: BLE001 - the point of the test: name any other exception
        return f"{where}: leaked {type(err).__name__}: {err}"
    if expected is not None:
        return f"{where}: expected InputError matching {expected!r}, got a result"
    values = _values(result)
    if values.size == 0 or not np.isfinite(values).all():
        return f"{where}: read, but the result is empty or not finite"
    if "zero" in case.checks and where == "reader" and np.abs(values).max() != 0:
        return f"{where}: documented to read as all zeros"
    return None


def test_corpus_is_large_and_covers_every_kind(corpus):
    domain, cases = corpus
    kinds = {c.kind for c in cases}
    assert len(cases) >= MIN_CASES, f"{domain}: {len(cases)} cases"
    assert {"truncated", "empty", "wrong-ext", "garbage", "huge", "directory", "unicode"} <= kinds, kinds
    assert {"nonfinite", "zero"} & kinds and {"header", "dtype", "nodata", "range", "rate"} & kinds


def test_reader_raises_input_error_or_reads_as_documented(corpus):
    domain, cases = corpus
    read = _reader(domain)
    problems = [_check(c, c.problem, lambda c=c: read(c.path), "reader") for c in cases]
    problems = [f"{c.id}: {p}" for c, p in zip(cases, problems, strict=True) if p]
    assert not problems, "\n".join(problems)


def test_export_read_path_reports_every_bad_file(corpus):
    """``iter_windows`` (what jepa-export reads with) yields an error naming the file, or finite windows."""
    from jepa_core.pretrained import load_pretrained

    domain, cases = corpus
    pre = load_pretrained(REPO / "models" / f"{domain}-tiny", domain=domain)

    def windows(case: Case) -> object:
        items = list(pre.domain.iter_windows(str(case.path), pre.cfg))
        errors = [item["error"] for item in items if "error" in item]
        if errors:
            raise InputError(case.path, " / ".join(errors))  # already names the file; re-raised to share _check
        assert items, "no window and no error"
        assert all(Path(item["source"]).name.startswith(case.path.stem) for item in items), "windows without the file"
        return np.stack([np.asarray(item["x"]) for item in items])

    problems = [_check(c, c.expect_export, lambda c=c: windows(c), "export") for c in cases]
    problems = [f"{c.id}: {p}" for c, p in zip(cases, problems, strict=True) if p]
    assert not problems, "\n".join(problems)


def _analyser(domain: str) -> Callable[[Path], object]:
    model = REPO / "models" / f"{domain}-tiny"
    if domain == "ecg":
        from domains.ecg.inference import EcgAnalyser

        return EcgAnalyser(model).analyse
    if domain == "eeg":
        from domains.eeg.inference import EegAnalyser

        return EegAnalyser(model).analyse
    if domain == "sar":
        from domains.sar.inference import SarAnalyser

        return SarAnalyser(model).analyse
    from domains.lidar.inference import analyse_file, load_model

    lidar = load_model(model)
    return lambda path: analyse_file(lidar, path)


def test_app_analyser_shows_a_message_or_analyses(corpus):
    domain, cases = corpus
    analyse = _analyser(domain)

    def run(case: Case) -> object:
        result = analyse(case.path)
        return getattr(result, "embedding", None) if domain in ("sar", "lidar") else result.window_emb

    problems = [_check(c, c.expect_app, lambda c=c: run(c), "app") for c in cases]
    problems = [f"{c.id}: {p}" for c, p in zip(cases, problems, strict=True) if p]
    assert not problems, "\n".join(problems)
