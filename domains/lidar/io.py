"""LiDAR readers: point clouds (KITTI ``.bin``, ``.npy``, PCD/PLY, LAS/LAZ) and KITTI labels/calib as LiDAR-frame boxes.

Frame convention (KITTI Velodyne): x forward, y left, z up, metres; a cloud is an ``(N, 4)`` float32
array of x, y, z, intensity (reflectance in [0, 1]; 0 where the file has none). LAS files (airborne,
projected coordinates) come in a local frame instead: x east, y north, z up, metres from the centre of
the tile's x/y bounding box and its lowest point (``domains/lidar/las.py``).

Every failure on bad input raises :class:`jepa_core.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jepa_core.errors import InputError

CLOUD_EXTS = (".bin", ".npy", ".pcd", ".ply", ".las", ".laz")
IGNORED_CLASSES = ("DontCare",)
MAX_BYTES = 128 * 1024**2  # one scan; 8M points as (N, 4) float32, 60x a KITTI scan. Checked before reading.
MAX_ABS_INTENSITY = 1e6  # reflectances are 0-1 (KITTI), LAS intensities 0-65535 before scaling: beyond is corrupt


def read_points(path: str | Path, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read one point cloud. Returns (N, 4) float32 x, y, z, intensity in the LiDAR frame.

    A cloud whose declared size (file size, .npy header, PCD/PLY/LAS point count) exceeds ``max_bytes`` is
    refused before any point is read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    ext = path.suffix.lower()
    if ext == ".bin":
        points = _read_bin(path, max_bytes)
    elif ext == ".npy":
        points = _read_npy(path, max_bytes)
    elif ext in (".pcd", ".ply"):
        points = _read_open3d(path, max_bytes)
    elif ext in (".las", ".laz"):
        from domains.lidar.las import read_las  # laspy only when needed

        points = read_las(path, max_bytes=max_bytes).points
    else:
        raise InputError(path, f"unsupported point-cloud format {ext!r}; use one of {', '.join(CLOUD_EXTS)}")
    return check_points(points, path)


def _check_budget(path: Path, n_bytes: int, max_bytes: int, what: str) -> None:
    if n_bytes > max_bytes:
        raise InputError(
            path, f"{what} ({n_bytes / 1024**2:.0f} MB) exceeds the memory budget of {max_bytes / 1024**2:.0f} MB"
        )


def check_points(points: np.ndarray, path: str | Path = "<points>") -> np.ndarray:
    """Validate an (N, 3|4) array: non-empty, finite. Returns (N, 4) float32."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] not in (3, 4):
        raise InputError(path, f"expected an (N, 3) or (N, 4) array of x, y, z[, intensity], got shape {points.shape}")
    if len(points) == 0:
        raise InputError(path, "the point cloud is empty (0 points)")
    points = points.astype(np.float32, copy=False)
    if points.shape[1] == 3:
        points = np.concatenate([points, np.zeros((len(points), 1), np.float32)], axis=1)
    if not np.isfinite(points).all():  # one flat pass; count the bad points only when there are some
        bad = int((~np.isfinite(points).all(axis=1)).sum())
        raise InputError(path, f"{bad} of {len(points)} points hold NaN or infinite values")
    loud = np.abs(points[:, 3]) > MAX_ABS_INTENSITY  # finite, but squares beyond float32 make NaN embeddings
    if loud.any():
        raise InputError(
            path,
            f"{int(loud.sum())} of {len(points)} points have an intensity beyond +-{MAX_ABS_INTENSITY:g} "
            f"(up to {float(np.abs(points[:, 3]).max()):.3g}): corrupt data, not a reflectance",
        )
    return np.ascontiguousarray(points)


def _read_bin(path: Path, max_bytes: int) -> np.ndarray:
    size = path.stat().st_size
    if size % 16:
        raise InputError(
            path,
            f"{size} bytes is not a multiple of 16: not a KITTI velodyne .bin (float32 x, y, z, intensity per point)",
        )
    _check_budget(path, size, max_bytes, f"{size // 16} points")
    return np.fromfile(path, dtype=np.float32).reshape(-1, 4)


