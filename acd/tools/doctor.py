"""``acd doctor``: a one-shot check of a live Asterisk over AMI, as a checklist.

It uses pyst2's synchronous ``asterisk.manager.Manager``: a one-shot,
blocking conversation is exactly what that library is built for (the ACD's
long-running AMI client is the project's own asyncio code). Checked:

- the AMI answers and the ACD's user can log in;
- each agent's PJSIP endpoint exists and its softphone is registered and
  reachable (``PJSIPShowEndpoint``);
- the dialplan contexts the ACD relies on exist (``ShowDialPlan``);
- every prompt the configuration names, and the core sounds the ACD plays,
  can be played (``Command``: ``core show sound NAME``);
- each queue's music class is loaded and has files (``moh show classes``,
  ``moh show files``; ``GetConfig`` of musiconhold.conf tells a class with no
  files, which Asterisk does not load, from one that is not defined);
- each queue's fallback queue exists (``queue show``).

Exit codes: 0 all checks pass, 1 any check fails, 2 bad configuration.

pyst2 notes (checked against Asterisk 22): list actions return only their
``EventList: start`` response, the events arrive through registered event
handlers; Asterisk 22 sends CLI output as repeated ``Output:`` headers, which
pyst2's header dict collapses, so the raw lines are read instead; ``close()``
logs off by itself and must not follow ``logoff()``; ``send_action`` flushes
its socket file after writing, racing its own reader thread, which closes
that file the moment the server hangs up (see :class:`_UnflushedFile`).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from acd.config.check import ACD_PROMPTS, configured_prompts
from acd.config.loader import load_or_report
from acd.core.settings import Config

__all__ = ["DIALPLAN_CONTEXTS", "CheckResult", "diagnose", "run_doctor"]

# Contexts of the shipped asterisk/extensions.conf the ACD relies on.
DIALPLAN_CONTEXTS = ("from-callers", "agents")
_REACHABLE = frozenset({"reachable", "nonqualified"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    text: str


@dataclass(slots=True)
class _ListCollector:
    """Events of one list action, gathered by pyst2's dispatch thread."""

    events: list[Any] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class _UnflushedFile:
    """pyst2's socket file, with a ``flush`` that cannot fail.

    pyst2's ``send_action`` writes an action, then flushes the file; its reader
    thread closes that same file as soon as the server hangs up. Asterisk
    answers a refused login and hangs up at once (manager.c: ``action_login``
    returns -1), so under load the reader can close the file between the
    write and the flush: the flush raises "I/O operation on closed file" and
    the refusal, already received and queued, is never returned. pyst2 opens
    the file unbuffered (``makefile(buffering=0)``): every write goes straight
    to the socket and flush has nothing to do, so here it does nothing.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def write(self, data: bytes) -> Any:
        return self._raw.write(data)

    def flush(self) -> None:
        """Nothing to flush: the file is unbuffered."""

    def close(self) -> None:
        self._raw.close()

    def __iter__(self) -> Any:
        return iter(self._raw)


def _new_manager() -> Any:
    """A pyst2 ``Manager`` whose socket file is an :class:`_UnflushedFile`."""
    from asterisk.manager import Manager

    class _Manager(Manager):  # type: ignore[misc]
        _sock: Any

        def connect(self, host: str, port: int = 5038) -> Any:
            banner = super().connect(host, port)
            # Only this thread writes, and nothing is written before this.
            self._sock = _UnflushedFile(self._sock)
            return banner

    return _Manager()


class _Session:
    """One AMI conversation over pyst2, with list-action event collection."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.manager: Any = _new_manager()
        self._lists: dict[str, _ListCollector] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self.manager.register_event("*", self._on_event)

    def _on_event(self, event: Any, _manager: Any) -> bool:
        action_id = str(event.get_header("ActionID", ""))
        with self._lock:
            collector = self._lists.get(action_id)
        if collector is not None:
            if str(event.get_header("EventList", "")).lower() == "complete" or str(
                event.name
            ).endswith("Complete"):
                collector.done.set()
            else:
                collector.events.append(event)
        return False

    def _action_id(self) -> str:
        with self._lock:
            self._seq += 1
            return f"acd-doctor-{self._seq}"

    def action(self, name: str, **headers: str) -> Any:
        return self.manager.send_action({"Action": name, "ActionID": self._action_id(), **headers})

    def list_action(self, name: str, **headers: str) -> tuple[Any, list[Any]]:
        """Send a list action; return its response and the events of its list."""
        action_id = self._action_id()
        collector = _ListCollector()
        with self._lock:
            self._lists[action_id] = collector
        try:
            response = self.manager.send_action({"Action": name, "ActionID": action_id, **headers})
            if _is_success(response):
                collector.done.wait(self.timeout)
            return response, list(collector.events)
        finally:
            with self._lock:
                self._lists.pop(action_id, None)

    def command(self, command: str) -> tuple[Any, list[str]]:
        """Run a CLI command; return the response and its output lines."""
        response = self.action("Command", Command=command)
        lines: list[str] = []
        for raw in getattr(response, "response", []) or []:
            key, sep, value = str(raw).partition(":")
            if sep and key.strip() == "Output":
                lines.append(value.strip())
        data = str(getattr(response, "data", "") or "")
        if not lines and data:
            lines = [line for line in data.splitlines() if line.strip()]
        return response, lines


