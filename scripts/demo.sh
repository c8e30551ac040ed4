#!/usr/bin/env bash
# Install everything, then serve the Streamlit app on the bundled samples and models.
set -euo pipefail
cd "$(dirname "$0")/.."
JEPA_SKIP_APT=1 bash scripts/install.sh
exec .venv/bin/streamlit run apps/app.py --server.headless true --server.port "${PORT:-8501}" "$@"
