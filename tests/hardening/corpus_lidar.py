"""LiDAR corpus: KITTI tracking scan 000000 cut, shifted, re-encoded (.npy/.pcd/.ply/.las) and patched."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from tests.hardening.corpus import SAMPLES, Case, garbage, png_bytes, sparse_file

SCAN = SAMPLES / "lidar" / "kitti_tracking" / "training" / "velodyne_fov" / "000000.bin"
OUTSIDE = "outside point_cloud_range"
LAS_GARBAGE = "not a readable LAS file"  # the random header fails the signature-version checks


def _points() -> np.ndarray:
    return np.fromfile(SCAN, dtype=np.float32).reshape(-1, 4)


def _write(root: Path, name: str, content: bytes) -> Path:
    (root / name).write_bytes(content)
    return root / name


def _npy(root: Path, name: str, array: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return _write(root, name, buf.getvalue())


def _open3d(root: Path, name: str, points: np.ndarray) -> Path:
    from domains.lidar.io import write_points

    return write_points(root / name, points)


def _ascii_mesh(points: np.ndarray, faces: int, drop_vertex: bool = False) -> bytes:
    """An ASCII PLY mesh: x, y, z, intensity vertices, then triangles; ``drop_vertex`` leaves the last vertex row out."""
    head = (
        f"ply\nformat ascii 1.0\nelement vertex {len(points)}\nproperty float x\nproperty float y\n"
        f"property float z\nproperty float intensity\nelement face {faces}\n"
        "property list uchar int vertex_indices\nend_header\n"
    )
    rows = [" ".join(f"{v:.6g}" for v in p) for p in points[: len(points) - drop_vertex]]
    return (head + "\n".join(rows + ["3 0 1 2"] * faces) + "\n").encode()


def _las(root: Path, name: str, points: np.ndarray, keys: dict[int, int] | None = None) -> Path:
    from tests.domains.lidar.las_data import write_las

    return write_las(root / name, points[:, :3].astype(np.float64), intensity=points[:, 3] * 65535, keys=keys)


def _las_patch(path: Path, name: str, offset: int, value: bytes) -> Path:
    """A copy of ``path`` with ``value`` written at byte ``offset`` of its header."""
    content = bytearray(path.read_bytes())
    content[offset : offset + len(value)] = value
    return _write(path.parent, name, bytes(content))


def _patch(path: Path, out: Path, old: bytes, new: bytes) -> Path:
    content = path.read_bytes()
    head, sep, rest = content.partition(b"DATA" if path.suffix == ".pcd" else b"end_header")
    return _write(out.parent, out.name, head.replace(old, new) + sep + rest)


def build(root: Path) -> list[Case]:
    r = root
    pts = _points()
    n = len(pts)
    nan, inf = pts.copy(), pts.copy()
    nan[::7, 0] = np.nan
    inf[3, 2] = np.inf
    far = pts.copy()
    far[:, 0] += 1000.0
    pcd, ply = _open3d(r, "good.pcd", pts[:2000]), _open3d(r, "good.ply", pts[:2000])
    las = _las(r, "scan.las", pts[:2000])
    header_npy = _npy(r, "_tmp.npy", pts[:10]).read_bytes()
    (r / "_tmp.npy").unlink()
    huge_npy = header_npy.replace(b"(10, 4)", b"(100000000000, 4)")  # header length unchanged (padded)
    (r / "dir_scan.bin").mkdir()
    cases = [
        Case("empty-bin", _write(r, "empty.bin", b""), "empty", r"empty \(0 points\)"),
        Case("bin-not-16", _write(r, "cut_odd.bin", pts.tobytes()[:-5]), "truncated", "not a multiple of 16"),
        Case(
            "bin-cut-16", _write(r, "cut_half.bin", pts[: n // 2].tobytes()), "truncated", None, checks=("finite",)
        ),  # a cut at a point boundary is still a (partial) scan
        Case("nan-points", _write(r, "nan_points.bin", nan.tobytes()), "nonfinite", r"\d+ of \d+ points hold NaN"),
        Case("inf-point", _write(r, "inf_point.bin", inf.tobytes()), "nonfinite", r"1 of \d+ points hold NaN"),
        Case("all-outside", _write(r, "far_away.bin", far.tobytes()), "range", None, export=OUTSIDE),
        Case("all-zero", _write(r, "all_zero.bin", np.zeros_like(pts).tobytes()), "zero", None, checks=("finite",)),
        Case("one-point", _write(r, "one_point.bin", pts[:1].tobytes()), "tiny", None, checks=("finite",)),
        Case(
            "png-as-bin",
            _write(r, "png_named.bin", png_bytes()),
            "wrong-ext",
            r"not a multiple of 16|points hold NaN|outside",
        ),
        Case(
            "garbage-bin", _write(r, "garbage.bin", garbage(16 * 4000, seed=5)), "garbage", r"points hold NaN|outside"
        ),
        Case(
            "huge-bin",
            sparse_file(r / "huge.bin", pts.tobytes(), 200 * 1024**2),
            "huge",
            r"\(200 MB\) exceeds the memory budget",
        ),
        Case(
            "npy-object",
            _npy(r, "objects.npy", np.array([{"x": 1}, None], dtype=object)),
            "dtype",
            "not a readable .npy",
        ),
        Case("npy-strings", _npy(r, "strings.npy", np.array([["a", "b", "c"]] * 3)), "dtype", "not numeric"),
        Case("npy-bool", _npy(r, "bools.npy", pts > 0), "dtype", "not numeric"),
        Case(
            "npy-5-columns",
            _npy(r, "five_cols.npy", np.hstack([pts, pts[:, :1]])),
            "dtype",
            r"expected an \(N, 3\) or \(N, 4\) array",
        ),
        Case("npy-1d", _npy(r, "flat.npy", pts.reshape(-1)), "dtype", r"expected an \(N, 3\) or \(N, 4\) array"),
        Case(
            "npy-truncated",
            _write(r, "npy_cut.npy", _npy(r, "npy_cut.npy", pts).read_bytes()[:5000]),
            "truncated",
            "truncated",
        ),
        Case("npy-huge-header", _write(r, "npy_huge.npy", huge_npy), "huge", "exceeds the memory budget"),
        Case("npy-xyz", _npy(r, "xyz_only.npy", pts[:, :3].astype(np.float64)), "dtype", None, checks=("finite",)),
        Case(
            "pcd-truncated",
            _write(r, "pcd_cut.pcd", pcd.read_bytes()[: len(pcd.read_bytes()) // 2]),
            "truncated",
            "truncated",
        ),
        Case(
            "pcd-huge-header",
            _patch(pcd, r / "pcd_huge.pcd", b"2000", b"2000000000000"),
            "huge",
            "exceeds the memory budget",
        ),
        Case("pcd-no-points", _patch(pcd, r / "pcd_none.pcd", b"2000", b"0"), "empty", r"empty \(0 points\)"),
        Case("pcd-garbage", _write(r, "pcd_garbage.pcd", garbage(3000, seed=6)), "garbage", "not a PCD file"),
        Case(
            "ply-truncated",
            _write(r, "ply_cut.ply", ply.read_bytes()[: len(ply.read_bytes()) // 2]),
            "truncated",
            "truncated",
        ),
        Case(
            "ply-huge-header",
            _patch(ply, r / "ply_huge.ply", b"vertex 2000", b"vertex 2000000000000"),
            "huge",
            "exceeds the memory budget",
        ),
        Case("ply-nan", _open3d(r, "ply_nan.ply", nan[:2000]), "nonfinite", "points hold NaN"),
        Case(
            "ply-mesh-vertex-missing",  # open3d would take the first face (4 numbers) for the last vertex
            _write(r, "mesh_short.ply", _ascii_mesh(pts[:50], faces=5, drop_vertex=True)),
            "truncated",
            r"truncated: the header declares 55 lines .* the body holds 54",
        ),
        Case("ply-mesh", _write(r, "mesh.ply", _ascii_mesh(pts[:50], faces=5)), "valid", None, checks=("finite",)),
        Case("png-as-pcd", _write(r, "png_named.pcd", png_bytes()), "wrong-ext", "not a PCD file"),
        Case(
            "e57-unsupported",
            _write(r, "scan.e57", b"ASTM-E57" + garbage(400, seed=7)),
            "unsupported",
            "unsupported point-cloud format '.e57'",
        ),
        Case("las-valid", las, "valid", None, checks=("finite",)),  # no CRS: metres assumed, local origin
        Case("las-truncated", _write(r, "las_cut.las", las.read_bytes()[:20000]), "truncated", "truncated"),
        Case("las-signature", _las_patch(las, "las_sig.las", 0, b"LASX"), "header", "not a readable LAS file"),
        Case(
            "las-huge-count",
            _las_patch(las, "las_huge.las", 107, struct.pack("<I", 4_000_000_000)),  # legacy point count
            "huge",
            "exceeds the memory budget",
        ),
        Case(
            "las-no-points", _las_patch(las, "las_none.las", 107, struct.pack("<I", 0)), "empty", r"empty \(0 points\)"
        ),
        Case("las-empty-file", _write(r, "las_empty.las", b""), "empty", "not a readable LAS file"),
        Case(
            "las-nan-scale",
            _las_patch(las, "las_nan.las", 131, struct.pack("<d", float("nan"))),  # x scale factor
            "nonfinite",
            "points hold NaN",
        ),
        Case(
            "laz-no-backend",
            _las_patch(las, "laz_packed.laz", 104, bytes([las.read_bytes()[104] | 0x80])),  # compression bit
            "header",
            "need a LAZ backend|not a readable LAS file",
        ),
        Case("las-geographic", _las(r, "las_degrees.las", pts[:2000], {1024: 2}), "header", "geographic"),
        Case("las-garbage", _write(r, "las_garbage.las", b"LASF" + garbage(400, seed=8)), "garbage", LAS_GARBAGE),
        Case(
            "dir-named-bin",
            r / "dir_scan.bin",
            "directory",
            "file not found",
            export="no point-cloud files",
            app="file not found",
        ),
        Case("unicode-valid", _write(r, "Scän 0 ✓.bin", pts.tobytes()), "unicode", None, checks=("finite",)),
    ]
    pcd.unlink(), ply.unlink()
    return cases
