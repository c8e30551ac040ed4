"""Sharded, resumable export into a directory: ranks, torchrun, SIGKILL and resume, mismatches, broken inputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from jepa_core.checkpoint import save_encoder
from jepa_core.config import load_config, to_plain
from jepa_core.export import export_embeddings
from jepa_core.export_cli import main
from jepa_core.export_parts import MANIFEST, part_records, resolve_records
from jepa_core.pretrained import load_pretrained
from tests.core import toy_domain
from tests.core.torchrun_nodes import run_two_nodes

REPO = Path(__file__).resolve().parents[2]
ECG_SAMPLES = REPO / "data" / "samples" / "ecg"
N_RECORDS = 10  # rec000..rec009 with 1, 2, 3, 1, 2, ... windows: 19 rows
RUNNER = f"""import sys
sys.path.insert(0, {str(REPO)!r})
from tests.core import toy_domain
from tests.core.torchrun_nodes import run_two_nodes
sys.modules["domains.toy.domain"] = toy_domain  # get_domain("toy") finds it
from jepa_core.export_cli import main
sys.exit(main())
"""


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "domains.toy.domain", toy_domain)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)


def toy_model(folder: Path, seed: int) -> Path:
    overrides = ["model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_heads=2"]
    cfg = load_config(toy_domain.ToyConfig, None, overrides)
    torch.manual_seed(seed)
    encoder = toy_domain.DOMAIN.build_encoder(cfg)
    card = {"name": "toy-tiny", "domain": "toy", "config": to_plain(cfg), "encoder_used_downstream": "ema_target"}
    return save_encoder(folder, encoder, card)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A toy model, ten toy records plus one broken file, and their single-file export (the reference)."""
    root = tmp_path_factory.mktemp("toy")
    model = toy_model(root / "model", seed=0)
    data = toy_domain.write_toy_records(root / "data", N_RECORDS)
    (data / "broken.npy").write_bytes(b"not numpy")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "domains.toy.domain", toy_domain)
        export_embeddings(load_pretrained(model), [data], root / "single.parquet", progress=False)
    runner = root / "runner.py"
    runner.write_text(RUNNER)
    return {"model": model, "data": data, "reference": pq.read_table(root / "single.parquet"), "runner": runner}


def cli(setup: dict, out: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(setup["model"]), "--input", str(setup["data"]), "--output", str(out), *extra]


