"""``acd check``: validate a configuration file, and optionally cross-check it
against an Asterisk configuration directory.

Exit codes: 0 when everything is consistent (warnings may still be printed),
2 when there is any problem. Problems go to stderr, one per line, as
``FILE: key.path: what is wrong (expected ...)``; there is never a traceback.

The cross-check (``--asterisk DIR``) looks for the mistakes that otherwise only
show up on the first call: the AMI port, user or secret in ``manager.conf``
differ from the ACD's; a dialplan ``AGI()`` URL points at another FastAGI
host or port; an agent has no PJSIP endpoint; a queue has no
``<queue>-fallback`` queue in ``queues.conf`` or the dialplan does not fall
through to it when ``ACD_RESULT`` is empty, or would also send an answered
call there (no ``DIALSTATUS = ANSWER`` test first); a prompt the configuration
names is neither one of Asterisk's core sounds nor a file under
``DIR/sounds/en`` (or Asterisk's own sounds directory, when it is on this
machine); a music class is missing or has no files; a module the ACD needs is
switched off.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from acd.config.asterisk import (
    CORE_SOUNDS,
    AsteriskConfError,
    ConfFile,
    ConfSection,
    Dialplan,
    DialplanContext,
    Priority,
    data_dir,
    expand_globals,
    find_sound,
    load_conf,
    parse_dialplan,
)
from acd.config.loader import load_or_report
from acd.core.settings import Config

__all__ = [
    "ACD_PROMPTS",
    "AMI_READ_NEEDED",
    "AMI_WRITE_NEEDED",
    "REQUIRED_MODULES",
    "CheckReport",
    "config_warnings",
    "configured_prompts",
    "cross_check",
    "run_check",
]

# Event classes the ACD must receive and action classes it must be allowed.
AMI_READ_NEEDED = ("system", "call", "agent")
AMI_WRITE_NEEDED = ("system", "call", "originate", "reporting", "command")
REQUIRED_MODULES = (
    "res_pjsip.so",
    "chan_pjsip.so",
    "pbx_config.so",
    "app_dial.so",
    "res_agi.so",
    "app_queue.so",
    "res_musiconhold.so",
)
# Core sounds the ACD plays itself (acd/call_flow.py, acd/agents.py); a test
# keeps this in step with the code.
ACD_PROMPTS = (
    "queue-youarenext",
    "queue-thereare",
    "queue-callswaiting",
    "queue-holdtime",
    "queue-minute",
    "queue-minutes",
    "agent-pass",
    "agent-incorrect",
    "agent-loginok",
    "agent-loggedoff",
    "beep",
)
_PLAYING_APPS = frozenset({"playback", "background", "controlplayback"})
_TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", "[::]", ""})
_AGI_DEFAULT_PORT = 4573


@dataclass(slots=True)
class CheckReport:
    """Problems make ``acd check`` fail; warnings are printed but do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, file: str, path: str, what: str, expected: str = "") -> None:
        self.problems.append(_format(file, path, what, expected))

    def warning(self, file: str, path: str, what: str, expected: str = "") -> None:
        self.warnings.append(_format(file, path, what, expected))


def _format(file: str, path: str, what: str, expected: str) -> str:
    text = f"{file}: {path}: {what}" if path else f"{file}: {what}"
    return f"{text} (expected {expected})" if expected else text