def _read_npy(path: Path, max_bytes: int) -> np.ndarray:
    """``np.load`` after checking the header: dtype, declared size against the budget and the file size."""
    fmt = np.lib.format
    try:
        with path.open("rb") as fh:
            version = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
    except (ValueError, OSError, SyntaxError, TypeError, tokenize.TokenError) as err:  # numpy parses a dict literal
        raise InputError(
            path, f"not a readable .npy array ({(str(err).splitlines() or [type(err).__name__])[0]})"
        ) from None
    if dtype.hasobject:
        raise InputError(path, f"not a readable .npy array (dtype {dtype} holds Python objects; pickles are refused)")
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise InputError(path, f"array dtype {dtype} is not numeric (real numbers expected)")
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    _check_budget(path, declared, max_bytes, f"declared shape {shape} of {dtype}")
    if path.stat().st_size - offset < declared:
        raise InputError(path, f"truncated: the header declares {shape} of {dtype} but the file is shorter")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise InputError(path, f"not a readable .npy array ({str(err).splitlines()[0]})") from None


@dataclass(frozen=True)
class _CloudHeader:
    n: int  # points declared
    length: int  # header bytes
    values: int | None  # numbers per point (line) of an ASCII body, else None
    xyz: tuple[int, int, int]  # ASCII: the columns of x, y, z in a line
    dtype: np.dtype | None  # binary: one point's record, with fields "x", "y", "z" among others; else None
    lines: int  # ASCII: lines the body holds in all (a PLY's faces and other elements follow its vertices)

    @property
    def row(self) -> int | None:
        """Bytes per point of a binary body, else None."""
        return None if self.dtype is None else self.dtype.itemsize


_PLY_TYPES = {"char": "i1", "uchar": "u1", "int8": "i1", "uint8": "u1", "short": "i2", "ushort": "u2", "int16": "i2",
              "uint16": "u2", "int": "i4", "uint": "u4", "int32": "i4", "uint32": "u4", "float": "f4",
              "float32": "f4", "double": "f8", "float64": "f8"}  # fmt: skip
_PCD_TYPES = {("F", "4"): "f4", ("F", "8"): "f8", ("I", "1"): "i1", ("I", "2"): "i2", ("I", "4"): "i4", ("I", "8"): "i8",
              ("U", "1"): "u1", ("U", "2"): "u2", ("U", "4"): "u4", ("U", "8"): "u8"}  # fmt: skip


def _field(name: str, i: int) -> str:
    """A binary record's field name: x, y, z by name (what is checked), the others by position (names repeat)."""
    return name if name in ("x", "y", "z") else f"f{i}"


