"""Pretrain a SAR-JEPA encoder on SAR chips (GeoTIFF, JPEG or PNG).

python domains/sar/pretrain.py --data-dir data/samples/sar/mstar --out runs/sar-demo
python domains/sar/pretrain.py --config domains/sar/configs/bundled.yaml
python domains/sar/pretrain.py --config domains/sar/configs/bundled.yaml data.target=ema out=runs/sar-bundled-ema
"""

from __future__ import annotations

import sys
from pathlib import Path

from domains.sar.domain import DOMAIN
from jepa_core.cli import pretrain_main

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "tiny.yaml"

if __name__ == "__main__":
    sys.exit(pretrain_main(DOMAIN, DEFAULT_CONFIG))
