#!/usr/bin/env bash
# Create .venv and install the suite with its dev tools; install the Debian packages the tests use.
# Idempotent: a second run only re-installs when pyproject.toml or EXTRAS changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}

# Package downloads can be cut off mid-file (seen in CI: a 55 MB wheel stopped at 26 MB six times in a row; the
# same error came on a machine whose disk was full, see the check below). Every network step is retried with a
# growing pause before the install gives up.
ATTEMPTS=${JEPA_INSTALL_ATTEMPTS:-5}
retry() {
  local n=1
  until "$@"; do
    if [ "$n" -ge "$ATTEMPTS" ]; then
      echo "[install] failed $ATTEMPTS times: $*" >&2
      return 1
    fi
    echo "[install] attempt $n of $ATTEMPTS failed; retrying in $((20 * n)) s: $*" >&2
    sleep $((20 * n))
    n=$((n + 1))
  done
}
APT_UPDATED=0
apt_install() {
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if [ "$APT_UPDATED" = 0 ]; then retry $SUDO apt-get update -qq && APT_UPDATED=1; fi  # once for both packages
  retry $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Acquire::Retries=5 "$@" >/dev/null
}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version}"'

if [ "${JEPA_SKIP_APT:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[install] apt: chromium (screenshot test)"
    # Only the two browser screenshot tests need it: an apt failure skips them (pytest -ra lists the skip)
    # instead of failing the whole install.
    apt_install chromium || echo "[install] warning: chromium did not install; the screenshot tests will be skipped" >&2
  else
    echo "[install] no apt-get: the browser screenshot test will be skipped"
  fi
fi

# open3d (the lidar extra) loads libusb-1.0 at import time.
if [ "${JEPA_SKIP_APT:-0}" != "1" ] && ! dpkg -s libusb-1.0-0 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[install] apt: libusb-1.0-0 (open3d, LiDAR readers)"
    apt_install libusb-1.0-0
  else
    echo "[install] no apt-get: install libusb-1.0 yourself, or open3d (PCD/PLY reading) fails to import"
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
EXTRAS=dev,lidar
stamp=.venv/.installed-$({ cat pyproject.toml; echo "$EXTRAS"; } | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "[install] pip install -e '.[$EXTRAS]' (torch 2.14.1 from the local wheel cache where present)"
  # A full disk shows up in pip as a cut-off download ("not enough bytes were received"): say so first.
  free_gb=$(df -Pk . | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
  if [ "$free_gb" -lt 10 ]; then
    echo "[install] warning: only ${free_gb} GiB free on $(pwd); the environment takes about 8 GiB" >&2
  fi
  retry .venv/bin/python -m pip install -q --retries 10 --timeout 60 --upgrade pip
  # pip >= 25.1 resumes a cut-off download in place; older pips start the file again on the next attempt.
  resume=()
  # (grep without -q reads all of the help: with pipefail an early exit could fail pip with SIGPIPE)
  if .venv/bin/python -m pip install --help | grep -- --resume-retries >/dev/null; then resume=(--resume-retries 20); fi
  retry .venv/bin/python -m pip install -q --retries 10 --timeout 60 "${resume[@]}" -e ".[$EXTRAS]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