def run_check(
    config_path: str,
    asterisk_dir: str | None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Validate ``config_path`` (and cross-check ``asterisk_dir``); print the
    result and return the exit code (0 good, 2 problems)."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    config = load_or_report(config_path, stderr, count=True)
    if config is None:
        return 2
    report = CheckReport(warnings=config_warnings(config))
    if asterisk_dir is not None:
        cross = cross_check(config, Path(asterisk_dir))
        report.problems.extend(cross.problems)
        report.warnings.extend(cross.warnings)
    for warning in report.warnings:
        print(f"warning: {warning}", file=stderr)
    if report.problems:
        for problem in report.problems:
            print(problem, file=stderr)
        count = len(report.problems)
        print(f"{config_path}: {count} problem{'s' if count != 1 else ''}", file=stderr)
        return 2
    print(_summary(config, asterisk_dir), file=stdout)
    return 0


def _summary(config: Config, asterisk_dir: str | None) -> str:
    queues = ", ".join(q.name for q in config.queues) or "none"
    redis = config.redis.url.split("@")[-1] if config.redis.url else "embedded"
    lines = [
        f"{config.source}: OK",
        f"  queues:    {len(config.queues)} ({queues})",
        f"  agents:    {len(config.agents)}",
        f"  AMI:       {config.ami.username}@{config.ami.host}:{_port(config.ami.port)}",
        f"  FastAGI:   {config.agi.host}:{_port(config.agi.port)}",
        f"  Redis:     {redis}",
        f"  wallboard: http://{config.wallboard.host}:{_port(config.wallboard.port)}/",
    ]
    if asterisk_dir is not None:
        lines.append(f"  Asterisk configuration in {asterisk_dir}: consistent")
    return "\n".join(lines)


def _port(port: int) -> str:
    return str(port) if port else "(any free port)"


def config_warnings(config: Config) -> list[str]:
    """Things that are valid but probably not what the user meant."""
    report = CheckReport()
    src = config.source
    if not config.ami.secret:
        report.warning(
            src, "ami.secret", "no AMI secret is set", "secret, secret_env or secret_file"
        )
    serving: dict[str, list[str]] = {q.name: [] for q in config.queues}
    for agent in config.agents:
        if not agent.queues:
            report.warning(src, f"agents[{agent.id}].queues", "serves no queue")
        for queue_name in agent.queues:
            serving.setdefault(queue_name, []).append(agent.id)
    for queue in config.queues:
        agents = [a for a in config.agents if queue.name in a.queues]
        if not agents and config.agents:
            report.warning(src, f"queues[{queue.name}]", "no agent serves this queue")
            continue
        floor = min((step.min_proficiency for step in queue.relaxation), default=None)
        for requirement in queue.required_skills:
            needed = (
                requirement.min_proficiency
                if floor is None
                else min(floor, requirement.min_proficiency)
            )
            if agents and not any(a.skills.get(requirement.skill, 0) >= needed for a in agents):
                report.warning(
                    src,
                    f"queues[{queue.name}].required_skills.{requirement.skill}",
                    f"no agent serving {queue.name} has {requirement.skill} >= {needed}",
                    "at least one agent able to take these calls",
                )
        if queue.overflow_queue and not queue.max_wait_seconds and not queue.max_length:
            report.warning(
                src,
                f"queues[{queue.name}].overflow_queue",
                "is never used: neither max_wait_seconds nor max_length is set",
            )
    return report.warnings


def configured_prompts(config: Config) -> list[tuple[str, str]]:
    """``(key path, sound)`` for every prompt the configuration makes the ACD
    play: greetings, menu prompts (of queues with a menu) and closed messages
    (of queues that can be closed)."""
    prompts: list[tuple[str, str]] = []
    for queue in config.queues:
        key = f"queues[{queue.name}]"
        if queue.greeting:
            prompts.append((f"{key}.greeting", queue.greeting))
        if queue.menu and queue.menu_prompt:
            prompts.append((f"{key}.menu_prompt", queue.menu_prompt))
        hours = queue.business_hours
        if hours.closed_message and (hours.weekly or hours.holidays):
            prompts.append((f"{key}.closed_message", hours.closed_message))
        cb = queue.callback
        if cb.enabled:
            for name in ("offer_prompt", "number_prompt", "confirm_prompt", "agent_prompt"):
                sound = getattr(cb, name)
                if sound:
                    prompts.append((f"{key}.callback.{name}", sound))
        if queue.survey:
            prompts.append((f"{key}.survey_prompt", queue.survey_prompt))
            if queue.survey_thanks:
                prompts.append((f"{key}.survey_thanks", queue.survey_thanks))
    return prompts


# ---------------------------------------------------------------------------
# Cross-check against an Asterisk configuration directory
# ---------------------------------------------------------------------------


def cross_check(config: Config, asterisk_dir: Path) -> CheckReport:
    """Compare ``config`` with the ``.conf`` files in ``asterisk_dir``.

    Prompts and music are also looked up in Asterisk's data directory
    (``astdatadir`` of ``asterisk_dir/asterisk.conf``, else
    ``/var/lib/asterisk``) when that directory exists on this machine.
    """
    report = CheckReport()
    if not asterisk_dir.is_dir():
        report.problem(
            str(asterisk_dir), "", "is not a directory", "the Asterisk configuration directory"
        )
        return report
    files: dict[str, ConfFile] = {}
    for name in (
        "manager.conf",
        "extensions.conf",
        "pjsip.conf",
        "queues.conf",
        "musiconhold.conf",
        "modules.conf",
    ):
        path = asterisk_dir / name
        if not path.exists():
            report.problem(str(path), "", "is missing", f"an Asterisk {name}")
            continue
        try:
            files[name] = load_conf(path)
        except AsteriskConfError as exc:
            where = f"line {exc.line}" if exc.line else ""
            report.problem(exc.file, where, exc.reason, "a valid Asterisk configuration file")
    dialplan: Dialplan | None = None
    if "extensions.conf" in files:
        try:
            dialplan = parse_dialplan(files["extensions.conf"])
        except AsteriskConfError as exc:
            report.problem(exc.file, f"line {exc.line}", exc.reason, "a valid dialplan")
    media = _Media(asterisk_dir, data_dir(asterisk_dir))
    _check_prompts(config, media, report)
    if "manager.conf" in files:
        _check_manager(config, files["manager.conf"], report)
    if dialplan is not None:
        _check_dialplan(config, files["extensions.conf"].path, dialplan, report)
        _check_playback(files["extensions.conf"].path, dialplan, media, report)
    if "pjsip.conf" in files:
        _check_pjsip(config, files["pjsip.conf"], dialplan, report)
    if "musiconhold.conf" in files:
        _check_music(config, files["musiconhold.conf"], files.get("queues.conf"), media, report)
    if "queues.conf" in files:
        _check_queues(config, files["queues.conf"], report)
    if "modules.conf" in files:
        _check_modules(files["modules.conf"], report)
    return report


@dataclass(frozen=True, slots=True)
class _Media:
    """Where prompts and music are looked for: the configuration's own
    ``sounds/`` directory, and Asterisk's data directory when it is here."""

    asterisk_dir: Path
    data_dir: Path

    @property
    def local_asterisk(self) -> bool:
        """Whether Asterisk's data directory exists on this machine."""
        return self.data_dir.is_dir()

    @property
    def sound_dirs(self) -> list[Path]:
        dirs = [self.asterisk_dir / "sounds"]
        if self.local_asterisk:
            dirs.append(self.data_dir / "sounds")
        return dirs

    def has_sound(self, name: str) -> bool:
        return name in CORE_SOUNDS or find_sound(name, self.sound_dirs) is not None

    def where(self) -> str:
        places = [f"{self.asterisk_dir / 'sounds' / 'en'}"]
        if self.local_asterisk:
            places.append(f"{self.data_dir / 'sounds'}")
        return " or ".join(places)


def _check_prompts(config: Config, media: _Media, report: CheckReport) -> None:
    install = media.data_dir / "sounds" / "en"
    for key, name in configured_prompts(config):
        if media.has_sound(name):
            continue
        if Path(name).is_absolute():
            report.problem(
                config.source,
                key,
                f"prompt {name!r}: no such sound file on this machine",
                f"{name}.wav (or another format Asterisk plays) where Asterisk runs",
            )
            continue
        expected = (
            f"{install / name}.wav"
            if media.local_asterisk
            else f"{media.asterisk_dir / 'sounds' / 'en' / name}.wav, installed into {install}/"
        )
        report.problem(
            config.source,
            key,
            f"prompt {name!r} not found in Asterisk's core sounds or {media.where()}",
            expected,
        )


def _check_playback(file: str, dialplan: Dialplan, media: _Media, report: CheckReport) -> None:
    """Sounds the dialplan plays by name: a typo or a sound of the extra
    sound packages plays nothing on a stock install."""
    for context, step in dialplan.priorities():
        if step.app.lower() not in _PLAYING_APPS or not step.args:
            continue
        for name in (n.strip() for n in step.args[0].split("&")):
            if not name or "$" in name or media.has_sound(name):
                continue
            report.warning(
                file,
                _where(context.name, step),
                f"plays {name!r}, which is neither a core sound the ACD knows of "
                f"nor a file in {media.where()}",
                "a sound that a stock Asterisk has, or its file in sounds/en",
            )


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE_WORDS


def _same_host(a: str, b: str) -> bool:
    a, b = a.strip("[]").lower(), b.strip("[]").lower()
    if a == b:
        return True
    loopback = {"localhost", "127.0.0.1", "::1"}
    if a in loopback and b in loopback:
        return True
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _check_manager(config: Config, conf: ConfFile, report: CheckReport) -> None:
    file, src, ami = conf.path, config.source, config.ami
    general = conf.find("general")
    if general is None or not _is_true(general.get("enabled")):
        report.problem(file, "general.enabled", "the AMI is not enabled", "enabled = yes")
        if general is None:
            return
    port_text = general.get("port", "5038") or "5038"
    if not port_text.isdigit():
        report.problem(file, "general.port", f"{port_text!r} is not a port number", "a port")
    elif ami.port and int(port_text) != ami.port:
        report.problem(
            file,
            "general.port",
            f"Asterisk listens on port {port_text} but {src} has ami.port = {ami.port}",
            "the same port in both",
        )
    bind = (general.get("bindaddr", "0.0.0.0") or "0.0.0.0").strip()
    if bind not in _ANY_ADDRESS and not _same_host(bind, ami.host):
        report.problem(
            file,
            "general.bindaddr",
            f"Asterisk listens on {bind} but {src} has ami.host = {ami.host!r}",
            "ami.host to be the address manager.conf binds to",
        )
    user = conf.find(ami.username)
    if user is None:
        report.problem(
            file,
            f"[{ami.username}]",
            f"no AMI user {ami.username!r} (ami.username in {src})",
            f"a section [{ami.username}] with its secret, read and write",
        )
        return
    if ami.secret and user.get("secret") != ami.secret:
        # Never print either secret: say only that they differ.
        report.problem(
            file,
            f"{ami.username}.secret",
            f"does not match the AMI secret of {src} (values not shown)",
            "the same secret in both",
        )
    for key, needed in (("read", AMI_READ_NEEDED), ("write", AMI_WRITE_NEEDED)):
        granted = {p.strip().lower() for p in (user.get(key) or "").split(",") if p.strip()}
        if "all" in granted:
            continue
        missing = [p for p in needed if p not in granted]
        if missing:
            report.problem(
                file,
                f"{ami.username}.{key}",
                f"lacks {','.join(missing)}",
                f"{key} to include {','.join(needed)}",
            )


@dataclass(frozen=True, slots=True)
class _AgiCall:
    context: DialplanContext
    exten: str
    step: Priority
    host: str
    port: int
    script: str
    query: dict[str, list[str]]


def _agi_calls(dialplan: Dialplan) -> list[_AgiCall]:
    calls: list[_AgiCall] = []
    for context, step in dialplan.priorities():
        if step.app.lower() != "agi" or not step.args:
            continue
        url = expand_globals(step.args[0], dialplan.globals)
        if not url.lower().startswith("agi://"):
            continue  # a local AGI script: not ours
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port or _AGI_DEFAULT_PORT
        except ValueError:
            port = -1
        calls.append(
            _AgiCall(
                context=context,
                exten=step.exten,
                step=step,
                host=parts.hostname or "",
                port=port,
                script=parts.path.strip("/"),
                query=urllib.parse.parse_qs(parts.query),
            )
        )
    return calls


def _where(call_context: str, step: Priority) -> str:
    return f"line {step.line}: {call_context},{step.exten},{step.number}"


def _check_callback_contexts(
    config: Config, file: str, dialplan: Dialplan, calls: list[_AgiCall], report: CheckReport
) -> None:
    """Every queue with callbacks needs its Originate context, handing the
    agent's channel to the ACD's ``callback`` script."""
    for queue in config.queues:
        cb = queue.callback
        if not cb.enabled:
            continue
        where = f"queues[{queue.name}].callback.context"
        if cb.context not in dialplan.contexts:
            report.problem(
                config.source, where,
                f"context {cb.context!r} does not exist in {file}",
                f"[{cb.context}] with exten => _X.,1,AGI(agi://.../callback?call=${{ACD_CALLBACK}})",
            )
        elif not any(c.script == "callback" and c.context.name == cb.context for c in calls):
            report.problem(
                file, f"[{cb.context}]",
                "does not hand the agent's channel to the ACD",
                "AGI(agi://HOST:PORT/callback?call=${ACD_CALLBACK})",
            )


def _check_dialplan(config: Config, file: str, dialplan: Dialplan, report: CheckReport) -> None:
    src, agi = config.source, config.agi
    calls = _agi_calls(dialplan)
    _check_callback_contexts(config, file, dialplan, calls, report)
    if not calls:
        report.problem(
            file,
            "",
            "no AGI(agi://...) call hands calls to the ACD",
            f"AGI(agi://{agi.host}:{agi.port or _AGI_DEFAULT_PORT}/inbound?queue=NAME)",
        )
    for call in calls:
        where = _where(call.context.name, call.step)
        if agi.host not in _ANY_ADDRESS and not _same_host(call.host, agi.host):
            report.problem(
                file,
                where,
                f"AGI goes to host {call.host!r} but the ACD listens on agi.host = "
                f"{agi.host!r} ({src})",
                "the same host in both",
            )
        if agi.port and call.port != agi.port:
            report.problem(
                file,
                where,
                f"AGI goes to port {call.port} but the ACD listens on agi.port = "
                f"{agi.port} ({src})",
                "the same port in both",
            )
    inbound_queues: set[str] = set()
    for call in calls:
        if call.script != "inbound":
            continue
        wanted = (call.query.get("queue") or [""])[0]
        where = _where(call.context.name, call.step)
        if config.queue(wanted) is None:
            report.problem(
                file,
                where,
                f"sends calls to queue {wanted!r}, which {src} does not define",
                "one of " + ", ".join(q.name for q in config.queues),
            )
            continue
        inbound_queues.add(wanted)
        _check_fallthrough(file, dialplan, call, wanted, report)
    reachable = {q.overflow_queue for q in config.queues} | {
        o.queue for q in config.queues for o in q.menu
    }
    for queue in config.queues:
        if queue.name not in inbound_queues and queue.name not in reachable:
            report.warning(
                file,
                "",
                f"no extension sends calls to queue {queue.name!r}",
                f"AGI(agi://.../inbound?queue={queue.name}) for its phone number",
            )
        for key, target in (
            ("exit_target", queue.exit_target),
            ("closed_target", queue.business_hours.closed_target),
        ):
            if target and not _target_exists(dialplan, target):
                report.problem(
                    file,
                    "",
                    f"has no extension for {target!r} (queues[{queue.name}].{key} in {src})",
                    "the context and extension to exist",
                )
    scripts = {call.script for call in calls}
    for script in ("agent/login", "agent/logout"):
        if script not in scripts:
            report.warning(
                file,
                "",
                f"no feature code runs AGI(agi://.../{script})",
                "feature codes for agents (see asterisk/extensions.conf)",
            )


def _tests_empty_result(step: Priority) -> bool:
    return "ACD_RESULT" in step.data and '""' in step.data


def _check_fallthrough(
    file: str, dialplan: Dialplan, call: _AgiCall, queue: str, report: CheckReport
) -> None:
    """After the AGI, the same extension must test AGISTATUS for FAILURE and
    reach ``Queue(<queue>-fallback)``: no caller is dropped when the ACD is down.
    When the test is on an empty ACD_RESULT (which also catches an ACD that
    died mid-call), a DIALSTATUS = ANSWER test must come first: a caller whose
    agent answered is finished, whatever happened to the ACD since."""
    steps = call.context.extensions.get(call.exten, ())
    after = [s for s in steps if s.number > call.step.number]
    # Either test works for an unreachable ACD; only ACD_RESULT also catches an
    # ACD that died mid-call (Asterisk then reports AGISTATUS=SUCCESS).
    tests_failure = any(
        _tests_empty_result(s) or ("AGISTATUS" in s.data and "FAILURE" in s.data) for s in after
    )
    fallback = f"{queue}-fallback"
    queues_used = [
        expand_globals(s.args[0], dialplan.globals)
        for s in after
        if s.app.lower() == "queue" and s.args
    ]
    if tests_failure and fallback in queues_used:
        _check_answered_guard(file, call, queue, steps, after, report)
        return
    what = (
        f"queue {queue}: nothing tests for an empty ACD_RESULT after the AGI"
        if not tests_failure
        else f"queue {queue}: the fall-through never reaches Queue({fallback})"
    )
    if queues_used and fallback not in queues_used:
        what += f" (it uses Queue({queues_used[0]}))"
    report.problem(
        file,
        _where(call.context.name, call.step),
        what,
        f'GotoIf($["${{ACD_RESULT}}" = ""]?fallback) then Queue({fallback}) '
        "in the same extension",
    )


_ANSWERED_GUARD = 'GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)'


def _goto_target(step: Priority) -> str:
    """The if-true target of ``GotoIf(cond?target[:else])``."""
    _, _, branches = step.data.rpartition("?")
    return branches.split(":")[0].strip()


def _check_answered_guard(
    file: str,
    call: _AgiCall,
    queue: str,
    steps: tuple[Priority, ...],
    after: list[Priority],
    report: CheckReport,
) -> None:
    fallback = f"{queue}-fallback"
    result_test = next((s for s in after if _tests_empty_result(s)), None)
    if result_test is None:
        return  # AGISTATUS only: an ACD that dies mid-call never reaches the fallback
    where = _where(call.context.name, call.step)
    guards = [
        s
        for s in after
        if s.number < result_test.number
        and s.app.lower() == "gotoif"
        and "DIALSTATUS" in s.data
        and '"ANSWER"' in s.data
        and "!=" not in s.data
    ]
    expected = (
        f"same => n,{_ANSWERED_GUARD} right after the AGI, before the ACD_RESULT test, "
        "and a label n(done),Hangup()"
    )
    if not guards:
        report.problem(
            file,
            where,
            f"queue {queue}: an answered call goes on to Queue({fallback}) if the ACD stops "
            "during the conversation: nothing tests DIALSTATUS = ANSWER before ACD_RESULT",
            expected,
        )
        return
    target = _goto_target(guards[0])
    labels = {s.label: s for s in steps if s.label}
    fallback_label = _goto_target(result_test)
    if "," in target or "$" in target:
        return  # another extension or a computed target: not followed
    if target not in labels:
        report.problem(
            file,
            _where(call.context.name, guards[0]),
            f"queue {queue}: the DIALSTATUS = ANSWER test jumps to label {target!r}, "
            "which this extension does not have",
            expected,
        )
    elif target == fallback_label:
        report.problem(
            file,
            _where(call.context.name, guards[0]),
            f"queue {queue}: an answered call jumps to label {target!r}, the way to "
            f"Queue({fallback})",
            expected,
        )


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (``_X.``, ``_NXX``, ``_[a-z].``) as a regex."""
    out: list[str] = []
    i = 1
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.find("]", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
                i = end
        elif char in "Xx":
            out.append("[0-9]")
        elif char in "Zz":
            out.append("[1-9]")
        elif char in "Nn":
            out.append("[2-9]")
        elif char == ".":
            out.append(".+")
        elif char == "!":
            out.append(".*")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _extension_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    try:
        return _pattern_regex(pattern).match(exten) is not None
    except re.error:
        return False


def _target_exists(dialplan: Dialplan, target: str) -> bool:
    context_name, exten, _ = (part.strip() for part in target.split(",", 2))
    seen: set[str] = set()
    pending = [context_name]
    while pending:  # follow include => like Asterisk does
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        context = dialplan.contexts.get(name)
        if context is None:
            continue
        if any(_extension_matches(p, exten) for p in context.extensions):
            return True
        pending.extend(context.includes)
    return False


def _endpoint_sections(conf: ConfFile, name: str, kind: str) -> ConfSection | None:
    return conf.find(name, type=kind)


def _check_pjsip(
    config: Config, conf: ConfFile, dialplan: Dialplan | None, report: CheckReport
) -> None:
    file, src = conf.path, config.source
    for agent in config.agents:
        tech, _, resource = agent.endpoint.partition("/")
        if tech.upper() != "PJSIP":
            report.warning(
                src,
                f"agents[{agent.id}].endpoint",
                f"{agent.endpoint!r} is not a PJSIP endpoint; not cross-checked",
            )
            continue
        endpoint = _endpoint_sections(conf, resource, "endpoint")
        if endpoint is None:
            report.problem(
                file,
                f"[{resource}]",
                f"no PJSIP endpoint for agent {agent.id} ({agent.name}) of {src}",
                f"a section [{resource}] with type = endpoint",
            )
            continue
        for aor in (a.strip() for a in (endpoint.get("aors") or "").split(",") if a.strip()):
            if _endpoint_sections(conf, aor, "aor") is None:
                report.problem(
                    file,
                    f"{resource}.aors",
                    f"names aor {aor!r}, which is not defined",
                    f"a section [{aor}] with type = aor",
                )
        if not endpoint.get("aors"):
            report.problem(
                file,
                f"{resource}.aors",
                f"endpoint of agent {agent.id} has no aors: the softphone cannot register",
                "aors = " + resource,
            )
        auth = (endpoint.get("auth") or "").strip()
        if auth and _endpoint_sections(conf, auth, "auth") is None:
            report.problem(
                file,
                f"{resource}.auth",
                f"names auth {auth!r}, which is not defined",
                f"a section [{auth}] with type = auth",
            )
        context = (endpoint.get("context") or "default").strip()
        if dialplan is not None and context not in dialplan.contexts:
            report.problem(
                file,
                f"{resource}.context",
                f"context {context!r} does not exist in extensions.conf",
                "the context with the agents' feature codes, e.g. agents",
            )


def _check_queues(config: Config, conf: ConfFile, report: CheckReport) -> None:
    file, src = conf.path, config.source
    for queue in config.queues:
        name = f"{queue.name}-fallback"
        section = conf.find(name)
        if section is None:
            report.problem(
                file,
                f"[{name}]",
                f"no fallback queue for queue {queue.name} of {src}",
                f"a queue [{name}] that callers reach when the ACD is down",
            )
            continue
        members = {m.split(",")[0].strip().lower() for m in section.get_all("member") if m.strip()}
        for agent in config.agents:
            if queue.name in agent.queues and agent.endpoint.lower() not in members:
                report.warning(
                    file,
                    f"{name}.member",
                    f"agent {agent.id} ({agent.name}) serves {queue.name} but is not a member",
                    f"member => {agent.endpoint},0,{agent.name}",
                )
        if (section.get("ringinuse") or "yes").strip().lower() in _TRUE_WORDS:
            report.warning(
                file, f"{name}.ringinuse", "agents on a call would be rung", "ringinuse = no"
            )


def _check_music(
    config: Config,
    conf: ConfFile,
    queues_conf: ConfFile | None,
    media: _Media,
    report: CheckReport,
) -> None:
    sections = {s.name: s for s in conf.concrete() if s.name != "general"}
    classes = set(sections)
    wanted: list[tuple[str, str, str]] = [
        (config.source, f"queues[{q.name}].music_class", q.music_class) for q in config.queues
    ]
    if queues_conf is not None:
        for section in queues_conf.concrete():
            music = section.get("musicclass")
            if music and section.name != "general":
                wanted.append((queues_conf.path, f"{section.name}.musicclass", music))
    for file, path, music in wanted:
        if music not in classes:
            report.problem(
                file,
                path,
                f"music class {music!r} is not defined in {conf.path}",
                "one of " + ", ".join(sorted(classes)) if classes else "a class there",
            )
    used = {music for _, _, music in wanted if music in classes}
    for name in sorted(used):
        _check_music_class(conf.path, sections[name], media, report)


def _moh_files(directory: Path) -> list[Path]:
    """The files res_musiconhold would play: not hidden, with an extension of
    at least two characters (``on_moh_file``)."""
    return [
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and len(p.suffix) >= 3
    ]


def _check_music_class(file: str, section: ConfSection, media: _Media, report: CheckReport) -> None:
    """A files-mode class loads only with files in its directory
    (res_musiconhold.c: ``init_files_class``); without them callers wait in
    silence. Other modes (custom, mp3, playlist) are not looked into."""
    name = section.name
    mode = (section.get("mode") or "").strip().lower()
    stock = media.data_dir / "moh"
    if not mode:
        report.problem(
            file,
            f"{name}.mode",
            f"music class {name!r} has no mode, so Asterisk ignores it",
            "mode = files",
        )
        return
    if mode != "files":
        return
    directory = (section.get("directory") or "").strip()
    if not directory:
        report.problem(
            file,
            f"{name}.directory",
            f"music class {name!r} has no directory, so Asterisk ignores it",
            f"directory = {stock}",
        )
        return
    path = Path(directory)
    if not path.is_absolute():
        report.warning(
            file,
            f"{name}.directory",
            f"music class {name!r}: directory {directory!r} is relative to Asterisk's data "
            "directory (astdatadir); with no files there Asterisk does not load the class "
            "and callers wait in silence",
            f"an absolute directory, e.g. directory = {stock}",
        )
        path = media.data_dir / path
    silence = "so Asterisk does not load the class and callers wait in silence"
    if path.is_dir():
        if not _moh_files(path):
            report.problem(
                file,
                f"{name}.directory",
                f"music class {name!r}: {path} has no files, {silence}",
                f"sound files (.wav, .gsm, .ulaw, ...) in {path}",
            )
    elif media.local_asterisk:
        report.problem(
            file,
            f"{name}.directory",
            f"music class {name!r}: {path} does not exist on this machine, {silence}",
            f"that directory with sound files, or directory = {stock}",
        )


def _modules(section: ConfSection, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for key in keys:
        found.update(v.strip().lower() for v in section.get_all(key))
    return found


def _check_modules(conf: ConfFile, report: CheckReport) -> None:
    section = conf.find("modules")
    if section is None:
        report.problem(conf.path, "[modules]", "is missing", "a [modules] section")
        return
    noload = _modules(section, ("noload",))
    loaded = _modules(section, ("load", "require", "preload", "preload-require"))
    autoload = _is_true(section.get("autoload"))
    for module in REQUIRED_MODULES:
        if module in noload:
            report.problem(
                conf.path,
                "modules.noload",
                f"{module} is switched off, but the ACD needs it",
                f"no 'noload = {module}'",
            )
        elif not autoload and module not in loaded:
            report.problem(
                conf.path,
                "modules",
                f"{module} is not loaded (autoload is off)",
                f"require = {module}",
            )
