"""Atomic, safely loadable checkpoints and the encoder-only export."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from jepa_core.errors import InputError


def atomic_write(path: str | Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` then rename over ``path``: a crash never leaves a half file there.

    The temporary file is ``.<name>.<random>.tmp`` beside ``path``; an exception removes it, a kill
    leaves it behind for :func:`remove_partial_writes`. ``path`` is either the old or the new file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
        fsync_dir(path.parent)  # the rename itself survives a power cut
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def fsync_dir(directory: str | Path) -> None:
    """Make renames and deletions in ``directory`` durable (POSIX); a no-op where directories cannot be
    opened or synced (Windows, some network file systems)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_partial_writes(path: str | Path) -> list[Path]:
    """Delete the temporary files that interrupted :func:`atomic_write` calls for ``path`` left; returns them."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write a training checkpoint (plain tensors, dicts and scalars only) atomically."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``: pickled code is refused, not run."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise InputError(
            path, f"not a loadable checkpoint ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_encoder(model_dir: str | Path, encoder: torch.nn.Module, card: dict) -> Path:
    """Write ``encoder.safetensors`` and ``model_card.json`` (+ ``MODEL_CARD.md``) into ``model_dir``."""
    model_dir = Path(model_dir)
    weights = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    atomic_write(model_dir / "encoder.safetensors", lambda tmp: save_file(weights, tmp))
    card = dict(card, encoder_sha256=file_sha256(model_dir / "encoder.safetensors"))
    write_card(model_dir, card)
    return model_dir


def write_card(model_dir: str | Path, card: dict) -> None:
    model_dir = Path(model_dir)
    text = json.dumps(card, indent=2, sort_keys=False, default=str)
    atomic_write(model_dir / "model_card.json", lambda tmp: Path(tmp).write_text(text + "\n"))
    atomic_write(model_dir / "MODEL_CARD.md", lambda tmp: Path(tmp).write_text(render_card(card)))


def read_card(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "model_card.json"
    if not path.is_file():
        raise InputError(path, "model card not found (is this a model directory written by pretrain.py?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(path, f"model card is not valid JSON ({err})") from None


def load_encoder_weights(model_dir: str | Path) -> dict[str, torch.Tensor]:
    path = Path(model_dir) / "encoder.safetensors"
    if not path.is_file():
        raise InputError(path, "encoder weights not found")
    try:
        return load_file(path)
    except Exception as err:  # noqa: BLE001
        raise InputError(path, f"not a safetensors file ({err})") from None


def render_card(card: dict) -> str:
    """Markdown view of the model card."""
    lines = [f"# {card.get('name', 'JEPA encoder')}", "", card.get("summary", ""), ""]
    for key in ("domain", "encoder_used_downstream", "pooling", "trained_steps", "training_command"):
        if key in card:
            lines.append(f"- **{key.replace('_', ' ')}**: `{card[key]}`")
    for section in ("input_spec", "training_data", "metrics", "probe_metrics"):
        if card.get(section):
            lines += [
                "",
                f"## {section.replace('_', ' ').capitalize()}",
                "",
                "```json",
                json.dumps(card[section], indent=2),
                "```",
            ]
    if card.get("notes"):
        lines += ["", "## Notes", "", card["notes"]]
    return "\n".join(lines) + "\n"
