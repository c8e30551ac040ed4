"""Readers: bundled KITTI files, round trips through every format, broken inputs, the box transform."""

from pathlib import Path

import numpy as np
import pytest

from domains.lidar.io import (
    find_clouds,
    points_in_boxes,
    read_calib,
    read_object_labels,
    read_points,
    read_tracking_labels,
    write_points,
)
from jepa_core.errors import InputError

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "lidar"
OBJ = SAMPLES / "kitti_object" / "training"
TRK = SAMPLES / "kitti_tracking" / "training"


def _cloud(n=500, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.uniform([0, -20, -2, 0], [40, 20, 1, 1], size=(n, 4)).astype(np.float32)
    return pts


def test_bundled_bin_reads_as_kitti():
    pts = read_points(OBJ / "velodyne_reduced" / "000008.bin")
    assert pts.shape == (17238, 4) and pts.dtype == np.float32
    assert 0.0 <= pts[:, 3].min() and pts[:, 3].max() <= 1.0
    assert pts[:, 0].min() >= 0  # camera-FOV reduced: everything is in front of the car (x forward)


@pytest.mark.parametrize("ext", [".bin", ".npy", ".pcd", ".ply"])
def test_round_trip(tmp_path, ext):
    if ext in (".pcd", ".ply"):
        pytest.importorskip("open3d")
    pts = _cloud()
    back = read_points(write_points(tmp_path / f"c{ext}", pts))
    np.testing.assert_allclose(back, pts, rtol=1e-6, atol=1e-6)


def test_npy_xyz_only_gets_zero_intensity(tmp_path):
    np.save(tmp_path / "a.npy", _cloud()[:, :3].astype(np.float64))
    pts = read_points(tmp_path / "a.npy")
    assert pts.shape == (500, 4) and pts.dtype == np.float32 and not pts[:, 3].any()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("short.bin", b"\x00" * 20, "not a multiple of 16"),
        ("empty.bin", b"", "empty"),
        ("nan.npy", None, "NaN"),
        ("bad.npy", b"not numpy", "not a readable .npy"),
        ("shape.npy", np.zeros((4, 7), np.float32), "(N, 3) or (N, 4)"),
        ("x.e57", b"abc", "unsupported point-cloud format"),
        ("x.las", b"abc", "not a readable LAS file"),
    ],
)
def test_broken_inputs(tmp_path, name, content, message):
    path = tmp_path / name
    if name == "nan.npy":
        pts = _cloud()
        pts[3, 1] = np.nan
        np.save(path, pts)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        read_points(path)
    assert str(path) in str(err.value)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_points(tmp_path / "nope.bin")
    with pytest.raises(InputError, match="no point-cloud files"):
        find_clouds(tmp_path)


def test_broken_pcd(tmp_path):
    pytest.importorskip("open3d")
    path = tmp_path / "broken.pcd"
    path.write_text(
        "# .PCD v0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 0\nHEIGHT 1\nPOINTS 0\nDATA ascii\n"
    )
    with pytest.raises(InputError, match="empty|cannot read"):
        read_points(path)


def test_calib_needs_both_matrices(tmp_path):
    (tmp_path / "c.txt").write_text("P0: 1 2 3\n")
    with pytest.raises(InputError, match="R0_rect"):
        read_calib(tmp_path / "c.txt")


def test_object_boxes_hold_their_points():
    """Points fall inside their labelled boxes: each Car of frame 000008 holds points, the box
    transform puts the nearest car about 5 m ahead, and shrinking a box loses points."""
    pts = read_points(OBJ / "velodyne_reduced" / "000008.bin")
    boxes = read_object_labels(OBJ / "label_2" / "000008.txt", OBJ / "calib" / "000008.txt")
    assert [b.cls for b in boxes] == ["Car"] * 6  # DontCare dropped
    owner = points_in_boxes(pts, boxes)
    counts = np.bincount(owner[owner >= 0], minlength=len(boxes))
    assert (counts >= 50).all(), counts
    near = min(boxes, key=lambda b: np.hypot(*b.center[:2]))
    assert 3 < near.center[0] < 7 and -2 < near.center[2] < 0  # x forward, z up: box centre below the sensor
    # A box rotated by 90 degrees about z (a wrong yaw convention) holds far fewer points.
    from dataclasses import replace

    turned = [replace(b, yaw=b.yaw + np.pi / 2) for b in boxes]
    assert (points_in_boxes(pts, turned) >= 0).sum() < 0.8 * (owner >= 0).sum()


