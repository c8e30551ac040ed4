"""The real app in a real browser: ``streamlit run apps/app.py`` screenshotted with headless Debian chromium.

Streamlit renders client-side over a websocket, and chromium's ``--virtual-time-budget`` skips
ahead of it (the page is still a skeleton), so the browser is driven over the DevTools protocol:
open the ECG page, wait until the plots are drawn and the script has stopped, then take the DOM
and a PNG. Set JEPA_SCREENSHOT_DIR to keep the PNG.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SIZE = (1400, 1800)  # width, height of the page in CSS pixels
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", f"--window-size={SIZE[0]},{SIZE[1]}",
)  # fmt: skip
PAGE_TITLE = "ECG: heartbeat classes and rhythm"
RENDERED = """[document.querySelectorAll('.js-plotly-plot .main-svg').length,
  !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSkeleton"]'),
  !!document.querySelector('[data-testid="stException"]')]"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


class DevTools:
    """Just enough of the Chrome DevTools protocol: one page, evaluate, screenshot."""

    def __init__(self, ws) -> None:
        self.ws, self.ids, self.session = ws, itertools.count(1), None

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        msg = {"id": msg_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str, width: int, height: int) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def _render(url: str, png: Path, profile: Path, timeout: float = 90.0, min_plots: int = 5) -> str:
    """Open ``url`` in chromium, wait for the page to finish rendering, save a PNG; returns the DOM."""
    from websockets.sync.client import connect

    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
    browser = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        for line in browser.stderr:  # chromium prints its DevTools address on stderr
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                break
        else:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        with connect(match.group(1), max_size=None, open_timeout=30) as ws:
            tools = DevTools(ws)
            tools.open(url, *SIZE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                n_plots, busy, failed = tools.evaluate(RENDERED) or (0, True, False)
                if failed or (n_plots >= min_plots and not busy):
                    break
                time.sleep(0.5)
            time.sleep(1.0)  # plotly's last layout pass
            png.write_bytes(base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"]))
            return tools.evaluate("document.documentElement.outerHTML")
    finally:
        browser.kill()
        browser.wait(timeout=10)


def _serve_and_render(page: str, env: dict, tmp_path: Path, min_plots: int) -> tuple[str, Path]:
    """``streamlit run apps/app.py`` on a free port, render ``/<page>`` in chromium; returns (DOM, PNG path)."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "apps" / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", server, timeout=60)
        png = tmp_path / f"{page}.png"
        dom = _render(f"http://127.0.0.1:{port}/{page}", png, tmp_path / "profile", min_plots=min_plots)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if out := os.environ.get("JEPA_SCREENSHOT_DIR"):
        shutil.copy(png, Path(out) / png.name)
    return dom, png


def _assert_drawn(png: Path) -> None:
    from PIL import Image

    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[:2] == SIZE[::-1]
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) > 200, f"only {len(colours)} colours: a blank or skeleton page"
    assert (image.min(axis=2) < 128).mean() > 0.005, "almost no dark pixels: no text or traces drawn"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_ecg_page_renders_in_chromium(ecg_test_model: Path, tmp_path: Path):
    pytest.importorskip("websockets.sync.client")
    dom, png = _serve_and_render("ecg", {"JEPA_ECG_MODEL": str(ecg_test_model)}, tmp_path, min_plots=5)
    assert PAGE_TITLE in dom
    assert 'data-testid="stException"' not in dom and "Traceback" not in dom
    assert dom.count("js-plotly-plot") >= 5  # leads, beat timeline, probabilities, rhythm, map
    assert "ECG analysis" in dom  # the st.navigation entry, not a v1 'pages/' listing
    _assert_drawn(png)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_eeg_page_renders_in_chromium_with_the_bundled_model(tmp_path: Path):
    pytest.importorskip("websockets.sync.client")
    dom, png = _serve_and_render("eeg", {}, tmp_path, min_plots=3)
    assert "EEG: rest or mental arithmetic" in dom
    assert 'data-testid="stException"' not in dom and "Traceback" not in dom and "stAlertContentError" not in dom
    assert dom.count("js-plotly-plot") >= 3  # traces, P(task) over time, map
    _assert_drawn(png)
