"""``acd doctor`` against a small AMI responder on 127.0.0.1 that answers the
actions the doctor sends the way Asterisk 22 does (list actions as EventList,
CLI output as repeated ``Output:`` headers, a failed CLI command as
``Response: Error``, hang-up after a failed login). Sounds and music on hold
come from the fake Asterisk's media model, so its CLI output is what the
doctor reads."""

from __future__ import annotations

import gc
import io
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from acd.config.check import ACD_PROMPTS
from acd.tools.doctor import run_doctor
from telephony.fake import FakeMedia


@dataclass
class Pbx:
    secret: str = "doctor-secret"
    endpoints: dict[str, str] = field(default_factory=dict)  # name -> contact status or ""
    contexts: set[str] = field(default_factory=lambda: {"from-callers", "agents"})
    media: FakeMedia = field(default_factory=FakeMedia)
    # musiconhold.conf as GetConfig reads it: class -> settings.
    moh_conf: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"default": {"mode": "files", "directory": "/var/lib/asterisk/moh"}}
    )
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
                status = "Success"
                media_lines = pbx.media.cli(command)
                if media_lines is not None:
                    lines = media_lines
                    if lines and lines[0].startswith("ERROR:"):
                        status = "Error"  # CLI_FAILURE, as main/manager.c reports it
                elif command.startswith("queue show "):
                    queue = command.removeprefix("queue show ")
                    lines = (
                        [f"{queue} has 0 calls (max unlimited) in 'leastrecent' strategy"]
                        if queue in pbx.queues
                        else [f"No such queue: {queue}."]
                    )
                self.wfile.write(
                    _message(
                        ("Response", status),
                        aid,
                        ("Message", "Command output follows"),
                        *(("Output", line) for line in lines),
                    )
                )
            elif action == "GetConfig" and headers.get("Filename") == "musiconhold.conf":
                fields: list[tuple[str, str]] = []
                for c, (name, settings) in enumerate(pbx.moh_conf.items()):
                    fields.append((f"Category-{c:06d}", name))
                    fields += [
                        (f"Line-{c:06d}-{n:06d}", f"{k}={v}")
                        for n, (k, v) in enumerate(settings.items())
                    ]
                self.wfile.write(_message(("Response", "Success"), aid, *fields))
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


def config_file(
    tmp_path: Path, port: int, secret: str = "doctor-secret", queue: str = ""
) -> Path:
    """A one-queue, one-agent configuration; ``queue`` adds keys to the queue."""
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
{queue}
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
    assert "✓ core sounds the ACD plays: all 11 found" in text
    assert "✓ music class 'default' has 2 files" in text
    assert "✓ fallback queue 'support-fallback' exists" in text
    assert "✗" not in text
    assert state.actions[-1] == "Logoff"  # logged off exactly once


def test_failures_are_listed_and_exit_1(tmp_path: Path, pbx: tuple[Pbx, int]) -> None:
    state, port = pbx
    state.contexts.discard("agents")
    state.media.moh_classes = {"jazz": ["take-five"]}
    state.moh_conf = {"jazz": {"mode": "files", "directory": "/var/lib/asterisk/moh/jazz"}}
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


class _HangUpWins(socket.SocketIO):
    """A socket file whose Login write returns only after the reader thread
    has closed the file: Asterisk's hang-up after the refusal, seen first.

    This is the schedule that made test_wrong_secret fail under load: pyst2
    flushes after writing, and its reader closes the file on the server's
    hang-up, so the flush raised "I/O operation on closed file"."""

    def __init__(self, sock: socket.socket,
                 mode: Literal["r", "w", "rw", "rb", "wb", "rwb"]) -> None:
        super().__init__(sock, mode)
        self.closed_by_reader = threading.Event()

    def write(self, data: Any) -> int | None:
        written = super().write(data)
        if bytes(data).startswith(b"Action: Login"):
            assert self.closed_by_reader.wait(30), "the server never hung up"
        return written

    def close(self) -> None:
        super().close()
        self.closed_by_reader.set()


def test_refused_login_is_reported_when_the_hang_up_wins_the_race(
    tmp_path: Path, pbx: tuple[Pbx, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = pbx
    # pyst2 opens its file with socket.makefile(buffering=0), i.e. SocketIO.
    monkeypatch.setattr(socket, "SocketIO", _HangUpWins)
    code, text = doctor(config_file(tmp_path, port, secret="wrong-one"))
    assert code == 1
    assert "✗ log in as 'acd': Authentication failed" in text
    assert "connection lost" not in text


def test_missing_prompts_are_listed(tmp_path: Path, pbx: tuple[Pbx, int]) -> None:
    state, port = pbx
    # A stock Asterisk with the core sounds minus one, and one of our prompts.
    state.media.sounds = (set(ACD_PROMPTS) - {"queue-thereare"}) | {"acd-welcome-support"}
    queue = """greeting = "acd-welcome-support"
hours = { "mon-fri" = "08:00-18:00" }
closed_message = "acd-closed"
menu_prompt = "acd-support-menu"
menu = [{ digit = "1", language = "en" }]
"""
    code, text = doctor(config_file(tmp_path, port, queue=queue))
    assert code == 1, text
    assert "✓ prompt 'acd-welcome-support' found (en)" in text
    assert (
        "✗ prompt 'acd-closed' (queues[support].closed_message) not found: copy "
        "asterisk/sounds/en/acd-closed.wav (or your recording) into Asterisk's sounds/en "
        "directory"
    ) in text
    assert "✗ prompt 'acd-support-menu' (queues[support].menu_prompt) not found" in text
    assert (
        "✗ core sounds the ACD plays not found: queue-thereare (install Asterisk's core "
        "sounds, en)"
    ) in text
    assert "3 failed" in text


def test_music_class_without_files_is_not_called_undefined(
    tmp_path: Path, pbx: tuple[Pbx, int]
) -> None:
    state, port = pbx
    # Defined in musiconhold.conf, but its directory is empty: Asterisk does
    # not load it, so "moh show classes" does not list it.
    state.media.moh_classes = {"default": []}
    state.moh_conf = {"default": {"mode": "files", "directory": "moh"}}
    code, text = doctor(config_file(tmp_path, port))
    assert code == 1
    assert (
        "✗ music class 'default' has no files (directory moh, relative to astdatadir): "
        "Asterisk did not load it"
    ) in text
    assert "not defined" not in text


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
