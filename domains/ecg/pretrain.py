"""Pretrain an ECG JEPA encoder on WFDB records.

python domains/ecg/pretrain.py --data-dir data/samples/ecg --out runs/ecg-demo
python domains/ecg/pretrain.py --config domains/ecg/configs/bundled.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from domains.ecg.domain import DOMAIN
from jepa_core.cli import pretrain_main

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "tiny.yaml"

if __name__ == "__main__":
    sys.exit(pretrain_main(DOMAIN, DEFAULT_CONFIG))
