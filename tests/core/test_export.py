"""Parquet export of window embeddings: rows, hashes, skipped records, atomic replace, the CLI."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from domains.ecg.domain import DOMAIN
from domains.ecg.io import read_record, to_lead_slots
from jepa_core.checkpoint import file_sha256, save_encoder
from jepa_core.config import load_config, to_plain
from jepa_core.export import ExportSummary, NothingExported, export_embeddings
from jepa_core.export_cli import main
from jepa_core.pretrained import Pretrained, load_pretrained

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "samples" / "ecg"
# CinC 2017 records at 300 Hz: native length -> windows of 10 s at 250 Hz (tail dropped, short: 1 padded).
GOOD = {"A00002": 9000, "A00008": 18000, "A00032": 8694, "A00139": 3760}
SHORT = "short"  # 6 s, written by the fixture: one zero-padded window
FS, WIN = 250.0, 2500
DIM = 32


def n_samples(native: int, fs_native: float = 300.0) -> int:
    return math.ceil(native * FS / fs_native)  # polyphase resampling keeps ceil(T * up / down)


def n_windows(native: int, stride: int = WIN) -> int:
    n = n_samples(native)
    return 1 if n < WIN else (n - WIN) // stride + 1


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    overrides = ["model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_heads=2"]
    cfg = load_config(DOMAIN.config_cls, None, overrides)
    torch.manual_seed(0)
    encoder = DOMAIN.build_encoder(cfg)
    card = {"name": "test-tiny", "domain": "ecg", "config": to_plain(cfg), "encoder_used_downstream": "ema_target"}
    return save_encoder(tmp_path_factory.mktemp("model"), encoder, card)


@pytest.fixture(scope="module")
def pretrained(model_dir: Path) -> Pretrained:
    return load_pretrained(model_dir)


def _write_short(folder: Path) -> None:
    """A real 6 s excerpt of A00002 in WFDB format 16 (shorter than one window)."""
    import wfdb

    rec = wfdb.rdrecord(str(SAMPLE_DIR / "A00002"), sampto=1800)
    wfdb.wrsamp(SHORT, fs=300, units=["mV"], sig_name=["ECG"], p_signal=rec.p_signal, fmt=["16"], write_dir=str(folder))


def write_broken(folder: Path) -> Path:
    """A header whose signal file is missing, and a header that is garbage."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nosignal.hea").write_text((SAMPLE_DIR / "A00022.hea").read_text().replace("A00022", "nosignal"))
    (folder / "garbage.hea").write_bytes(b"\x00\x01 this is not a WFDB header\n")
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four bundled CinC records, a 6 s one, and two broken records."""
    folder = tmp_path_factory.mktemp("ecg")
    for rid in GOOD:
        for ext in (".hea", ".mat"):
            shutil.copy(SAMPLE_DIR / f"{rid}{ext}", folder / f"{rid}{ext}")
    _write_short(folder)
    return write_broken(folder)


@pytest.fixture(scope="module")
def exported(
    pretrained: Pretrained, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ExportSummary, pa.Table]:
    out = tmp_path_factory.mktemp("out") / "emb.parquet"
    # batch 4 and row groups of 5: batches span records, row groups span batches
    summary = export_embeddings(pretrained, data_dir, out, batch_size=4, progress=False, row_group_size=5)
    return summary, pq.read_table(out)


def expected_rows() -> list[tuple[str, int, int]]:
    """(record_id, window_index, start_sample) in export order (records sorted by name)."""
    lengths = dict(GOOD, **{SHORT: 1800})
    rows = []
    for rid in sorted(lengths):
        rows += [(rid, i, i * WIN) for i in range(n_windows(lengths[rid]))]
    return rows


def test_rows_ids_and_starts(exported: tuple[ExportSummary, pa.Table]) -> None:
    summary, table = exported
    got = list(zip(*(table.column(c).to_pylist() for c in ("record_id", "window_index", "start_sample")), strict=True))
    assert got == expected_rows()
    assert summary.rows == table.num_rows == 3 + 6 + 2 + 1 + 1
    assert table.column("start_s").to_pylist() == [s / FS for _, _, s in got]
    assert set(table.column("sampling_rate").to_pylist()) == {FS}


def test_schema_hash_and_metadata(exported: tuple[ExportSummary, pa.Table], model_dir: Path) -> None:
    _, table = exported
    schema = table.schema
    assert str(schema.field("embedding").type) == f"fixed_size_list<element: float>[{DIM}]"
    assert str(schema.field("window_index").type) == "int32"
    sha = file_sha256(model_dir / "encoder.safetensors")
    assert set(table.column("checkpoint_sha256").to_pylist()) == {sha}
    meta = {k.decode(): v.decode() for k, v in schema.metadata.items()}
    assert meta["domain"] == "ecg" and meta["pooling"] == "mean" and meta["embed_dim"] == str(DIM)
    assert meta["encoder_used_downstream"] == "ema_target" and meta["model_name"] == "test-tiny"
    assert meta["checkpoint_sha256"] == sha and meta["jepa_suite_version"]


def test_embedding_equals_direct_forward(
    exported: tuple[ExportSummary, pa.Table], pretrained: Pretrained, data_dir: Path
) -> None:
    _, table = exported
    rec = read_record(data_dir / "A00008", fs=FS, bandpass=(0.5, 40.0))
    x = torch.from_numpy(to_lead_slots(rec, list(pretrained.cfg.data.leads)))[:, 2 * WIN : 3 * WIN]  # window 2
    with torch.no_grad():
        direct = pretrained.encoder(x[None]).mean(dim=1)[0].numpy()  # (D,)
    row = expected_rows().index(("A00008", 2, 2 * WIN))
    got = np.asarray(table.column("embedding")[row].as_py(), dtype=np.float32)
    np.testing.assert_allclose(got, direct, rtol=1e-4, atol=1e-5)
    embeddings = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    assert np.isfinite(embeddings).all() and len(np.unique(embeddings.round(5), axis=0)) == table.num_rows


def test_broken_records_named_in_summary(exported: tuple[ExportSummary, pa.Table]) -> None:
    summary, _ = exported
    assert summary.records_ok == len(GOOD) + 1
    skipped = dict(summary.skipped)
    assert sorted(skipped) == ["garbage", "nosignal"]
    assert "garbage.hea" in skipped["garbage"]
    assert "nosignal.mat" in skipped["nosignal"] and "not found" in skipped["nosignal"]


def test_same_record_name_in_two_folders(pretrained: Pretrained, tmp_path: Path) -> None:
    """Two folders with a record of one name (KITTI's training/ and testing/ scans, say): two records, told
    apart by ``source``, each numbering its windows from 0, not one record with twice the windows."""
    for part in ("training", "testing"):
        (tmp_path / part).mkdir()
        for ext in (".hea", ".mat"):
            shutil.copy(SAMPLE_DIR / f"A00139{ext}", tmp_path / part / f"A00139{ext}")
    out = tmp_path / "emb.parquet"
    summary = export_embeddings(pretrained, [tmp_path / "training", tmp_path / "testing"], out, progress=False)
    table = pq.read_table(out)
    assert table.column("record_id").to_pylist() == ["A00139", "A00139"]
    assert table.column("window_index").to_pylist() == [0, 0]
    sources = table.column("source").to_pylist()
    assert [Path(s).parent.name for s in sources] == ["training", "testing"]
    assert all(Path(s).name.startswith("A00139") for s in sources) and summary.records_ok == 2


def test_row_groups_stream(exported: tuple[ExportSummary, pa.Table]) -> None:
    summary, table = exported
    meta = pq.ParquetFile(summary.output).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [5, 5, 3]  # 13 rows in groups of row_group_size, whatever the batch size (4)


def test_cli_stride_and_bundled_default(
    model_dir: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(type(DOMAIN), "default_model_dir", lambda self: model_dir)
    out = tmp_path / "sub" / "emb.parquet"
    (tmp_path / "list.txt").write_text(f"# records, one a line\n{data_dir / 'A00139'}\n")
    inputs = ["--input", str(data_dir / "A00008.hea"), str(tmp_path / "missing"), "--input", str(tmp_path / "list.txt")]
    code = main(
        ["--domain", "ecg", *inputs, "--output", str(out), "--stride-s", "5", "--batch-size", "3", "--no-progress"]
    )
    assert code == 0  # one input was missing, the others were exported
    table = pq.read_table(out)
    half = WIN // 2
    assert table.column("start_sample").to_pylist() == [i * half for i in range(n_windows(18000, half))] + [0]
    assert table.column("record_id").to_pylist()[-2:] == ["A00008", "A00139"]
    printed = capsys.readouterr().out
    assert "12 rows from 2 records" in printed and "skipped 1 records" in printed and "missing" in printed


def test_cli_nothing_exported(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_broken(tmp_path / "bad")
    out = tmp_path / "emb.parquet"
    code = main(["--checkpoint", str(model_dir), "--input", str(folder), "--output", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "garbage" in err and "nosignal" in err and "nosignal.mat" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [folder]  # no temporary file left behind


def test_failed_export_keeps_old_output(
    pretrained: Pretrained, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "emb.parquet"
    out.write_bytes(b"previous export")
    with pytest.raises(NothingExported) as err:
        export_embeddings(pretrained, write_broken(tmp_path / "bad"), out, progress=False)
    assert len(err.value.summary.skipped) == 2

    def crash_midway(source: object, cfg: object, **kw: object):  # windows, then a crash mid-export
        it = DOMAIN.__class__.iter_windows(DOMAIN, source, cfg, **kw)
        yield from (next(it) for _ in range(5))
        raise RuntimeError("disk pulled")

    monkeypatch.setattr(DOMAIN, "iter_windows", crash_midway)
    with pytest.raises(RuntimeError, match="disk pulled"):
        export_embeddings(pretrained, data_dir, out, batch_size=2, row_group_size=2, progress=False)
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "emb.parquet"]
    monkeypatch.undo()
    export_embeddings(pretrained, data_dir / "A00139", out, progress=False)  # success replaces it
    assert pq.read_table(out).num_rows == 1


def test_cli_usage_errors(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "--checkpoint" in capsys.readouterr().out
    out = str(tmp_path / "e.parquet")
    assert main(["--checkpoint", str(tmp_path / "nope"), "--input", str(tmp_path), "--output", out]) == 2
    bad_card = tmp_path / "badcard"
    bad_card.mkdir()
    shutil.copy(model_dir / "encoder.safetensors", bad_card)
    (bad_card / "model_card.json").write_text('{"domain": "ecg"}')  # no config: the architecture is unknown
    assert main(["--checkpoint", str(bad_card), "--input", str(tmp_path), "--output", out]) == 2
    assert main(["--domain", "nosuchdomain", "--input", str(tmp_path), "--output", out]) == 2
    assert main(["--input", str(tmp_path), "--output", out]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "'config'" in err and "nosuchdomain" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["--input", str(tmp_path), "--output", out, "--batch-size", "0"])
    assert exc.value.code == 2


def test_non_finite_embeddings_are_left_out_and_named(
    pretrained: Pretrained, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window whose embedding is NaN (inputs beyond float32's squares) is no row: it is named in the skips."""
    import jepa_core.export as export

    real = export.embed_batch

    def poisoned(pre, batch, device):
        emb = real(pre, batch, device)
        for i, item in enumerate(batch):
            if item["record_id"] == "A00008" and item["window_index"] == 1:
                emb[i] = np.nan
        return emb

    monkeypatch.setattr(export, "embed_batch", poisoned)
    out = tmp_path / "emb.parquet"
    summary = export_embeddings(pretrained, data_dir, out, batch_size=4, progress=False)
    table = pq.read_table(out)
    rows = list(zip(table.column("record_id").to_pylist(), table.column("window_index").to_pylist(), strict=True))
    assert ("A00008", 1) not in rows and len(rows) == len(expected_rows()) - 1 == summary.rows
    assert np.isfinite(np.stack(table.column("embedding").to_numpy(zero_copy_only=False))).all()
    named = [msg for rid, msg in summary.skipped if rid == "A00008"]
    assert len(named) == 1 and "window 1 at 10 s gave a non-finite embedding" in named[0]
