"""``jepa-export`` on folders holding only broken files: a summary naming each, exit code 1, no traceback, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jepa_core import export_cli
from tests.hardening.corpus import DOMAINS, build

REPO = Path(__file__).resolve().parents[2]


def _listed(domain: str, folder: Path) -> list[Path]:
    """The files the domain finds in ``folder`` (what export will try to read)."""
    if domain == "ecg":
        from domains.ecg.io import find_records

        return [p.with_name(p.name + ".hea") for p in find_records(folder)]
    if domain == "eeg":
        from domains.eeg.io import find_recordings

        return find_recordings(folder)
    if domain == "sar":
        from domains.sar.io import find_images

        return find_images(folder)
    from domains.lidar.io import find_clouds

    return find_clouds(folder)


def _check_outcome(domain: str, folder: Path, out: Path, code: int, stderr: str) -> None:
    listed = _listed(domain, folder)
    assert len(listed) >= 15, f"{domain}: only {len(listed)} broken files are found by the export"
    assert code == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert f"skipped {len(listed)} records" in stderr, stderr
    summary = stderr[stderr.index("skipped ") :]
    unnamed = [p.name for p in listed if p.name.split(".")[0] not in summary]
    assert not unnamed, f"not named in the summary: {unnamed}\n{summary}"
    assert "nothing exported" in stderr
    assert not out.exists() and not list(out.parent.glob("*.parquet*")), "an output was left behind"


@pytest.mark.parametrize("domain", DOMAINS)
def test_export_of_only_broken_files_fails_cleanly(domain: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    folder, out = tmp_path / "broken", tmp_path / "out" / "emb.parquet"
    out.parent.mkdir()
    build(domain, folder, export_errors_only=True)
    code = export_cli.main(["--domain", domain, "--input", str(folder), "--output", str(out), "--no-progress"])
    _check_outcome(domain, folder, out, code, capsys.readouterr().err)


def test_export_subprocess_ends_without_traceback(tmp_path: Path):
    """The real console entry point once (ECG): exit code and stderr as a user sees them."""
    folder, out = tmp_path / "broken", tmp_path / "out" / "emb.parquet"
    out.parent.mkdir()
    build("ecg", folder, export_errors_only=True)
    cmd = [sys.executable, "-m", "jepa_core.export_cli", "--domain", "ecg", "--input", str(folder),
           "--output", str(out), "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    _check_outcome("ecg", folder, out, proc.returncode, proc.stderr)
