"""Labelled EEG tasks and their subject-wise splits.

- ``eegmat-rest-vs-task``: PhysioNet "EEG During Mental Arithmetic Tasks": ``SubjectNN_1`` is rest
  before the task, ``SubjectNN_2`` is serial subtraction. Windows take their recording's label.
- ``eegmmidb-motor``: PhysioNet EEG Motor Movement/Imagery EDF+ runs; one window per annotation
  (T0 rest, T1 and T2 the two fists), starting at the annotation onset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from domains.eeg.io import find_recordings, subject_id
from jepa_core.errors import InputError

EEGMAT_CLASSES = ("rest", "task")
MOTOR_CLASSES = ("T0", "T1", "T2")
_EEGMAT_NAME = re.compile(r"^Subject(\d+)_([12])$", re.IGNORECASE)


@dataclass(frozen=True)
class LabelledRecording:
    path: Path
    subject: int
    label: str | None  # recording-level label; None when labels come from annotations


def eegmat_recordings(data_dir: str | Path) -> list[LabelledRecording]:
    """``SubjectNN_1`` / ``SubjectNN_2`` EDFs with their rest/task label; other files are ignored."""
    out = []
    for path in find_recordings(data_dir):
        match = _EEGMAT_NAME.match(path.name.split(".")[0])
        if match:
            out.append(LabelledRecording(path, int(match.group(1)), EEGMAT_CLASSES[int(match.group(2)) - 1]))
    if not out:
        raise InputError(data_dir, "no SubjectNN_1/SubjectNN_2 EDF files (eegmat naming) here")
    return out


def motor_recordings(data_dir: str | Path) -> list[LabelledRecording]:
    """Every EDF+ run in ``data_dir``; window labels come from its T0/T1/T2 annotations."""
    out = []
    for path in find_recordings(data_dir):
        subject = subject_id(path)
        out.append(LabelledRecording(path, -1 if subject is None else subject, None))
    return out


@dataclass(frozen=True)
class Split:
    train_subjects: tuple[int, ...]
    test_subjects: tuple[int, ...]


def subject_splits(
    subjects: Sequence[int],
    *,
    train: Sequence[int] | None = None,
    test: Sequence[int] | None = None,
    seen_in_pretraining: Sequence[int] = (),
    folds: int = 5,
) -> tuple[list[Split], str]:
    """Leave-subjects-out splits, and a sentence saying how they were chosen.

    - ``train`` and ``test`` given: that one split (overlap is an error).
    - Otherwise, when the encoder saw some of these subjects in pretraining and not others:
      train on the seen ones, test on the unseen ones, so no test subject ever reached the encoder.
    - Otherwise: GroupKFold by subject (``folds`` folds, at most one per subject).
    """
    present = sorted(set(int(s) for s in subjects))
    if train is not None or test is not None:
        if train is None or test is None:
            raise ValueError("give both --train-subjects and --test-subjects, or neither")
        train, test = sorted(set(train)), sorted(set(test))
        if set(train) & set(test):
            raise ValueError(f"subjects on both sides of the split: {sorted(set(train) & set(test))}")
        missing = sorted((set(train) | set(test)) - set(present))
        if missing:
            raise ValueError(f"subjects {missing} have no recording in the data")
        return [Split(tuple(train), tuple(test))], "pinned by --train-subjects/--test-subjects"
    seen = sorted(set(present) & set(seen_in_pretraining))
    unseen = sorted(set(present) - set(seen))
    if seen and unseen:
        return [
            Split(tuple(seen), tuple(unseen))
        ], "train on subjects seen (unlabelled) in pretraining, test on the unseen"
    if len(present) < 2:
        raise ValueError(f"leave-subjects-out needs at least 2 subjects, found {present}")
    k = min(folds, len(present))
    groups = np.array(present)
    splits = [
        Split(tuple(groups[tr].tolist()), tuple(groups[te].tolist()))
        for tr, te in GroupKFold(n_splits=k).split(groups, groups=groups)
    ]
    return splits, f"GroupKFold by subject, {k} folds"


def time_blocked_folds(n: int, folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous blocks of events in time order (no shuffling), for a single run."""
    return list(KFold(n_splits=min(folds, n)).split(np.arange(n)))