def test_tracking_layout_boxes():
    frames = read_tracking_labels(TRK / "label_02" / "0000.txt", TRK / "calib" / "0000.txt")
    assert set(frames) == {0, 1, 2, 3, 4}
    pts = read_points(TRK / "velodyne_fov" / "000000.bin")
    owner = points_in_boxes(pts, frames[0])
    assert {b.cls for b in frames[0]} == {"Van", "Cyclist", "Pedestrian"}
    assert all((owner == i).sum() > 100 for i in range(len(frames[0])))
    assert all(b.track_id >= 0 for b in frames[0])


def test_kitti_layouts_and_time_split(tmp_path):
    import shutil

    from domains.lidar.tasks import find_labelled_frames

    root = tmp_path / "obj" / "training"
    for sub in ("velodyne", "velodyne_reduced", "label_2", "calib"):
        (root / sub).mkdir(parents=True)
    for stem, velo in (("000008", "velodyne"), ("000134", "velodyne_reduced")):  # scans split over two folders
        shutil.copy(OBJ / "velodyne_reduced" / f"{stem}.bin", root / velo / f"{stem}.bin")
        shutil.copy(OBJ / "label_2" / f"{stem}.txt", root / "label_2")
        shutil.copy(OBJ / "calib" / f"{stem}.txt", root / "calib")
    frames = find_labelled_frames(tmp_path / "obj")
    assert [(f.frame_id, f.split) for f in frames] == [
        ("object/000008/000008", "test"),
        ("object/000134/000134", "test"),
    ]
    tracking = find_labelled_frames(SAMPLES / "kitti_tracking", split_frame=2, gap=1)
    assert [(f.index, f.split) for f in tracking] == [(0, "train"), (2, "unused"), (4, "test")]
    with pytest.raises(InputError, match="not a KITTI folder"):
        find_labelled_frames(tmp_path)


def _ascii_cloud(tmp_path: Path, ext: str, pts: np.ndarray) -> Path:
    import open3d as o3d

    pcd = o3d.t.geometry.PointCloud()
    pcd.point["positions"] = o3d.core.Tensor(pts[:, :3])
    pcd.point["intensity"] = o3d.core.Tensor(pts[:, 3:4])
    path = tmp_path / f"ascii{ext}"
    assert o3d.t.io.write_point_cloud(str(path), pcd, write_ascii=True)
    return path


@pytest.mark.parametrize("ext", [".pcd", ".ply"])
def test_ascii_clouds_read_whole_or_not_at_all(tmp_path, ext):
    """open3d reads a short or malformed ASCII body without an error and leaves the rows it could not parse
    as uninitialised memory: the body is counted first."""
    pytest.importorskip("open3d")
    pts = _cloud(300)
    path = _ascii_cloud(tmp_path, ext, pts)
    np.testing.assert_allclose(read_points(path), pts, atol=1e-4)
    body = path.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(body[: len(body) * 2 // 3])
    with pytest.raises(InputError, match=r"cut\..*declares 300 points of 4 values; (point \d+ has \d|only \d+ points)"):
        read_points(cut)
    lines = body.split(b"\n")
    lines[-40] = b"1.0 2.0 oops 0.5"
    bad = tmp_path / f"bad{ext}"
    bad.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"is not a number"):
        read_points(bad)
    lines[-40] = b"1.0 2.0 1e39 0.5"  # beyond float32: open3d cannot parse it either
    bad.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=r"bad\..*: (\d+ of 300 points .* differ from the file's|.*NaN or infinite)"):
        read_points(bad)


