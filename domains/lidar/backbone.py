"""Sparse 3-D backbone (VoxelBackBone8x-like, small) collapsing height into a BEV token map.

spconv's default conv algorithm needs CUDA; on CPU every conv must use ``ConvAlgo.Native``. The
algorithm is chosen from the input's device at each forward, so one module runs on both.
"""

from __future__ import annotations

import warnings

import torch
from einops import rearrange
from torch import nn

from domains.lidar.voxel import VoxelGrid

with warnings.catch_warnings():  # spconv 2.3.6 uses deprecated torch.cuda.amp decorators
    warnings.simplefilter("ignore", FutureWarning)
    import spconv.pytorch as spconv


def sparse_block(c_in: int, c_out: int, *, stride: int = 1, key: str | None = None) -> spconv.SparseSequential:
    """Conv (submanifold when stride 1, else strided sparse) + BatchNorm + ReLU."""
    if stride == 1:
        conv = spconv.SubMConv3d(c_in, c_out, 3, padding=1, bias=False, indice_key=key)
    else:
        conv = spconv.SparseConv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False, indice_key=key)
    return spconv.SparseSequential(conv, nn.BatchNorm1d(c_out, eps=1e-3, momentum=0.01), nn.ReLU())


def set_conv_algo(module: nn.Module, device: torch.device) -> None:
    """Native on CPU (the only one that works there), spconv's default implicit GEMM on CUDA."""
    algo = spconv.ConvAlgo.Native if device.type != "cuda" else spconv.ConvAlgo.MaskImplicitGemm
    for m in module.modules():
        if isinstance(m, spconv.conv.SparseConvolution) and m.algo != algo:
            m.algo = algo


class SparseBEVBackbone(nn.Module):
    """Four stages: input (stride 1), then three stride-2 stages (x, y and z halved), i.e. BEV stride 8.

    Output: the dense ``(B, C, Z', Y/8, X/8)`` volume with height folded into channels and a 1x1 conv
    to ``embed_dim`` (OpenPCDet's HeightCompression + a projection).
    """

    stride = 8

    def __init__(self, *, grid: VoxelGrid, in_channels: int, channels: tuple[int, ...], embed_dim: int) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"channels needs 4 stage widths, got {list(channels)}")
        grid.check_stride(self.stride)
        self.grid = grid
        nx, ny, nz = grid.shape_xyz
        self.sparse_shape = [nz, ny, nx]
        c0, c1, c2, c3 = channels
        self.stages = spconv.SparseSequential(
            sparse_block(in_channels, c0, key="subm1"),
            sparse_block(c0, c0, key="subm1"),
            sparse_block(c0, c1, stride=2, key="down2"),
            sparse_block(c1, c1, key="subm2"),
            sparse_block(c1, c2, stride=2, key="down3"),
            sparse_block(c2, c2, key="subm3"),
            sparse_block(c2, c3, stride=2, key="down4"),
            sparse_block(c3, c3, key="subm4"),
        )
        depth = nz
        for _ in range(3):
            depth = (depth - 1) // 2 + 1  # k=3, s=2, p=1
        self.out_depth = depth
        self.project = nn.Conv2d(c3 * depth, embed_dim, 1)

    @property
    def bev_shape(self) -> tuple[int, int]:
        """(H, W) = (Y / 8, X / 8): rows along y (left), columns along x (forward)."""
        nx, ny, _ = self.grid.shape_xyz
        return ny // self.stride, nx // self.stride

    def forward(self, feats: torch.Tensor, indices: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Shape: feats (V, C), indices (V, 4) int32 (b, z, y, x) -> bev (B, H, W, D), active (B, H, W) bool."""
        set_conv_algo(self, feats.device)
        # spconv has no bfloat16 kernels: the sparse stages run in float32 even under autocast (bf16-mixed).
        with torch.autocast(device_type=feats.device.type, enabled=False):
            x = spconv.SparseConvTensor(feats.float(), indices.int(), self.sparse_shape, batch_size)
            out = self.stages(x)
        with warnings.catch_warnings():  # spconv's dense() indexes with a list (a torch deprecation warning)
            warnings.simplefilter("ignore", UserWarning)
            dense = rearrange(out.dense(), "b c z y x -> b (c z) y x")
        bev = rearrange(self.project(dense), "b d h w -> b h w d")
        active = torch.zeros(batch_size, *self.bev_shape, dtype=torch.bool, device=feats.device)
        idx = out.indices.long()
        active[idx[:, 0], idx[:, 2], idx[:, 3]] = True
        return bev, active
