"""Property-based checks: domain mask samplers on random grids and ratios; readers on random bytes and cuts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.lidar.model import BEVCellMask
from domains.sar.masking import LocalWindowMask
from jepa_core.errors import InputError
from jepa_core.masking import MaskMixture, MultiBlockMask

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid(masks, n_tokens: int, batch: int) -> None:
    assert masks.context.shape[0] == masks.target.shape[0] == batch
    assert masks.context.shape[1] >= 1 and masks.target.shape[1] >= 1
    for idx in (masks.context, masks.target):
        assert idx.dtype == torch.long and int(idx.min()) >= 0 and int(idx.max()) < n_tokens
    for ctx, tgt in zip(masks.context.tolist(), masks.target.tolist(), strict=True):
        assert not set(ctx) & set(tgt)
        assert ctx == sorted(set(ctx)) and tgt == sorted(set(tgt))


@FAST
@given(h=st.integers(1, 16), w=st.integers(1, 16), window=st.integers(1, 8), n_windows=st.integers(1, 6),
       ratio=st.floats(0.05, 0.95), batch=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))  # fmt: skip
def test_sar_local_window_mask_always_valid(h, w, window, n_windows, ratio, batch, seed):
    if min(window, h, w) == 1 and n_windows >= h * w:  # every patch would be a target: refused when built
        with pytest.raises(ValueError):
            LocalWindowMask((h, w), window=window, n_windows=n_windows, ratio=ratio)
        return
    sampler = LocalWindowMask((h, w), window=window, n_windows=n_windows, ratio=ratio)
    _valid(sampler(batch, torch.Generator().manual_seed(seed)), h * w, batch)


def test_sar_local_window_mask_refuses_windows_that_would_leave_no_context():
    """A window clipped to 1 patch is all target, so ``n_windows`` >= the number of patches is refused."""
    with pytest.raises(ValueError, match="would mask every patch"):
        LocalWindowMask((1, 2), window=1, n_windows=2)
    _valid(LocalWindowMask((1, 2), window=1, n_windows=1)(3, torch.Generator().manual_seed(0)), 2, 3)


@FAST
@given(h=st.integers(1, 24), w=st.integers(1, 24), ratio=st.floats(0.01, 0.99), batch=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1))  # fmt: skip
def test_lidar_bev_cell_mask_always_valid(h, w, ratio, batch, seed):
    if h * w < 2:
        with pytest.raises(ValueError):
            BEVCellMask((h, w), target_ratio=ratio)
        return
    masks = BEVCellMask((h, w), target_ratio=ratio)(batch, torch.Generator().manual_seed(seed))
    _valid(masks, h * w, batch)
    assert masks.context.shape[1] + masks.target.shape[1] == h * w


@FAST
@given(grid=st.tuples(st.integers(1, 8), st.integers(2, 19), st.integers(1, 8)), short=st.integers(1, 8),
       short_scale=st.floats(0.05, 0.3), long_scale=st.floats(0.3, 0.8), t_low=st.floats(0.1, 1.0),
       batch=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))  # fmt: skip
def test_eeg_tube_mask_mixture_always_valid(grid, short, short_scale, long_scale, t_low, batch, seed):
    """The EEG domain's sampler: short- and long-range tube masks (V-JEPA), as built in domains/eeg/domain.py."""
    common = dict(context_scale=(1.0, 1.0), temporal_scale=(t_low, 1.0), min_context=2)
    samplers = [MultiBlockMask(grid, n_targets=short, target_scale=(short_scale,) * 2, **common),
                MultiBlockMask(grid, n_targets=2, target_scale=(long_scale,) * 2, **common)]  # fmt: skip
    mixture = MaskMixture(samplers)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(3):  # both members get drawn
        _valid(mixture(batch, generator), int(np.prod(grid)), batch)


def test_eeg_domain_mask_sampler_uses_tubes_on_its_grid():
    from domains.eeg.domain import DOMAIN
    from jepa_core.config import load_config

    cfg = load_config(DOMAIN.config_cls, None, [])
    grid = DOMAIN.build_tokenizer(cfg).grid_for(tuple(DOMAIN.sample_shape(cfg)))
    sampler = DOMAIN.mask_sampler(cfg, grid)
    assert isinstance(sampler, MaskMixture)
    _valid(sampler(4, torch.Generator().manual_seed(0)), int(np.prod(grid)), 4)


# ----------------------------------------------------------------------------- readers on random input


def _read(domain: str, path: Path) -> None:
    if domain == "ecg":
        from domains.ecg.io import read_record as read
    elif domain == "eeg":
        from domains.eeg.io import read_eeg as read
    elif domain == "sar":
        from domains.sar.io import read_sar as read
    else:
        from domains.lidar.io import read_points as read
    try:
        out = read(path)
    except InputError as err:
        assert path.name.split(".")[0] in str(err)
        return
    values = np.asarray(getattr(out, "signal", getattr(out, "intensity", out)))
    assert values.size and np.isfinite(values).all()


REAL = {
    "ecg": (SAMPLES / "ecg" / "A00002.mat", "A00002.mat"),
    "eeg": (SAMPLES / "eeg" / "Subject09_1.edf", "cut.edf"),
    "sar": (SAMPLES / "sar" / "opensarship" / "Cargo_x10661_y11170.tif", "cut.tif"),
    "lidar": (SAMPLES / "lidar" / "kitti_tracking" / "training" / "velodyne_fov" / "000000.bin", "cut.bin"),
}


def _workdir(domain: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="jepa-prop-"))
    if domain == "ecg":
        shutil.copy(SAMPLES / "ecg" / "A00002.hea", folder / "A00002.hea")
    return folder


@pytest.mark.parametrize("domain", list(REAL))
@settings(max_examples=25, deadline=None)
@given(fraction=st.floats(0.0, 1.0))
def test_readers_on_real_files_cut_anywhere(domain, fraction):
    src, name = REAL[domain]
    content = src.read_bytes()
    folder = _workdir(domain)
    try:
        (folder / name).write_bytes(content[: int(len(content) * fraction)])
        _read(domain, folder / ("A00002.hea" if domain == "ecg" else name))
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("domain", list(REAL))
@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=4096), keep_header=st.booleans())
def test_readers_on_random_bytes(domain, data, keep_header):
    """Random bytes, alone or after the real file's first 256 bytes (a plausible header)."""
    src, name = REAL[domain]
    folder = _workdir(domain)
    try:
        (folder / name).write_bytes((src.read_bytes()[:256] if keep_header else b"") + data)
        _read(domain, folder / ("A00002.hea" if domain == "ecg" else name))
    finally:
        shutil.rmtree(folder)
