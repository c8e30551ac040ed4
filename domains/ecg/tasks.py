"""Labelled downstream ECG tasks: MIT-BIH beat classes (AAMI) and CinC 2017 rhythm labels.

- Beats: AAMI N/S/V/F, inter-patient split of de Chazal et al. (2004): train on DS1, test on DS2.
- Rhythm: CinC 2017 record labels N/A/O/~, stratified record-wise K-fold cross-validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from domains.ecg.io import read_annotations
from jepa_core.errors import InputError

# Q (unclassifiable / paced-fusion) is left out: only 4 such beats occur in our 20 records,
# too few to train or score, and most AAMI-protocol papers drop it too.
AAMI_CLASSES = ("N", "S", "V", "F")

AAMI_MAP: dict[str, str] = {
    **dict.fromkeys(("N", "L", "R", "e", "j"), "N"),
    **dict.fromkeys(("A", "a", "J", "S"), "S"),
    **dict.fromkeys(("V", "E"), "V"),
    "F": "F",
    **dict.fromkeys(("/", "f", "Q"), "Q"),
}

# de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7), 2004. The paced records 102, 104, 107 and
# 217 are in neither set, as in the paper.
DS1 = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
DS2 = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip

CINC_CLASSES = ("N", "A", "O", "~")


@dataclass
class Beats:
    """Annotated beats of one record.

    ``samples`` are R-peak indices (int64) at the resampled rate; ``labels`` the AAMI class
    of each beat, same length.
    """

    record_id: str
    samples: np.ndarray
    labels: np.ndarray


def default_mitdb_split(data_dir: str | Path) -> tuple[list[str], list[str]]:
    """The DS1 (train) and DS2 (test) record ids that have a ``.hea`` file in ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(data_dir, "not a directory")
    present = {p.stem for p in data_dir.glob("*.hea")}
    train, test = sorted(present.intersection(DS1)), sorted(present.intersection(DS2))
    if not train and not test:
        raise InputError(data_dir, "holds no MIT-BIH record of the DS1/DS2 split")
    return train, test


def load_beats(
    record_path: str | Path,
    *,
    fs: float = 250.0,
    classes: Sequence[str] = AAMI_CLASSES,
) -> Beats:
    """Beat positions (at ``fs``) and AAMI labels from a record's ``.atr`` annotations.

    Non-beat annotations (rhythm ``+``, noise ``~``, ``|``, ``x``, comments ``"`` ...) and beats
    whose AAMI class is not in ``classes`` (by default Q) are dropped. Beats near the record
    ends are kept; feature extractors pad the signal.
    """
    samples, symbols, _ = read_annotations(record_path, extension="atr", fs=fs)
    aami = np.array([AAMI_MAP.get(str(s), "") for s in symbols], dtype="<U1")
    keep = np.isin(aami, np.asarray(classes, dtype="<U1"))
    return Beats(
        record_id=Path(record_path).name,
        samples=np.asarray(samples, dtype=np.int64)[keep],
        labels=aami[keep],
    )


def load_cinc_labels(data_dir: str | Path, *, reference: str = "REFERENCE.csv") -> dict[str, str]:
    """Record id -> label from a CinC 2017 ``REFERENCE.csv`` (``record,label`` lines, no header).

    Raises InputError if the file is missing or empty, a line does not have two fields, a
    label is not one of N/A/O/~, or a record appears twice.
    """
    path = Path(data_dir) / reference
    if not path.is_file():
        raise InputError(path, "reference file not found")
    labels: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 2 or not fields[0]:
            raise InputError(path, f"line {lineno}: expected 'record,label', got {line!r}")
        record, label = fields
        if label not in CINC_CLASSES:
            raise InputError(path, f"line {lineno}: label {label!r} is not one of {CINC_CLASSES}")
        if record in labels:
            raise InputError(path, f"line {lineno}: record {record!r} listed twice")
        labels[record] = label
    if not labels:
        raise InputError(path, "no labelled records")
    return labels


def cinc_folds(
    record_ids: Sequence[str],
    labels: Mapping[str, str] | Sequence[str],
    *,
    n_folds: int = 5,
    seed: int = 0,
) -> list[tuple[list[str], list[str]]]:
    """Stratified (train_ids, test_ids) folds over whole records, never over windows.

    ``labels`` is either a record id -> label mapping or a sequence aligned with ``record_ids``.
    Every record lands in exactly one test fold.
    """
    ids = [str(r) for r in record_ids]
    if isinstance(labels, Mapping):
        missing = [r for r in ids if r not in labels]
        if missing:
            raise ValueError(f"no label for {len(missing)} records, e.g. {missing[:3]}")
        y = np.array([labels[r] for r in ids])
    else:
        y = np.asarray(labels)
        if len(y) != len(ids):
            raise ValueError(f"{len(ids)} record ids but {len(y)} labels")
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique")
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [([ids[i] for i in train], [ids[i] for i in test]) for train, test in splitter.split(np.zeros(len(ids)), y)]
