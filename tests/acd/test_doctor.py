"""``acd doctor`` against a small AMI responder on 127.0.0.1 that answers the
actions the doctor sends the way Asterisk 22 does (list actions as EventList,
CLI output as repeated ``Output:`` headers, hang-up after a failed login)."""

from __future__ import annotations

import gc
import io
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acd.doctor import run_doctor


@dataclass
class Pbx:
    secret: str = "doctor-secret"
    endpoints: dict[str, str] = field(default_factory=dict)  # name -> contact status or ""
    contexts: set[str] = field(default_factory=lambda: {"from-callers", "agents"})
    music: set[str] = field(default_factory=lambda: {"default"})
    queues: set[str] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)


def _message(*fields: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            self._converse()
        except OSError:
            pass  # the doctor's connection probe hangs up at once

    def _converse(self) -> None:
        pbx = self.server.pbx
        self.wfile.write(b"Asterisk Call Manager/11.0.0\r\n")
        while True:
            headers: dict[str, str] = {}
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                text = line.decode().rstrip("\r\n")
                if not text:
                    break
                key, _, value = text.partition(":")
                headers[key.strip()] = value.strip()
            if not headers:
                continue
            action = headers.get("Action", "")
            pbx.actions.append(action)
            aid = ("ActionID", headers.get("ActionID", ""))
            if action == "Login":
                if headers.get("Secret") != pbx.secret:
                    self.wfile.write(
                        _message(("Response", "Error"), aid, ("Message", "Authentication failed"))
                    )
                    return  # Asterisk hangs up after a failed login
                self.wfile.write(
                    _message(("Response", "Success"), aid, ("Message", "Authentication accepted"))
                )
            elif action == "Logoff":
                self.wfile.write(_message(("Response", "Goodbye"), aid, ("Message", "Bye")))
                return
            elif action == "CoreSettings":
                self.wfile.write(
                    _message(("Response", "Success"), aid, ("AsteriskVersion", "22.10.1"))
                )
            elif action == "PJSIPShowEndpoint":
                name = headers.get("Endpoint", "")
                if name not in pbx.endpoints:
                    self.wfile.write(
                        _message(
                            ("Response", "Error"),
                            aid,
                            ("Message", f"Unable to retrieve endpoint {name}"),
                        )
                    )
                    continue
                out = _message(("Response", "Success"), aid, ("EventList", "start"))
                out += _message(("Event", "EndpointDetail"), aid, ("ObjectName", name),
                                ("Context", "agents"))  # fmt: skip
                if pbx.endpoints[name]:
                    out += _message(("Event", "ContactStatusDetail"), aid, ("AOR", name),
                                    ("Status", pbx.endpoints[name]))  # fmt: skip
                out += _message(("Event", "EndpointDetailComplete"), aid, ("EventList", "Complete"))
                self.wfile.write(out)
            elif action == "ShowDialPlan":
                context = headers.get("Context", "")
                if context not in pbx.contexts:
                    self.wfile.write(
                        _message(("Response", "Error"), aid, ("Message", "Did not find context"))
                    )
                    continue
                out = _message(("Response", "Success"), aid, ("EventList", "start"))
                out += _message(("Event", "ListDialplan"), aid, ("Context", context))
                out += _message(("Event", "ShowDialPlanComplete"), aid, ("EventList", "Complete"))
                self.wfile.write(out)
            elif action == "Command":
                command = headers.get("Command", "")
                lines: list[str] = []
                if command == "moh show classes":
                    for name in sorted(pbx.music):
                        lines += [f"Class: {name}", "\tMode: files", "\tDirectory: moh"]
                elif command.startswith("queue show "):
                    queue = command.removeprefix("queue show ")
                    lines = (
                        [f"{queue} has 0 calls (max unlimited) in 'leastrecent' strategy"]
                        if queue in pbx.queues
                        else [f"No such queue: {queue}."]
                    )
                self.wfile.write(
                    _message(
                        ("Response", "Success"),
                        aid,
                        ("Message", "Command output follows"),
                        *(("Output", line) for line in lines),
                    )
                )
            else:
                self.wfile.write(_message(("Response", "Error"), aid, ("Message", "Invalid")))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, pbx: Pbx) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pbx = pbx


@pytest.fixture
def pbx() -> Iterator[tuple[Pbx, int]]:
    state = Pbx(
        endpoints={"1001": "Reachable", "1002": ""},
        queues={"support-fallback"},
    )
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        # pyst2's Manager closes its socket from __del__: collect it now, not
        # in the middle of the next test.
        gc.collect()


def config_file(tmp_path: Path, port: int, secret: str = "doctor-secret") -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(
        f"""
[ami]
host = "127.0.0.1"
port = {port}
secret = "{secret}"
connect_timeout = 2.0
[[queues]]
name = "support"
[[agents]]
id = "1001"
name = "Zoë Kowalczyk"
queues = {{ support = 80 }}
""",
        encoding="utf-8",
    )
    return path


def doctor(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(str(path), out=out, err=out)
    return code, out.getvalue()


def test_all_checks_pass(tmp_path: Path, pbx: tuple[Pbx, int]) -> None:
    state, port = pbx
    code, text = doctor(config_file(tmp_path, port))
    assert code == 0, text
    assert "✓ logged in as 'acd'" in text
    assert "✓ Asterisk 22.10.1" in text
    assert (
        "✓ agent 1001 (Zoë Kowalczyk), endpoint PJSIP/1001: softphone registered and reachable"
    ) in text
    assert "✓ dialplan context 'from-callers' exists" in text
    assert "✓ music class 'default' exists" in text
    assert "✓ fallback queue 'support-fallback' exists" in text
    assert "✗" not in text
    assert state.actions[-1] == "Logoff"  # logged off exactly once


def test_failures_are_listed_and_exit_1(tmp_path: Path, pbx: tuple[Pbx, int]) -> None:
    state, port = pbx
    state.contexts.discard("agents")
    state.music = {"jazz"}
    state.queues = set()
    path = config_file(tmp_path, port)
    path.write_text(
        path.read_text(encoding="utf-8")
        + '[[agents]]\nid = "1002"\nname = "Amara"\n[[agents]]\nid = "1003"\nname = "Lucas"\n',
        encoding="utf-8",
    )
    code, text = doctor(path)
    assert code == 1
    assert "✗ agent 1002 (Amara), endpoint PJSIP/1002: no softphone registered" in text
    assert "✗ agent 1003 (Lucas), endpoint PJSIP/1003: does not exist" in text
    assert "✗ dialplan context 'agents': Did not find context" in text
    assert "✗ music class 'default' is not defined in musiconhold.conf" in text
    assert "✗ fallback queue 'support-fallback': No such queue: support-fallback." in text
    assert "5 failed" in text


def test_wrong_secret(tmp_path: Path, pbx: tuple[Pbx, int]) -> None:
    _, port = pbx
    code, text = doctor(config_file(tmp_path, port, secret="wrong-one"))
    assert code == 1
    assert "✗ log in as 'acd': Authentication failed" in text
    assert "wrong-one" not in text


def test_nothing_listening(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, text = doctor(config_file(tmp_path, port))
    assert code == 1
    assert f"✗ connect to AMI at 127.0.0.1:{port}:" in text


def test_bad_config_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[ami]\nport = -5\n", encoding="utf-8")
    code, text = doctor(path)
    assert code == 2
    assert f"{path}: ami.port: -5 is out of range" in text