def _cloud_header(path: Path) -> _CloudHeader:
    """What a PCD or PLY header declares: points, body layout and header length. Layouts whose points open3d may
    misread without an error are refused: a PCD DATA kind other than ascii/binary/binary_compressed, and a PLY
    whose vertex element is not the first or holds list properties."""
    kind = path.suffix.lower().lstrip(".").upper()
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    end_token = b"DATA" if kind == "PCD" else b"end_header"
    end = head.find(end_token)
    if end < 0 or (kind == "PLY" and not head.startswith(b"ply")):
        raise InputError(path, f"not a {kind} file: no {end_token.decode()} line in the first 64 kB")
    end = head.find(b"\n", end) + 1 or len(head)
    lines = [ln.split() for ln in head[:end].decode("latin-1").splitlines() if ln.strip()]
    try:
        if kind == "PCD":
            fields = {ln[0].upper(): ln[1:] for ln in lines if not ln[0].startswith("#")}
            n = int(fields["POINTS"][0])
            data = fields["DATA"][0].lower()
            if data not in ("ascii", "binary", "binary_compressed"):
                raise InputError(path, f"PCD DATA {fields['DATA'][0]!r}: expected ascii, binary or binary_compressed")
            names = [f.lower() for f in fields.get("FIELDS", [])]
            sizes, types = fields["SIZE"], fields["TYPE"]
            counts = [int(c) for c in fields.get("COUNT", ["1"] * len(sizes))]
            if not len(names) == len(sizes) == len(types) == len(counts):
                raise ValueError("FIELDS, SIZE, TYPE and COUNT differ in length")
            columns = [int(c) for c in np.cumsum([0, *counts[:-1]])]  # first number of each field in a line
            values = sum(counts) if data == "ascii" else None
            body_lines = n
            dtype = np.dtype([(_field(name, i), _PCD_TYPES[(t.upper(), sz)], (c,))
                              for i, (name, sz, t, c) in enumerate(zip(names, sizes, types, counts, strict=True))]) \
                if data == "binary" else None  # fmt: skip
        else:
            elements = [i for i, ln in enumerate(lines) if ln[0] == "element"]
            vertex = [i for i in elements if lines[i][:2] == ["element", "vertex"]]
            if vertex and elements[0] != vertex[0]:
                raise InputError(
                    path, f"PLY element {lines[elements[0]][1]!r} comes before the vertices: not supported"
                )
            n = int(lines[vertex[0]][2])
            props = []
            for ln in lines[vertex[0] + 1 :]:
                if ln[0] != "property":
                    break
                props.append(ln)
            if any(p[1] == "list" for p in props):
                raise InputError(path, "PLY vertex element with a list property: not supported")
            fmt = next((ln[1] for ln in lines if ln[0] == "format"), "")
            body_lines = sum(int(lines[i][2]) for i in elements)
            names = [p[-1].lower() for p in props]
            columns = list(range(len(names)))
            values = len(props) if fmt == "ascii" else None
            order = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(fmt)
            dtype = np.dtype([(_field(name, i), order + _PLY_TYPES[p[1]])
                              for i, (name, p) in enumerate(zip(names, props, strict=True))]) if order else None  # fmt: skip
    except (KeyError, IndexError, ValueError, TypeError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(path, f"not a {kind} file: broken header ({type(err).__name__}: {err})") from None
    if n < 0:
        raise InputError(path, f"header declares {n} points")
    if not {"x", "y", "z"} <= set(names):  # open3d would hand back uninitialised positions
        raise InputError(path, f"the header declares no x, y, z fields (fields: {', '.join(names) or 'none'})")
    xyz = tuple(columns[names.index(a)] for a in "xyz")
    return _CloudHeader(n=n, length=end, values=values, xyz=xyz, dtype=dtype, lines=body_lines)


def _file_xyz(path: Path, head: _CloudHeader) -> np.ndarray | None:
    """The x, y, z the body holds, read with numpy to check open3d's reading against: open3d reads a short or
    malformed body without an error and leaves what it could not parse as uninitialised memory (values up to
    1e38, new on each read). None for compressed bodies. Shape: (n, 3) float32."""
    if head.dtype is not None:
        rows = np.frombuffer(path.read_bytes(), dtype=head.dtype, count=head.n, offset=head.length)
        return np.stack([rows[a].reshape(head.n, -1)[:, 0] for a in "xyz"], axis=1).astype(np.float32)
    if head.values is None:
        return None
    lines = [ln for ln in path.read_bytes()[head.length :].decode("latin-1").splitlines() if ln.strip()]
    if head.n <= len(lines) < head.lines:  # a PLY's vertices would run into its faces (open3d reads them so)
        raise InputError(
            path,
            f"truncated: the header declares {head.lines} lines of vertices and other elements; the body holds "
            f"{len(lines)}",
        )
    lines = lines[: head.n]
    short = [i for i, ln in enumerate(lines) if len(ln.split()) != head.values]
    if len(lines) < head.n or short:
        where = f"point {short[0]} has {len(lines[short[0]].split())}" if short else f"only {len(lines)} points"
        raise InputError(path, f"the header declares {head.n} points of {head.values} values; {where}")
    try:
        numbers = np.array(" ".join(lines).split(), dtype=np.float64).reshape(head.n, head.values)
    except ValueError:
        raise InputError(path, f"a point of the {head.n} holds something that is not a number") from None
    with np.errstate(over="ignore"):
        return numbers[:, list(head.xyz)].astype(np.float32)


def _read_open3d(path: Path, max_bytes: int) -> np.ndarray:
    head = _cloud_header(path)
    n, row = head.n, head.row
    if n == 0:
        raise InputError(path, "the point cloud is empty (0 points)")
    _check_budget(path, n * max(row or 0, 16) * 2, max_bytes, f"{n} points declared in the header")  # read + (N, 4)
    if row is not None and path.stat().st_size - head.length < n * row:
        held = (path.stat().st_size - head.length) // row
        raise InputError(path, f"truncated: the header declares {n} points but the file holds {held}")
    expected = _file_xyz(path, head)
    try:
        import open3d as o3d
    except ImportError:
        raise InputError(path, "reading PCD/PLY needs open3d: pip install 'jepa-suite[lidar]'") from None
    try:
        pcd = o3d.t.io.read_point_cloud(str(path))
    except Exception as err:  # open3d raises RuntimeError, and others on odd headers
        raise InputError(path, f"open3d cannot read this file ({str(err).strip().splitlines()[0]})") from None
    if "positions" not in pcd.point:
        raise InputError(path, "open3d read no points: truncated file or a header it cannot parse")
    xyz = pcd.point["positions"].numpy().astype(np.float32)
    if len(xyz) != n:
        raise InputError(path, f"the header declares {n} points but {len(xyz)} were read")
    if expected is not None and not np.allclose(xyz, expected, rtol=1e-6, atol=1e-6, equal_nan=True):
        bad = int((~np.isclose(xyz, expected, rtol=1e-6, atol=1e-6, equal_nan=True)).any(axis=1).sum())
        raise InputError(path, f"{bad} of {n} points read by open3d differ from the file's: a malformed body")
    intensity = np.zeros((len(xyz), 1), np.float32)
    for key in ("intensity", "intensities", "reflectance"):
        if key in pcd.point:
            intensity = pcd.point[key].numpy().astype(np.float32).reshape(-1, 1)
            break
    return np.concatenate([xyz, intensity], axis=1)


def write_points(path: str | Path, points: np.ndarray) -> Path:
    """Write an (N, 4) cloud as ``.bin`` (KITTI), ``.npy``, or ``.pcd``/``.ply`` (open3d, with intensity)."""
    path = Path(path)
    points = np.asarray(points, dtype=np.float32)
    ext = path.suffix.lower()
    if ext == ".bin":
        points.tofile(path)
    elif ext == ".npy":
        np.save(path, points)
    elif ext in (".pcd", ".ply"):
        import open3d as o3d

        pcd = o3d.t.geometry.PointCloud()
        pcd.point["positions"] = o3d.core.Tensor(points[:, :3])
        pcd.point["intensity"] = o3d.core.Tensor(points[:, 3:4])
        if not o3d.t.io.write_point_cloud(str(path), pcd):
            raise InputError(path, "open3d could not write the file")
    else:
        raise InputError(path, f"unsupported point-cloud format {ext!r}")
    return path


# ----------------------------------------------------------------------------- labels and calibration


@dataclass(frozen=True)
class Box3D:
    """A 3-D box in the LiDAR frame: centre (x, y, z) at half height, size (l, w, h), yaw about z."""

    cls: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]  # length (along heading), width, height
    yaw: float
    track_id: int = -1

    def as_array(self) -> np.ndarray:
        return np.array([*self.center, *self.size, self.yaw], dtype=np.float64)


