"""`acd demo` as a user runs it: one command, a live center, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_demo_runs_a_live_center_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, ACD_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            match = re.match(r"Wallboard: (http://\S+)", line)
            if match:
                url = match.group(1)
        assert url, "the demo never printed its wallboard URL"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("redis-server" in " ".join(c.cmdline()) for c in children)
        # within seconds: agents logged in and calls offered
        deadline = time.monotonic() + 30
        while True:
            snap = _get(url + "api/snapshot")
            queues = snap["queues"]
            assert isinstance(queues, list)
            offered = sum(q["offered"] for q in queues)
            logged_in = sum(1 for a in snap["agents"] if a["state"] != "logged_out")
            if offered >= 3 and logged_in >= 15:
                break
            assert time.monotonic() < deadline, f"demo not lively: {offered=} {logged_in=}"
            time.sleep(0.5)
        assert _get(url + "healthz")["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