def spawn(setup: dict, args: list[str], **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.Popen(
        [sys.executable, str(setup["runner"]), *args, "--no-progress"],
        cwd=REPO,
        env={**environ, "OMP_NUM_THREADS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_same_rows(got: pa.Table, want: pa.Table) -> None:
    """Same (record_id, window_index) keys, none twice, and the same embedding for each."""
    keys = list(zip(got["record_id"].to_pylist(), got["window_index"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys)), "duplicate rows"
    want_keys = list(zip(want["record_id"].to_pylist(), want["window_index"].to_pylist(), strict=True))
    assert sorted(keys) == sorted(want_keys)
    got_emb = dict(zip(keys, np.stack(got["embedding"].to_numpy(zero_copy_only=False)), strict=True))
    want_emb = np.stack(want["embedding"].to_numpy(zero_copy_only=False))
    for key, emb in zip(want_keys, want_emb, strict=True):
        np.testing.assert_allclose(got_emb[key], emb, rtol=1e-5, atol=1e-6)


def test_resolve_records_sorted_unique_and_keeps_unlistable(tmp_path: Path) -> None:
    from domains.ecg.domain import DOMAIN

    inputs = [ECG_SAMPLES / "A00008.hea", ECG_SAMPLES, tmp_path / "missing", ECG_SAMPLES / "A00002"]
    records = resolve_records(DOMAIN, inputs)
    assert records == sorted(records) and len(records) == len(set(records))
    assert str(ECG_SAMPLES / "A00008") in records and str(tmp_path / "missing") in records
    assert len(records) == len(list(ECG_SAMPLES.glob("*.hea"))) + 1
    assert resolve_records(DOMAIN, list(reversed(inputs))) == records  # argument order does not matter
    plan = {"part_size": 4, "n_records": 10}
    assert [part_records(plan, i) for i in range(3)] == [(0, 4), (4, 8), (8, 10)]


def test_two_ranks_from_env_equal_single_export(setup: dict, tmp_path: Path) -> None:
    out = tmp_path / "emb"
    args = cli(setup, out, "--part-size", "3")  # 11 records (one broken) -> 4 parts: ranks take 0, 2 and 1, 3
    procs = [spawn(setup, args, RANK=str(rank), WORLD_SIZE="2") for rank in (0, 1)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert "shard 0/2: wrote 2 parts of 4" in results[0][0] and "shard 1/2: wrote 2 parts of 4" in results[1][0]
    assert any("export complete: 19 rows in 4 parts\nskipped 1 records:\n  broken: " in r[0] for r in results)
    assert_same_rows(pq.read_table(out), setup["reference"])
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "complete" and manifest["rows"] == 19 and manifest["n_records"] == N_RECORDS + 1
    assert [p["file"] for p in manifest["parts"]] == [f"part-0000{i}-of-00004.parquet" for i in range(4)]
    assert sum(p["rows"] for p in manifest["parts"]) == 19 and manifest["skipped"][0][0] == "broken"


@pytest.mark.slow  # torchrun starts an agent and two workers: ~20 s on 2 busy cores
def test_torchrun_two_workers(setup: dict, tmp_path: Path) -> None:
    out = tmp_path / "emb"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += [str(setup["runner"]), *cli(setup, out, "--part-size", "2"), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "shard 0/2: wrote 3 parts of 6" in proc.stdout and "shard 1/2: wrote 3 parts of 6" in proc.stdout
    assert_same_rows(pq.read_table(out), setup["reference"])
    assert json.loads((out / MANIFEST).read_text())["status"] == "complete"


@pytest.mark.slow  # two torchrun agents, one worker each
def test_torchrun_two_nodes(setup: dict, tmp_path: Path) -> None:
    """Across machines sharding follows the global RANK, not each node's LOCAL_RANK (0 on both)."""
    out = tmp_path / "emb"
    args = [*cli(setup, out, "--part-size", "2"), "--no-progress"]
    logs = run_two_nodes(setup["runner"], [args, args], "export", timeout=120)
    assert sorted(log.count("shard 0/2: wrote 3 parts of 6") + 2 * log.count("shard 1/2: wrote 3 parts of 6")
                  for log in logs) == [1, 2]  # fmt: skip
    assert_same_rows(pq.read_table(out), setup["reference"])
    assert json.loads((out / MANIFEST).read_text())["status"] == "complete"


def wait_for(pattern: str, folder: Path, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} in {folder} after {timeout} s")


def test_sigkill_midway_then_rerun_resumes(setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "emb"
    args = cli(setup, out, "--part-size", "2")  # 6 parts, ~0.6 s each with the sleep below
    proc = spawn(setup, args, TOY_SLEEP_S="0.3")
    wait_for("_done/part-00000-of-00006.json", out)
    wait_for(".part-00001-of-00006.parquet.*.tmp", out)  # part 1 is half-written
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    first = out / "part-00000-of-00006.parquet"
    kept = first.stat().st_mtime_ns
    assert json.loads((out / MANIFEST).read_text())["status"] == "running"
    assert list(out.glob(".part-*.tmp")) and not (out / "_done" / "part-00005-of-00006.json").exists()

    assert main([*args, "--no-progress"]) == 0  # the same command again (in this process: faster)
    stdout = capsys.readouterr().out
    assert "kept" in stdout and "export complete: 19 rows in 6 parts" in stdout
    assert first.stat().st_mtime_ns == kept  # a finished part is not redone
    assert not list(out.glob(".*.tmp")) and not list((out / "_done").glob(".*.tmp"))
    assert_same_rows(pq.read_table(out), setup["reference"])


def test_damaged_part_is_redone(setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "emb"
    assert main([*cli(setup, out, "--part-size", "4"), "--no-progress"]) == 0
    part = out / "part-00001-of-00003.parquet"
    part.write_bytes(part.read_bytes()[:100])  # truncated behind the sidecar's back
    capsys.readouterr()
    assert main([*cli(setup, out, "--part-size", "4"), "--no-progress"]) == 0
    assert "wrote 1 parts of 3, kept 2 already complete" in capsys.readouterr().out
    assert_same_rows(pq.read_table(out), setup["reference"])


def test_other_checkpoint_or_inputs_refused(setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "emb"
    assert main([*cli(setup, out), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    other = toy_model(tmp_path / "other", seed=1)
    capsys.readouterr()
    assert main([*cli(setup, out), "--checkpoint", str(other), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "another checkpoint" in err and "--overwrite" in err and "Traceback" not in err
    subset = ["--input", str(setup["data"] / "rec001.npy")]
    assert main(["--checkpoint", str(setup["model"]), *subset, "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "another input list (11 records" in err and "1 records" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # nothing touched

    assert main([*cli(setup, out), "--checkpoint", str(other), "--overwrite", "--no-progress"]) == 0
    table = pq.read_table(out)
    assert set(table["checkpoint_sha256"].to_pylist()) == {load_pretrained(other).sha256}
    assert table.num_rows == 19


def test_only_broken_files(tmp_path: Path, setup: dict, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.npy").write_bytes(b"\x00\x01 not an array")
    np.save(bad / "flat.npy", np.zeros(5, dtype=np.float32))
    (bad / "empty.npy").write_bytes(b"")
    out = tmp_path / "emb"
    code = main(["--checkpoint", str(setup["model"]), "--input", str(bad), "--output", str(out), "--part-size", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "nothing exported" in err
    assert "garbage.npy: not a .npy array" in err and "flat.npy: shape (5,)" in err and "empty.npy" in err
    assert not out.exists()  # no half-written export left behind


def test_bundled_ecg_model_two_shards(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A real domain: the bundled ECG model, CinC records and broken ones, two shards run one after the other."""
    from tests.core.test_export import write_broken

    data = write_broken(tmp_path / "ecg")
    for rid in ("A00002", "A00032", "A00139"):
        for ext in (".hea", ".mat"):
            shutil.copy(ECG_SAMPLES / f"{rid}{ext}", data)
    single = tmp_path / "single.parquet"
    assert main(["--domain", "ecg", "--input", str(data), "--output", str(single), "--no-progress"]) == 0
    out = tmp_path / "emb"
    base = ["--domain", "ecg", "--input", str(data), "--output", str(out), "--part-size", "2", "--no-progress"]
    assert main([*base, "--num-shards", "2", "--shard-index", "1"]) == 0
    assert "not complete yet: parts 0, 2" in capsys.readouterr().out
    assert main([*base, "--num-shards", "2", "--shard-index", "0"]) == 0
    printed = capsys.readouterr().out
    assert (
        "export complete: 6 rows in 3 parts\nskipped 2 records:\n  garbage: " in printed and "nosignal.mat" in printed
    )
    assert_same_rows(pq.read_table(out), pq.read_table(single))
    assert pq.read_schema(out / "part-00000-of-00003.parquet").metadata[b"domain"] == b"ecg"


def test_usage_errors(setup: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    single = [
        "--checkpoint",
        str(setup["model"]),
        "--input",
        str(setup["data"]),
        "--output",
        str(tmp_path / "e.parquet"),
    ]
    assert main([*single, "--part-size", "3"]) == 2
    assert main([*single, "--num-shards", "2", "--shard-index", "0"]) == 2
    assert main([*cli(setup, tmp_path / "d"), "--num-shards", "2"]) == 2
    assert main([*cli(setup, tmp_path / "d"), "--num-shards", "2", "--shard-index", "2"]) == 2
    (tmp_path / "file").write_text("x")
    assert main(cli(setup, tmp_path / "file")) == 2
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(single) == 2
    err = capsys.readouterr().err
    assert "must be a directory" in err and "together" in err and "not a directory" in err and "[0, 2)" in err
    assert not (tmp_path / "e.parquet").exists() and not (tmp_path / "d").exists()
