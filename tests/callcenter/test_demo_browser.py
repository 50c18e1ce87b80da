"""The demo's wallboard in headless Chromium: what `make demo` shows a supervisor.

Opens the live demo, checks the numbers on screen against /api/snapshot,
stops the demo and starts it again on the same port, and watches the page
recover by itself. Saves a 1920x1080 screenshot (DEMO_SCREENSHOT overrides
the path).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from acd.store.embedded import free_port
from tests.wallboard.test_browser import chromium, numbers_match_live  # noqa: F401

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


class Demo:
    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = dict(os.environ, ACD_DATA_DIR=str(self.data_dir))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", "demo", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if re.match(r"Wallboard: http://", line):
                return
        raise AssertionError("the demo did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def test_demo_wallboard_in_a_browser(chromium: Any, tmp_path: Path) -> None:  # noqa: F811
    demo = Demo(free_port(), tmp_path)
    demo.start()
    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(demo.url)
        page.wait_for_selector('body[data-connected="yes"]', timeout=15_000)
        page.wait_for_selector(".agent", state="attached", timeout=15_000)
        numbers_match_live(page, demo.url)
        screenshot = Path(os.environ.get("DEMO_SCREENSHOT", tmp_path / "demo-wallboard.png"))
        page.screenshot(path=str(screenshot))
        print(f"\nscreenshot: {screenshot}")

        demo.stop()
        page.wait_for_selector("#banner:not([hidden])", timeout=15_000)
        demo.start()
        page.wait_for_selector("#banner[hidden]", state="attached", timeout=30_000)
        page.wait_for_selector(".agent", state="attached", timeout=15_000)
        numbers_match_live(page, demo.url)
        assert errors == []
    finally:
        demo.stop()
