#!/usr/bin/env bash
# Create .venv and install the suite with its dev tools; install the Debian packages the tests use.
# Idempotent: a second run only re-installs when pyproject.toml or EXTRAS changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version}"'

if [ "${JEPA_SKIP_APT:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "[install] apt: chromium (screenshot test)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "[install] no apt-get: the browser screenshot test will be skipped"
  fi
fi

# open3d (the lidar extra) loads libusb-1.0 at import time.
if [ "${JEPA_SKIP_APT:-0}" != "1" ] && ! dpkg -s libusb-1.0-0 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "[install] apt: libusb-1.0-0 (open3d, LiDAR readers)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "[install] no apt-get: install libusb-1.0 yourself, or open3d (PCD/PLY reading) fails to import"
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
EXTRAS=dev,lidar
stamp=.venv/.installed-$({ cat pyproject.toml; echo "$EXTRAS"; } | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "[install] pip install -e '.[$EXTRAS]' (torch 2.14.1 from the local wheel cache where present)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
