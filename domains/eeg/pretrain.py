"""Pretrain an EEG-VJEPA encoder on EDF/BDF/FIF recordings.

python domains/eeg/pretrain.py --data-dir data/samples/eeg --out runs/eeg-demo
python domains/eeg/pretrain.py --config domains/eeg/configs/bundled.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from domains.eeg.domain import DOMAIN
from jepa_core.cli import pretrain_main

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "tiny.yaml"

if __name__ == "__main__":
    sys.exit(pretrain_main(DOMAIN, DEFAULT_CONFIG))