def read_calib(path: str | Path) -> dict[str, np.ndarray]:
    """KITTI calib file -> ``R0_rect`` (3, 3) and ``Tr_velo_to_cam`` (3, 4) (object or tracking naming)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "calibration file not found")
    values: dict[str, np.ndarray] = {}
    for line in path.read_text().splitlines():
        key, sep, rest = line.partition(":") if ":" in line else line.partition(" ")
        if not sep or not rest.strip():
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()])
        except ValueError:
            raise InputError(path, f"non-numeric value in calibration entry {key.strip()!r}") from None
    r0 = values.get("R0_rect", values.get("R_rect"))
    tr = values.get("Tr_velo_to_cam", values.get("Tr_velo_cam"))
    if r0 is None or tr is None or r0.size != 9 or tr.size != 12:
        raise InputError(path, "needs R0_rect (9 values) and Tr_velo_to_cam (12 values)")
    if not (np.isfinite(r0).all() and np.isfinite(tr).all()):
        raise InputError(path, "R0_rect or Tr_velo_to_cam holds NaN or infinite values")
    if max(np.abs(r0).max(), np.abs(tr).max()) > 1e3:  # rotations hold |v| <= 1, translations metres
        raise InputError(path, "R0_rect or Tr_velo_to_cam holds values beyond +-1000: not a rotation and offset")
    r0, tr = r0.reshape(3, 3), tr.reshape(3, 4)
    for name, m in (("R0_rect", r0), ("Tr_velo_to_cam", tr[:, :3])):
        if abs(np.linalg.det(m)) < 1e-6:  # a rotation has determinant 1: this one cannot be inverted
            raise InputError(path, f"{name} is singular (determinant {np.linalg.det(m):.3g}): not a rotation")
    return {"R0_rect": r0, "Tr_velo_to_cam": tr}


def cam_to_velo(xyz_cam: np.ndarray, calib: dict[str, np.ndarray]) -> np.ndarray:
    """Rectified-camera points to the LiDAR frame. Shape: (N, 3) -> (N, 3)."""
    tr = np.eye(4)
    tr[:3] = calib["Tr_velo_to_cam"]
    r0 = np.eye(4)
    r0[:3, :3] = calib["R0_rect"]
    to_velo = np.linalg.inv(r0 @ tr)  # rect cam <- velo is R0 @ Tr; invert it
    homo = np.concatenate([xyz_cam, np.ones((len(xyz_cam), 1))], axis=1)
    return (homo @ to_velo.T)[:, :3]


def _boxes_from_rows(rows: list[list[str]], calib: dict[str, np.ndarray], path: Path) -> list[Box3D]:
    """Rows ``type trunc occ alpha x1 y1 x2 y2 h w l x y z ry [score]`` (optionally preceded by a track id)."""
    boxes = []
    for row in rows:
        track = int(row.pop(0)) if row and _is_int(row[0]) else -1
        if len(row) < 15:
            raise InputError(path, f"label line has {len(row)} fields, KITTI needs 15: {' '.join(row)}")
        cls = row[0]
        if cls in IGNORED_CLASSES:
            continue
        try:
            h, w, length, x, y, z, ry = (float(v) for v in row[8:15])
        except ValueError:
            raise InputError(path, f"non-numeric box field in: {' '.join(row)}") from None
        if not np.isfinite([h, w, length, x, y, z, ry]).all():
            raise InputError(path, f"NaN or infinite box field in: {' '.join(row)}")
        bottom = cam_to_velo(np.array([[x, y, z]]), calib)[0]  # KITTI gives the bottom centre
        center = (float(bottom[0]), float(bottom[1]), float(bottom[2] + h / 2))
        # Camera yaw ry is about the camera's y (down) axis, measured from camera x (= -velo y).
        yaw = float(-ry - np.pi / 2)
        boxes.append(Box3D(cls, center, (length, w, h), yaw, track))
    return boxes


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def read_object_labels(label_path: str | Path, calib_path: str | Path) -> list[Box3D]:
    """KITTI object ``label_2/NNNNNN.txt`` + ``calib/NNNNNN.txt`` -> boxes in the LiDAR frame (no DontCare)."""
    label_path = Path(label_path)
    if not label_path.is_file():
        raise InputError(label_path, "label file not found")
    calib = read_calib(calib_path)
    rows = [line.split() for line in label_path.read_text().splitlines() if line.strip()]
    return _boxes_from_rows(rows, calib, label_path)


def read_tracking_labels(label_path: str | Path, calib_path: str | Path) -> dict[int, list[Box3D]]:
    """KITTI tracking ``label_02/<seq>.txt`` + ``calib/<seq>.txt`` -> {frame: boxes in the LiDAR frame}."""
    label_path = Path(label_path)
    if not label_path.is_file():
        raise InputError(label_path, "label file not found")
    calib = read_calib(calib_path)
    frames: dict[int, list[list[str]]] = {}
    for line in label_path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if not _is_int(parts[0]):
            raise InputError(label_path, f"tracking label line must start with a frame number: {line}")
        frames.setdefault(int(parts[0]), []).append(parts[1:])
    return {f: _boxes_from_rows(rows, calib, label_path) for f, rows in frames.items()}


def points_in_boxes(points: np.ndarray, boxes: list[Box3D]) -> np.ndarray:
    """Index of the box holding each point, -1 for none. Shape: (N, >=3) -> (N,) int."""
    out = np.full(len(points), -1, dtype=np.int64)
    for i, box in enumerate(boxes):
        c, (length, w, h) = np.asarray(box.center), box.size
        d = points[:, :3] - c
        cos, sin = np.cos(box.yaw), np.sin(box.yaw)
        local_x = d[:, 0] * cos + d[:, 1] * sin  # rotate into the box frame
        local_y = -d[:, 0] * sin + d[:, 1] * cos
        inside = (np.abs(local_x) <= length / 2) & (np.abs(local_y) <= w / 2) & (np.abs(d[:, 2]) <= h / 2)
        out[inside & (out < 0)] = i
    return out


def find_clouds(source: str | Path) -> list[Path]:
    """Point-cloud files under a folder (recursively, sorted) or the file itself."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputError(source, "no such file or folder")
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in CLOUD_EXTS and p.is_file())
    if not files:
        raise InputError(source, f"no point-cloud files ({', '.join(CLOUD_EXTS)}) in this folder")
    return files
