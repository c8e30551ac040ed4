"""Launch a job as two torchrun "nodes" on this machine: one agent per node, 1 process each,
meeting through a c10d rendezvous on localhost, as ``torchrun --nnodes 2 --rdzv-backend c10d
--rdzv-endpoint HOST:PORT`` does across machines (each worker sees LOCAL_RANK 0, RANK 0 or 1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_nodes(script: Path, node_args: Sequence[Sequence[str]], run_id: str, timeout: float = 300) -> list[str]:
    """Run ``script`` with ``node_args[i]`` on node i; asserts both exit 0; their stdout+stderr."""
    launcher = ["-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", "--rdzv-backend=c10d",
                f"--rdzv-endpoint=127.0.0.1:{free_port()}", f"--rdzv-id={run_id}", "--max-restarts=0"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [sys.executable, *launcher, str(script), *args],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for args in node_args
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-4000:]
    return outputs
