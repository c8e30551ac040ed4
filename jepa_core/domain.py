"""The contract a domain fills: data, tokenizer, masks, targets, model assembly, export windows.

A domain's ``pretrain.py`` loads its config, builds its :class:`Domain` and calls
:func:`jepa_core.train.train`; adding a modality means adding one folder under ``domains/``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from jepa_core.config import PretrainConfig
from jepa_core.layers.tokenizers import Tokenizer
from jepa_core.losses import LatentLoss, SIGReg, VarianceLoss
from jepa_core.masking import MaskSampler
from jepa_core.models.encoder import TokenEncoder
from jepa_core.models.jepa import JEPA
from jepa_core.models.predictor import Predictor


class Domain(ABC):
    """One modality. Subclasses set ``name`` and ``config_cls`` and implement the abstract methods."""

    name: str = ""
    config_cls: type[PretrainConfig] = PretrainConfig
    #: Pooling applied to encoder tokens for window embeddings (export, probes).
    pooling: str = "mean"

    @abstractmethod
    def sample_shape(self, cfg: DictConfig) -> tuple[int, ...]:
        """Shape of one model input ``x`` (no batch axis)."""

    @abstractmethod
    def build_tokenizer(self, cfg: DictConfig) -> Tokenizer:
        """The patch/tokenizer module for this modality."""

    @abstractmethod
    def pretrain_dataset(self, cfg: DictConfig) -> Dataset:
        """Unlabelled samples: items are dicts with ``"x"`` (a tensor of ``sample_shape``) and ids."""

    @abstractmethod
    def mask_sampler(self, cfg: DictConfig, grid: tuple[int, ...]) -> MaskSampler:
        """The masking strategy for this token grid."""

    @abstractmethod
    def iter_windows(self, source: Any, cfg: DictConfig) -> Iterator[dict]:
        """Export/inference windows from files: dicts with ``x``, ``record_id``, ``source`` (the file's path: ids
        need not be unique across folders), ``start``, ``start_s``, ``rate``.

        Unreadable inputs yield ``{"record_id": ..., "error": message}`` instead of raising, so that
        batch jobs can report them and go on.
        """

    def list_records(self, source: Any) -> list:
        """The records of one input item (folder, list file or record), each one ``iter_windows`` can read
        alone; a sharded export cuts this list into parts. Default: the item is one record. Raises
        ``InputError`` if the item cannot be listed."""
        return [source]

    @abstractmethod
    def input_spec(self, cfg: DictConfig) -> dict:
        """What a user must feed the encoder (rate, channels, window, normalisation), for the model card."""

    def target_fn(self, cfg: DictConfig) -> nn.Module | None:
        """Fixed feature targets (e.g. SAR gradients); ``None`` means latent EMA targets."""
        return None

    def target_dim(self, cfg: DictConfig) -> int | None:
        """Width of ``target_fn`` features per token; ``None`` for latent targets."""
        return None

    def build_encoder(self, cfg: DictConfig) -> TokenEncoder:
        m = cfg.model
        return TokenEncoder(
            tokenizer=self.build_tokenizer(cfg),
            depth=m.depth,
            num_heads=m.num_heads,
            mlp_ratio=m.mlp_ratio,
            drop_path=m.drop_path,
        )

    def build_model(self, cfg: DictConfig) -> JEPA:
        m, o = cfg.model, cfg.objective
        encoder = self.build_encoder(cfg)
        predictor = Predictor(
            embed_dim=m.embed_dim,
            pred_dim=m.pred_dim,
            depth=m.pred_depth,
            num_heads=m.pred_heads,
            out_dim=self.target_dim(cfg),
            mlp_ratio=m.mlp_ratio,
        )
        return JEPA(
            encoder=encoder,
            predictor=predictor,
            loss=LatentLoss(o.loss),
            use_ema=o.use_ema,
            target_fn=self.target_fn(cfg),
            sigreg=SIGReg(num_slices=o.sigreg_slices) if o.sigreg_weight > 0 else None,
            sigreg_weight=o.sigreg_weight,
            variance=VarianceLoss(o.variance_gamma) if o.variance_weight > 0 else None,
            variance_weight=o.variance_weight,
        )

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Window embedding from encoder tokens. Shape: (B, N, D) -> (B, D)."""
        if self.pooling != "mean":
            raise ValueError(f"unknown pooling {self.pooling!r}")
        return tokens.mean(dim=1)

    def default_model_dir(self) -> Path:
        """The bundled model of this domain (``models/<name>-tiny``)."""
        return Path(__file__).resolve().parent.parent / "models" / f"{self.name}-tiny"


def get_domain(name: str) -> Domain:
    """Import ``domains.<name>`` and return its ``DOMAIN`` instance (no static import of domains)."""
    try:
        module = importlib.import_module(f"domains.{name}.domain")
    except ModuleNotFoundError as err:
        raise ValueError(f"unknown domain {name!r} ({err})") from None
    return module.DOMAIN


def window_item(x: Any, record_id: str, source: Any, start: int, rate: float) -> dict:
    """One window as ``Domain.iter_windows`` yields it: ``start`` in samples at ``rate`` (per second)."""
    return {
        "x": x,
        "record_id": record_id,
        "source": str(source),
        "start": start,
        "start_s": start / rate,
        "rate": rate,
    }
