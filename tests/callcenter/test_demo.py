"""`acd demo` as a user runs it: one command, a live center, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> dict[str, Any]:
    """A JSON object from the demo's HTTP API (anything else fails the test)."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        body: object = json.loads(resp.read())
    assert isinstance(body, dict), f"{url} answered {body!r}, not a JSON object"
    return body


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
        # keep reading its output so a full pipe can never block it
        threading.Thread(target=proc.stdout.read, daemon=True).start()
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
        assert proc.wait(timeout=60) == 0
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_embedded_redis_dies_with_a_killed_parent(tmp_path: Path) -> None:
    code = (
        "import sys, time; from acd.store.embedded import EmbeddedRedis; "
        f"r = EmbeddedRedis({str(tmp_path)!r}); r.start(); print(r.port, flush=True); "
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        (server,) = psutil.Process(parent.pid).children()
        assert str(port) in " ".join(server.cmdline())
        parent.kill()  # SIGKILL: no chance to clean up
        parent.wait()
        server.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def _start_demo(tmp_path: Path, *args: str, **env_extra: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, ACD_DATA_DIR=str(tmp_path), **env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "demo", "--port", "0", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        match = re.match(r"Wallboard: (http://\S+)", line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, match.group(1)
    proc.wait()
    raise AssertionError("the demo did not start:\n" + "".join(seen))


def _stop_demo(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_demo_with_five_queues_from_a_config(tmp_path: Path) -> None:
    """The 5th queue used to crash the history seed (an empty randint range)."""
    text = (ROOT / "config" / "demo.toml").read_text()
    for name in ("returns", "technical"):
        text += f'\n[[queues]]\nname = "{name}"\nservice_level_seconds = 90\n'
    config = tmp_path / "five.toml"
    config.write_text(text)
    proc, url = _start_demo(tmp_path, "--config", str(config))
    try:
        snap = _get(url + "api/snapshot")
        names = [q["name"] for q in snap["queues"]]
        assert names == ["support", "sales", "billing", "returns", "technical"]
    finally:
        assert _stop_demo(proc) == 0


def test_demo_big_floor_and_a_working_api_token(tmp_path: Path) -> None:
    proc, url = _start_demo(tmp_path, ACD_DEMO_QUEUES="12", ACD_DEMO_AGENTS="120")
    try:
        snap = _get(url + "api/snapshot")
        assert len(snap["queues"]) == 12
        assert len(snap["agents"]) == 120
    finally:
        assert _stop_demo(proc) == 0


def test_demo_prints_a_token_that_works(tmp_path: Path) -> None:
    env = dict(os.environ, ACD_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        url = token = agent = None
        for line in proc.stdout:
            if m := re.match(r"Wallboard: (http://\S+)", line):
                url = m.group(1)
            if m := re.search(r"Bearer (\S+)' \S+api/agents/(\w+)/pause", line):
                token, agent = m.group(1), m.group(2)
            if line.startswith("Press Ctrl-C"):
                break
        assert url and token and agent, "the demo did not print a usable API token"
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        request = urllib.request.Request(
            f"{url}api/agents/{agent}/pause", data=b'{"reason": "demo"}', method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (200, 202, 409)  # accepted, pending, or not logged in yet: not 401/403
    finally:
        assert _stop_demo(proc) == 0


def test_demo_prints_desk_passwords_that_sign_in(tmp_path: Path) -> None:
    """A user trying the demo signs in as the agent left to them and as the
    supervisor, with the passwords printed at start."""
    import http.cookiejar

    env = dict(os.environ, ACD_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", "demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        text = "".join(seen)
        agent = re.search(r"sign in as (\w+), password (\S+), then Log in; panel (\S+)", text)
        boss = re.search(r"supervisor: sign in as (\w+), password (\S+);", text)
        assert agent and boss, text
        base = agent.group(3).rsplit("/", 1)[0] + "/"
        assert "Agent desk: " + base + "signin" in text

        def signed_in(user: str, password: str) -> tuple[urllib.request.OpenerDirector, str]:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            form = urllib.parse.urlencode({"user": user, "password": password}).encode()
            with opener.open(base + "signin", data=form, timeout=10) as resp:
                return opener, resp.geturl()

        opener, landed = signed_in(agent.group(1), agent.group(2))
        assert landed == base + "agent"
        with opener.open(base + "api/desk", timeout=10) as resp:
            desk = json.loads(resp.read())
        # The simulated floor leaves this agent to the person.
        assert desk["agent"]["id"] == agent.group(1) and desk["agent"]["state"] == "logged_out"
        opener, landed = signed_in(boss.group(1), boss.group(2))
        assert landed == base + "supervisor"
        with opener.open(base + "api/desk", timeout=10) as resp:
            view = json.loads(resp.read())
        assert view["type"] == "supervisor" and len(view["agents"]) == 20
        try:
            signed_in(agent.group(1), "not-the-password")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        else:
            raise AssertionError("a wrong password signed in")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
