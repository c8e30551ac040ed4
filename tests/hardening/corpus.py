"""Broken and hostile input files per domain, derived from the real bundled samples.

Each :class:`Case` is one input (a file, or a WFDB record of a header and its signal file) with the
outcome expected from the domain's reader, from the model read path (what ``jepa-export`` uses) and
from the app's analyser: a regular expression that the ``InputError`` message must match, or
``None`` where the input is valid but degenerate and reading it has a documented result.

    python -m tests.hardening.corpus --count        # cases per domain
    python -m tests.hardening.corpus --list ecg     # id, kind and expected problem of each case
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
DOMAINS = ("ecg", "eeg", "sar", "lidar")
SAME = "<same>"  # the model/app path expects what the previous level expects
GARBAGE_SEED = 20261124


@dataclass(frozen=True)
class Case:
    """One hostile input. ``problem``/``export``/``app``: regex of the expected ``InputError``, or None (reads)."""

    id: str
    path: Path
    kind: str
    problem: str | None
    export: str | None = SAME
    app: str | None = SAME
    checks: tuple[str, ...] = field(default=())  # documented properties of a successful read, by name

    @property
    def expect_export(self) -> str | None:
        return self.problem if self.export == SAME else self.export

    @property
    def expect_app(self) -> str | None:
        return self.expect_export if self.app == SAME else self.app

    @property
    def name(self) -> str:
        """What an error message must name: the file (or record) name without its extension."""
        return self.path.name.split(".")[0]


def garbage(n: int, seed: int = 0) -> bytes:
    """``n`` reproducible random bytes."""
    return np.random.default_rng(GARBAGE_SEED + seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def png_bytes() -> bytes:
    """A real PNG: a bundled MSTAR chip re-encoded."""
    from PIL import Image

    jpeg = next((SAMPLES / "sar" / "mstar").rglob("*.jpeg"))
    buf = io.BytesIO()
    Image.open(jpeg).save(buf, format="PNG")
    return buf.getvalue()


def sparse_file(path: Path, head: bytes, size: int) -> Path:
    """``head`` followed by a hole up to ``size`` bytes: a huge file that takes no disk space."""
    path.write_bytes(head)
    os.truncate(path, size)
    return path


def builder(domain: str) -> Callable[[Path], list[Case]]:
    """The ``build(root)`` of ``tests/hardening/corpus_<domain>.py``."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; one of {DOMAINS}")
    return importlib.import_module(f"tests.hardening.corpus_{domain}").build


def build(domain: str, root: str | Path, *, export_errors_only: bool = False) -> list[Case]:
    """Write the corpus of ``domain`` into ``root`` (created; one flat folder) and return its cases.

    ``export_errors_only`` keeps only the files that export must refuse (the others are not written
    or are removed), so that ``root`` holds nothing an export could use.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cases = builder(domain)(root)
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), f"duplicate case ids in {domain}"
    if export_errors_only:
        for case in cases:
            if case.expect_export is None:
                for p in root.glob(case.path.name.split(".")[0] + ".*"):
                    p.unlink() if p.is_file() else None
        cases = [c for c in cases if c.expect_export is not None]
    return cases


def count_cases(domains: Sequence[str] = DOMAINS) -> dict[str, int]:
    """Number of corpus cases per domain (built in a temporary folder, then removed)."""
    with tempfile.TemporaryDirectory(prefix="jepa-corpus-") as tmp:
        return {domain: len(build(domain, Path(tmp) / domain)) for domain in domains}


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", action="store_true", help="print the number of cases per domain")
    parser.add_argument("--list", nargs="*", choices=DOMAINS, help="list the cases of these domains (all if none)")
    args = parser.parse_args(argv)
    domains = args.list or DOMAINS
    with tempfile.TemporaryDirectory(prefix="jepa-corpus-") as tmp:
        counts = {}
        for domain in domains:
            cases = build(domain, Path(tmp) / domain)
            counts[domain] = len(cases)
            if args.list is not None:
                for c in cases:
                    print(f"{domain:6s} {c.id:28s} {c.kind:12s} {c.problem or 'reads (' + ', '.join(c.checks) + ')'}")
    if args.count or args.list is None:
        for domain, n in counts.items():
            print(f"{domain}: {n} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
