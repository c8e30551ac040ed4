"""Pretrain a LiDAR AD-L-JEPA encoder (sparse BEV backbone) on unlabelled scans.

python domains/lidar/pretrain.py --data-dir data/samples/lidar --out runs/lidar-demo
python domains/lidar/pretrain.py --config domains/lidar/configs/bundled.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from domains.lidar.domain import DOMAIN
from jepa_core.cli import pretrain_main

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "tiny.yaml"

if __name__ == "__main__":
    sys.exit(pretrain_main(DOMAIN, DEFAULT_CONFIG))