def _is_success(response: Any) -> bool:
    return response is not None and response.get_header("Response", "") in ("Success", "Follows")


def _message(response: Any) -> str:
    if response is None:
        return "no response"
    return str(response.get_header("Message", "") or response.get_header("Response", "?"))


def _report_connected(
    session: _Session, host: str, port: int, report: Callable[[CheckResult], None]
) -> None:
    title = getattr(session.manager, "title", None) or "AMI"
    version = getattr(session.manager, "version", "") or ""
    report(CheckResult(True, f"connected to {title} {version} at {host}:{port}"))


def diagnose(config: Config, report: Callable[[CheckResult], None]) -> None:
    """Run every check against the live Asterisk, calling ``report`` per result.

    Blocking; call :func:`run_doctor` for the deadline and the checklist.
    """
    from asterisk.manager import ManagerAuthException, ManagerException

    ami = config.ami
    # Probe first with a timeout: pyst2 connects without one, and leaks its
    # socket when the connection is refused.
    try:
        with socket.create_connection((ami.host, ami.port), timeout=ami.connect_timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        report(CheckResult(False, f"connect to AMI at {ami.host}:{ami.port}: {reason}"))
        return
    session = _Session(timeout=max(ami.connect_timeout, 1.0))
    try:
        session.manager.connect(ami.host, ami.port)
    except ManagerException as exc:
        report(CheckResult(False, f"connect to AMI at {ami.host}:{ami.port}: {_reason(exc)}"))
        return
    try:
        session.manager.login(ami.username, ami.secret)
    except ManagerAuthException as exc:
        _report_connected(session, ami.host, ami.port, report)
        report(CheckResult(False, f"log in as {ami.username!r}: {_reason(exc)}"))
        # Asterisk hangs up after a failed login; close() would try to log
        # off on a dying socket and could wait forever for the reply.
        return
    except (ManagerException, OSError, ValueError) as exc:
        _report_connected(session, ami.host, ami.port, report)
        report(CheckResult(False, f"AMI connection lost during login: {_reason(exc)}"))
        with contextlib.suppress(ManagerException, OSError, ValueError):
            session.manager.close()
        return
    _report_connected(session, ami.host, ami.port, report)
    try:
        report(CheckResult(True, f"logged in as {ami.username!r}"))
        _check_version(session, report)
        endpoint_contexts = _check_endpoints(session, config, report)
        _check_contexts(session, config, endpoint_contexts, report)
        _check_prompts(session, config, report)
        _check_music(session, config, report)
        _check_fallback_queues(session, config, report)
    except (ManagerException, OSError, ValueError) as exc:
        # pyst2 surfaces a dropped connection as any of these.
        report(CheckResult(False, f"AMI connection lost: {_reason(exc)}"))
    finally:
        # close() logs off when still connected; never call logoff() as well.
        # pyst2 may find its socket closed under it (Asterisk hung up first);
        # the checks are done by then, so that is not a failure.
        with contextlib.suppress(ManagerException, OSError, ValueError):
            session.manager.close()


def _reason(exc: BaseException) -> str:
    args = [str(a) for a in exc.args if a not in (None, "", 0)]
    return args[-1] if args else type(exc).__name__


def _check_version(session: _Session, report: Callable[[CheckResult], None]) -> None:
    response = session.action("CoreSettings")
    if _is_success(response):
        version = response.get_header("AsteriskVersion", "?")
        report(CheckResult(True, f"Asterisk {version}"))
    else:
        report(CheckResult(False, f"CoreSettings: {_message(response)}"))


def _check_endpoints(
    session: _Session, config: Config, report: Callable[[CheckResult], None]
) -> set[str]:
    contexts: set[str] = set()
    for agent in config.agents:
        tech, _, resource = agent.endpoint.partition("/")
        label = f"agent {agent.id} ({agent.name}), endpoint {agent.endpoint}"
        if tech.upper() != "PJSIP":
            report(CheckResult(False, f"{label}: not a PJSIP endpoint, cannot check"))
            continue
        response, events = session.list_action("PJSIPShowEndpoint", Endpoint=resource)
        if not _is_success(response):
            report(CheckResult(False, f"{label}: does not exist ({_message(response)})"))
            continue
        for event in events:
            if event.name == "EndpointDetail" and event.get_header("Context"):
                contexts.add(str(event.get_header("Context")))
        statuses = [
            str(e.get_header("Status", "")) for e in events if e.name == "ContactStatusDetail"
        ]
        reachable = [s for s in statuses if s.lower() in _REACHABLE]
        if reachable:
            report(CheckResult(True, f"{label}: softphone registered and reachable"))
        elif statuses:
            report(CheckResult(False, f"{label}: softphone {', '.join(statuses).lower()}"))
        else:
            report(CheckResult(False, f"{label}: no softphone registered"))
    return contexts


def _check_contexts(
    session: _Session,
    config: Config,
    endpoint_contexts: set[str],
    report: Callable[[CheckResult], None],
) -> None:
    wanted = list(DIALPLAN_CONTEXTS)
    targets = [q.exit_target for q in config.queues] + [
        q.business_hours.closed_target for q in config.queues
    ]
    for name in [*sorted(endpoint_contexts), *(t.split(",")[0] for t in targets if t)]:
        if name not in wanted:
            wanted.append(name)
    for name in wanted:
        response, _events = session.list_action("ShowDialPlan", Context=name)
        if _is_success(response):
            report(CheckResult(True, f"dialplan context {name!r} exists"))
        else:
            report(CheckResult(False, f"dialplan context {name!r}: {_message(response)}"))


def _sound_languages(lines: list[str]) -> list[str]:
    """Languages in which ``core show sound`` lists at least one format."""
    languages: list[str] = []
    language = ""
    for line in lines:
        if line.startswith("Language ") and line.endswith(":"):
            language = line.removeprefix("Language ").removesuffix(":").strip()
        elif line.startswith("Format:") and language and language not in languages:
            languages.append(language)
    return languages


def _ask_sound(session: _Session, name: str) -> tuple[bool | None, str]:
    """(True, languages) when Asterisk can play ``name``, (False, "") when it
    cannot, (None, reason) when it would not say."""
    # A sound that is not found is a CLI failure (Response: Error) whose
    # output says so: read the output either way.
    response, lines = session.command(f"core show sound {name}")
    languages = _sound_languages(lines)
    if languages:
        return True, ", ".join(languages)
    text = " ".join(lines)
    if "not found in index" in text or "No Formats Available" in text:
        return False, ""
    return None, text or _message(response)


def _check_prompts(
    session: _Session, config: Config, report: Callable[[CheckResult], None]
) -> None:
    wanted: dict[str, list[str]] = {}
    for key, name in configured_prompts(config):
        wanted.setdefault(name, []).append(key)
    for name, keys in wanted.items():
        named = f"prompt {name!r} ({', '.join(keys)})"
        if name.startswith("/"):
            # Asterisk's sound index covers only <astdatadir>/sounds.
            report(CheckResult(True, f"{named}: an absolute path, not checked"))
            continue
        found, detail = _ask_sound(session, name)
        if found:
            report(CheckResult(True, f"prompt {name!r} found ({detail})"))
        elif found is None:
            report(CheckResult(False, f"{named}: cannot ask Asterisk: {detail}"))
        else:
            report(
                CheckResult(
                    False,
                    f"{named} not found: copy asterisk/sounds/en/{name}.wav (or your "
                    "recording) into Asterisk's sounds/en directory",
                )
            )
    missing: list[str] = []
    for name in ACD_PROMPTS:
        found, detail = _ask_sound(session, name)
        if found is None:
            report(CheckResult(False, f"core sound {name!r}: cannot ask Asterisk: {detail}"))
            return
        if not found:
            missing.append(name)
    if missing:
        report(
            CheckResult(
                False,
                f"core sounds the ACD plays not found: {', '.join(missing)} "
                "(install Asterisk's core sounds, en)",
            )
        )
    else:
        report(CheckResult(True, f"core sounds the ACD plays: all {len(ACD_PROMPTS)} found"))


@dataclass(frozen=True, slots=True)
class _MohClass:
    mode: str
    directory: str


def _moh_classes(lines: list[str]) -> dict[str, _MohClass]:
    """``moh show classes``: ``Class: NAME`` then tab-indented details."""
    classes: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Class":
            current = classes.setdefault(value, {})
        elif current is not None:
            current[key] = value
    return {
        name: _MohClass(d.get("Mode", ""), d.get("Directory", "")) for name, d in classes.items()
    }


def _moh_file_counts(lines: list[str]) -> dict[str, int]:
    """``moh show files``: ``Class: NAME`` then one ``File:`` line per file."""
    counts: dict[str, int] = {}
    current = ""
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key.strip() == "Class":
            current = value.strip()
            counts.setdefault(current, 0)
        elif key.strip() == "File" and current:
            counts[current] += 1
    return counts


def _configured_moh(session: _Session) -> dict[str, dict[str, str]] | None:
    """The classes of musiconhold.conf as Asterisk reads the file
    (``GetConfig``), or None when Asterisk does not say."""
    response = session.action("GetConfig", Filename="musiconhold.conf")
    if response is None:
        return None
    if response.get_header("Response", "") != "Success":
        if "not found" in _message(response).lower():
            return {}
        return None
    categories: dict[str, str] = {}
    settings: dict[str, dict[str, str]] = {}
    for header, value in dict(response.headers).items():
        kind, _, index = str(header).partition("-")
        if kind == "Category":
            categories[index] = str(value)
        elif kind == "Line":
            category, _, _ = index.partition("-")
            key, _, setting = str(value).partition("=")
            settings.setdefault(category, {})[key.strip().lower()] = setting.strip()
    return {name: settings.get(index, {}) for index, name in categories.items()}


def _check_music(session: _Session, config: Config, report: Callable[[CheckResult], None]) -> None:
    wanted = sorted({q.music_class for q in config.queues})
    if not wanted:
        return
    response, lines = session.command("moh show classes")
    if not _is_success(response):
        report(CheckResult(False, f"music on hold: {_message(response)}"))
        return
    classes = _moh_classes(lines)
    counts: dict[str, int] = {}
    if any(c.mode in ("files", "playlist") for c in classes.values()):
        files_response, file_lines = session.command("moh show files")
        if _is_success(files_response):
            counts = _moh_file_counts(file_lines)
    configured: dict[str, dict[str, str]] | None = None
    for name in wanted:
        loaded = classes.get(name)
        if loaded is not None:
            if loaded.mode not in ("files", "playlist"):
                report(CheckResult(True, f"music class {name!r} exists (mode {loaded.mode})"))
            elif counts.get(name, 0):
                count = counts[name]
                files = f"{count} file{'s' if count != 1 else ''}"
                report(CheckResult(True, f"music class {name!r} has {files}"))
            else:
                where = loaded.directory
                report(CheckResult(False, f"music class {name!r} has no files in {where}"))
            continue
        # res_musiconhold does not load a "files" class whose directory has no
        # files: it is then in musiconhold.conf but not in "moh show classes".
        if configured is None:
            configured = _configured_moh(session)
        if configured is None:
            report(
                CheckResult(
                    False,
                    f"music class {name!r} is not loaded (not defined in musiconhold.conf, "
                    "or its directory has no files)",
                )
            )
        elif name in configured:
            directory = configured[name].get("directory", "")
            where = f"directory {directory}" if directory else "no directory"
            if directory and not directory.startswith("/"):
                where += ", relative to astdatadir"
            report(
                CheckResult(
                    False,
                    f"music class {name!r} has no files ({where}): Asterisk did not load it",
                )
            )
        else:
            report(CheckResult(False, f"music class {name!r} is not defined in musiconhold.conf"))


def _check_fallback_queues(
    session: _Session, config: Config, report: Callable[[CheckResult], None]
) -> None:
    for queue in config.queues:
        name = f"{queue.name}-fallback"
        response, lines = session.command(f"queue show {name}")
        text = " ".join(lines)
        if _is_success(response) and lines and "No such queue" not in text:
            report(CheckResult(True, f"fallback queue {name!r} exists"))
        else:
            reason = text or _message(response)
            report(CheckResult(False, f"fallback queue {name!r}: {reason}"))


def _marks(stream: TextIO) -> tuple[str, str]:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "OK  ", "FAIL"
    return "✓", "✗"


def run_doctor(config_path: str, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check the live Asterisk named by ``config_path``'s ``[ami]``; print a
    checklist; return 0 when every check passes, 1 otherwise, 2 on a bad file."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    config = load_or_report(config_path, stderr)
    if config is None:
        return 2
    if config.ami.port == 0:
        print(
            f"{config_path}: ami.port is 0 (any free port): nothing to connect to",
            file=stderr,
        )
        return 2
    good, bad = _marks(stdout)
    results: list[CheckResult] = []
    lock = threading.Lock()

    def report(result: CheckResult) -> None:
        with lock:
            results.append(result)
            print(f"{good if result.ok else bad} {result.text}", file=stdout, flush=True)

    print(
        f"acd doctor: Asterisk at {config.ami.host}:{config.ami.port} ({config_path})",
        file=stdout,
    )
    # pyst2 waits without timeouts; the worker thread bounds the whole check so a
    # silent server cannot hang the command.
    actions = len(config.agents) + len(configured_prompts(config)) + len(ACD_PROMPTS) + 10
    deadline = config.ami.connect_timeout * 3 + 2.0 + 0.5 * actions

    def work() -> None:
        try:
            diagnose(config, report)
        except Exception as exc:  # the thread boundary: report it, never a traceback
            report(CheckResult(False, f"unexpected error: {exc!r}"))

    worker = threading.Thread(target=work, name="acd-doctor", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        report(CheckResult(False, f"Asterisk stopped answering (no reply within {deadline:.0f} s)"))
    with lock:
        failed = sum(1 for r in results if not r.ok)
        passed = len(results) - failed
    elapsed = time.monotonic() - started
    print(f"{passed} passed, {failed} failed ({elapsed:.1f} s)", file=stdout)
    return 0 if failed == 0 and passed > 0 else 1