def test_cloud_layouts_open3d_may_misread_are_refused(tmp_path):
    pytest.importorskip("open3d")
    pcd = tmp_path / "odd.pcd"
    pcd.write_text(
        "# .PCD v0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nHEIGHT 1\nPOINTS 1\nDATA -300\n1 2 3\n"
    )
    with pytest.raises(InputError, match=r"odd\.pcd: PCD DATA '-300': expected ascii, binary or binary_compressed"):
        read_points(pcd)
    head = "ply\nformat ascii 1.0\n{}end_header\n"
    vertex = "element vertex 2\nproperty float x\nproperty float y\nproperty float z\n"
    face = "element face 1\nproperty list uchar int vertex_indices\n"
    (tmp_path / "faces_first.ply").write_text(head.format(face + vertex) + "3 0 1 1\n0 0 0\n1 1 1\n")
    with pytest.raises(InputError, match=r"faces_first\.ply: PLY element 'face' comes before the vertices"):
        read_points(tmp_path / "faces_first.ply")
    listed = vertex + "property list uchar float extra\n"
    (tmp_path / "listed.ply").write_text(head.format(listed) + "0 0 0 1 5\n1 1 1 1 5\n")
    with pytest.raises(InputError, match=r"listed\.ply: PLY vertex element with a list property"):
        read_points(tmp_path / "listed.ply")
    (tmp_path / "faces_after.ply").write_text(head.format(vertex + face) + "0 0 0\n1 1 2\n3 0 1 1\n")
    np.testing.assert_array_equal(read_points(tmp_path / "faces_after.ply")[:, :3], [[0, 0, 0], [1, 1, 2]])
    three = vertex.replace("vertex 2", "vertex 3")  # a vertex row is missing: its face line (3 numbers) would stand in
    (tmp_path / "short.ply").write_text(head.format(three + face) + "0 0 0\n1 1 2\n2 0 1\n")
    with pytest.raises(InputError, match=r"short\.ply: truncated: the header declares 4 lines .* the body holds 3"):
        read_points(tmp_path / "short.ply")


def test_binary_ply_is_checked_against_its_bytes(tmp_path):
    """A binary body read with numpy must give open3d's points: one way to see an uninitialised read."""
    pytest.importorskip("open3d")
    path = write_points(tmp_path / "b.ply", _cloud(100))
    np.testing.assert_allclose(read_points(path), _cloud(100), atol=1e-6)


def test_cloud_header_without_x_y_z(tmp_path):
    pytest.importorskip("open3d")
    path = tmp_path / "nox.ply"
    write_points(path, _cloud(50))
    path.write_bytes(path.read_bytes().replace(b"property float x\n", b"property float a\n", 1))
    with pytest.raises(InputError, match=r"nox\.ply: the header declares no x, y, z fields"):
        read_points(path)


def test_absurd_intensity_and_npy_header_are_clear_errors(tmp_path):
    pts = _cloud()
    pts[7, 3] = 3.4e38  # finite, but the encoder's squares overflow: NaN embeddings
    pts.tofile(tmp_path / "bright.bin")
    with pytest.raises(InputError, match=r"bright\.bin: 1 of 500 points have an intensity beyond"):
        read_points(tmp_path / "bright.bin")
    np.save(tmp_path / "h.npy", _cloud())
    raw = (tmp_path / "h.npy").read_bytes()
    (tmp_path / "h.npy").write_bytes(raw.replace(b"(500, 4)", b"(500} 4)", 1))  # numpy's parser: TokenError
    with pytest.raises(InputError, match=r"h\.npy: not a readable \.npy array"):
        read_points(tmp_path / "h.npy")


def test_singular_calibration_and_nan_boxes_are_clear_errors(tmp_path):
    calib = (OBJ / "calib").glob("*.txt").__next__()
    text = calib.read_text()
    label = OBJ / "label_2" / calib.name
    rows = [ln for ln in text.splitlines() if ln.startswith("Tr_velo_to_cam")]
    (tmp_path / "singular.txt").write_text(text.replace(rows[0], "Tr_velo_to_cam: " + " ".join(["0"] * 12)))
    with pytest.raises(InputError, match=r"singular\.txt: Tr_velo_to_cam is singular"):
        read_object_labels(label, tmp_path / "singular.txt")
    first = label.read_text().splitlines()[0].split()
    first[11] = "nan"  # the box's x
    (tmp_path / "nan.txt").write_text(" ".join(first) + "\n")
    with pytest.raises(InputError, match=r"nan\.txt: NaN or infinite box field"):
        read_object_labels(tmp_path / "nan.txt", calib)


def test_calibration_with_absurd_values_is_refused(tmp_path):
    calib = next((OBJ / "calib").glob("*.txt"))
    text = calib.read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("R0_rect"))
    values = row.split()
    values[6] = "1e308"  # finite, but the inverse of R0 @ Tr is NaN
    (tmp_path / "huge.txt").write_text(text.replace(row, " ".join(values)))
    with pytest.raises(InputError, match=r"huge\.txt: R0_rect or Tr_velo_to_cam holds values beyond"):
        read_calib(tmp_path / "huge.txt")
