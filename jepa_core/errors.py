"""The one exception type that readers and loaders raise for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class InputError(ValueError):
    """A file or record that cannot be used, with the file and the problem named.

    Every reader in the suite raises this (never a raw library traceback), so the CLI
    and the app can report ``str(err)`` to a user as it is.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def require_finite(path: str | Path, values, what: str = "embedding") -> None:
    """Raise :class:`InputError` if ``values`` (array-like) hold NaN or inf: the last guard between a model's
    output and a user, for inputs whose values the readers passed but the encoder cannot take (its squares
    overflow float32)."""
    if not np.isfinite(np.asarray(values)).all():
        raise InputError(
            path, f"NaN or inf in the model's {what} for this input: its values are beyond what the model can take"
        )
