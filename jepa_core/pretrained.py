"""Load a trained encoder from a model directory, a run directory or a training checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from jepa_core.checkpoint import file_sha256, load_checkpoint, load_encoder_weights, read_card
from jepa_core.config import from_plain
from jepa_core.domain import Domain, get_domain
from jepa_core.errors import InputError
from jepa_core.models.encoder import TokenEncoder


@dataclass
class Pretrained:
    domain: Domain
    cfg: DictConfig
    encoder: TokenEncoder  # in eval mode, on CPU
    card: dict
    sha256: str  # hash of the weights file, written into every exported row


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_pretrained(path: str | Path, *, domain: str | None = None) -> Pretrained:
    """``path``: a model dir (``encoder.safetensors`` + ``model_card.json``), a run dir holding
    ``encoder/``, or a ``checkpoints/*.pt`` training checkpoint (its EMA target encoder is used)."""
    path = Path(path)
    if path.is_dir() and (path / "encoder" / "model_card.json").is_file():
        path = path / "encoder"
    if path.is_dir():
        card = read_card(path)
        state, sha = load_encoder_weights(path), card.get("encoder_sha256") or file_sha256(path / "encoder.safetensors")
        config = card.get("config")
    elif path.is_file():
        ckpt = load_checkpoint(path)
        config = ckpt["config"]
        state = _strip(ckpt["model"], "target_encoder.") or _strip(ckpt["model"], "encoder.")
        card, sha = (
            {"domain": config["domain"], "config": config, "encoder_used_downstream": "ema_target"},
            file_sha256(path),
        )
    else:
        raise InputError(path, "no model directory or checkpoint here")
    if not isinstance(config, dict):
        raise InputError(path, "model card or checkpoint has no 'config' section")
    name = domain or card.get("domain") or config.get("domain")
    if domain and card.get("domain") not in (None, domain):
        raise InputError(path, f"this model is for domain {card.get('domain')!r}, not {domain!r}")
    try:
        dom = get_domain(name)
        cfg = from_plain(dom.config_cls, config)
        encoder = dom.build_encoder(cfg)
    except (ValueError, OmegaConfBaseException) as err:
        raise InputError(path, f"cannot rebuild the model from its config ({str(err).splitlines()[0]})") from None
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise InputError(
            path, f"weights do not match the architecture in its config ({str(err).splitlines()[0]})"
        ) from None
    return Pretrained(domain=dom, cfg=cfg, encoder=encoder.eval(), card=card, sha256=sha)


def random_encoder(pretrained: Pretrained, seed: int) -> TokenEncoder:
    """Same architecture, random initialisation (the random-init baseline)."""
    torch.manual_seed(seed)
    return pretrained.domain.build_encoder(pretrained.cfg).eval()
