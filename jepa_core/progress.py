"""Progress bars that a command line can switch off in one place (``--no-progress``).

Library code calls :func:`progress` instead of ``tqdm`` so that batch jobs writing to a log file
get no bar updates (each one would be a line of the log); the training loop has its own switch
(``train.progress``).
"""

from __future__ import annotations

from tqdm.auto import tqdm

_enabled = True


def set_progress(enabled: bool) -> None:
    """Turn every :func:`progress` bar of this process on or off."""
    global _enabled
    _enabled = bool(enabled)


def progress(iterable=None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled when :func:`set_progress` switched bars off."""
    kwargs["disable"] = kwargs.get("disable", False) or not _enabled
    return tqdm(iterable, **kwargs)
