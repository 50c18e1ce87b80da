"""Load and validate the TOML configuration into the frozen objects of ``acd.config.model``.

Every problem in a file is collected, not just the first: a user fixing a file
should see the whole list at once. Each problem reads
``FILE: key.path: what is wrong (expected ...)``. Values of secrets (the AMI
secret, the API token, agent PINs) never appear in a message.

Environment variables ``ACD_<SECTION>_<KEY>`` (for example ``ACD_AMI_PORT``,
``ACD_WALLBOARD_API_TOKEN``) override the scalar keys of the ``[ami]``,
``[agi]``, ``[redis]`` and ``[wallboard]`` sections; ``config/acd.toml``
documents the layout.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import itertools
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from acd.config.model import (
    AgentConfig,
    AgiConfig,
    AmiConfig,
    BoardConfig,
    BusinessHours,
    CallbackConfig,
    Config,
    MenuOption,
    QueueConfig,
    QueueDisplay,
    RedisConfig,
    RelaxationStep,
    SkillRequirement,
    SupervisorConfig,
    Threshold,
    TimeRange,
    WallboardConfig,
)
from acd.core.errors import ConfigError
from acd.core.routing import STRATEGIES

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ENV_PREFIX",
    "THRESHOLD_METRICS",
    "default_config",
    "load_config",
]

ENV_PREFIX: Final = "ACD_"

# Metric -> higher_is_better. Service level and abandon rate are percentages
# (0..100); waits are seconds; ``waiting`` is a number of callers.
THRESHOLD_METRICS: Final[Mapping[str, bool]] = {
    "service_level": True,
    "longest_wait": False,
    "waiting": False,
    "abandon_rate": False,
    "asa": False,
}

DEFAULT_THRESHOLDS: Final[Mapping[str, Threshold]] = {
    "service_level": Threshold(amber=80.0, red=60.0, higher_is_better=True),
    "longest_wait": Threshold(amber=60.0, red=120.0, higher_is_better=False),
    "waiting": Threshold(amber=3.0, red=6.0, higher_is_better=False),
    "abandon_rate": Threshold(amber=5.0, red=10.0, higher_is_better=False),
    "asa": Threshold(amber=30.0, red=60.0, higher_is_better=False),
}

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_AGENT_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SKILL_RE: Final = re.compile(r"^[\w][\w.-]{0,63}$")
_BOARD_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ENDPOINT_RE: Final = re.compile(r"^[A-Za-z0-9]+/[^\s/,&]+$")
_TARGET_RE: Final = re.compile(r"^[^,\s]+,[^,\s]+,[^,\s]+$")
_LANGUAGE_RE: Final = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9_.:%-]+$")
_SOUND_RE: Final = re.compile(r"^[^\s]*$")
_PIN_RE: Final = re.compile(r"^[0-9]{2,16}$")
_HASH_RE: Final = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")
_HASH_EXPECTED: Final = 'a hash from `acd passwd` ("scrypt$...")'
_CODE_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_TIME_RE: Final = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_DAYS: Final[Mapping[str, int]] = {
    "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
}  # fmt: skip
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_ENV_SECTIONS: Final = ("ami", "agi", "redis", "wallboard")


class _Missing:
    """Sentinel for a key that is absent from both the file and the environment."""


_MISSING: Final = _Missing()


def _show(value: object) -> str:
    """A short, TOML-looking rendering of a value for a problem message."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    return type(value).__name__


class _Problems:
    """Collects problems as ``FILE: key.path: what (expected ...)``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, path: str, what: str, expected: str = "") -> None:
        text = f"{self.source}: {path}: {what}" if path else f"{self.source}: {what}"
        if expected:
            text += f" (expected {expected})"
        self.items.append(text)


class _Value:
    """One looked-up value with where it came from (file key or environment)."""

    __slots__ = ("env_var", "path", "raw")

    def __init__(self, raw: object, path: str, env_var: str | None) -> None:
        self.raw = raw
        self.path = path
        self.env_var = env_var

    def describe(self, secret: bool) -> str:
        shown = "<hidden>" if secret else _show(self.raw)
        if self.env_var is not None:
            return f"{self.env_var}={shown}"
        return shown


class _Table:
    """A TOML table being read: typed getters that report problems and remember
    which keys are known, so leftovers (typos) can be reported at the end."""

    def __init__(
        self,
        data: Mapping[str, object],
        path: str,
        problems: _Problems,
        env: Mapping[str, str] | None = None,
        env_prefix: str = "",
    ) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.env = env or {}
        self.env_prefix = env_prefix
        self.known: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def env_name(self, key: str) -> str | None:
        return f"{self.env_prefix}{key.upper()}" if self.env_prefix else None

    def env_has(self, key: str) -> bool:
        name = self.env_name(key)
        return name is not None and name in self.env

    def lookup(self, key: str) -> _Value | _Missing:
        self.known.add(key)
        name = self.env_name(key)
        if name is not None and name in self.env:
            return _Value(self.env[name], self.key_path(key), name)
        if key in self.data:
            return _Value(self.data[key], self.key_path(key), None)
        return _MISSING

    def bad(self, value: _Value, what: str, expected: str, secret: bool = False) -> None:
        self.problems.add(value.path, f"{value.describe(secret)} {what}", expected)

    # -- typed getters ------------------------------------------------------

    def string(
        self,
        key: str,
        default: str,
        *,
        pattern: re.Pattern[str] | None = None,
        expected: str = "a string",
        required: bool = False,
        allow_empty: bool = True,
        secret: bool = False,
    ) -> str:
        value = self.lookup(key)
        if isinstance(value, _Missing):
            if required:
                self.problems.add(self.key_path(key), "is missing", expected)
            return default
        if not isinstance(value.raw, str):
            self.bad(value, f"is {_type_name(value.raw)}", expected, secret)
            return default
        if not value.raw and not allow_empty:
            self.bad(value, "is empty", expected, secret)
            return default
        if value.raw and pattern is not None and not pattern.match(value.raw):
            self.bad(value, "is not valid", expected, secret)
            return default
        return value.raw

    def integer(
        self, key: str, default: int, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        expected = _range_text("an integer", lo, hi)
        value = self.lookup(key)
        if isinstance(value, _Missing):
            return default
        raw = value.raw
        if value.env_var is not None and isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                self.bad(value, "is not an integer", expected)
                return default
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.bad(value, f"is {_type_name(raw)}", expected)
            return default
        if (lo is not None and raw < lo) or (hi is not None and raw > hi):
            self.bad(value, "is out of range", expected)
            return default
        return raw

    def number(
        self,
        key: str,
        default: float,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_exclusive: bool = False,
    ) -> float:
        base = "a number"
        expected = (
            f"{base} > {_num(lo)}"
            if lo_exclusive and lo is not None and hi is None
            else _range_text(base, lo, hi)
        )
        value = self.lookup(key)
        if isinstance(value, _Missing):
            return default
        raw = value.raw
        if value.env_var is not None and isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                self.bad(value, "is not a number", expected)
                return default
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.bad(value, f"is {_type_name(raw)}", expected)
            return default
        number = float(raw)
        if not math.isfinite(number):
            self.bad(value, "is not finite", expected)
            return default
        too_low = lo is not None and (number <= lo if lo_exclusive else number < lo)
        if too_low or (hi is not None and number > hi):
            self.bad(value, "is out of range", expected)
            return default
        return number

    def boolean(self, key: str, default: bool) -> bool:
        expected = "true or false"
        value = self.lookup(key)
        if isinstance(value, _Missing):
            return default
        raw = value.raw
        if value.env_var is not None and isinstance(raw, str):
            word = raw.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            self.bad(value, "is not a boolean", "true/false, yes/no, on/off or 1/0")
            return default
        if not isinstance(raw, bool):
            self.bad(value, f"is {_type_name(raw)}", expected)
            return default
        return raw

    def string_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...] | None:
        """An array of strings (from the environment: comma-separated).

        Returns None when the value was present but wrong (already reported)."""
        value = self.lookup(key)
        if isinstance(value, _Missing):
            return default
        raw = value.raw
        if value.env_var is not None and isinstance(raw, str):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if not isinstance(raw, list):
            self.bad(value, f"is {_type_name(raw)}", "an array of strings")
            return None
        items: list[str] = []
        for index, item in enumerate(raw):
            if not isinstance(item, str):
                self.problems.add(
                    f"{value.path}[{index}]", f"{_show(item)} is {_type_name(item)}", "a string"
                )
                continue
            items.append(item)
        return tuple(items)

    def table(self, key: str) -> _Table | None:
        """A sub-table (never from the environment); None when absent or wrong."""
        self.known.add(key)
        if key not in self.data:
            return None
        raw = self.data[key]
        if not isinstance(raw, dict):
            self.problems.add(self.key_path(key), f"{_show(raw)} is {_type_name(raw)}", "a table")
            return None
        return _Table(raw, self.key_path(key), self.problems)

    def array(self, key: str, expected: str) -> list[object] | None:
        self.known.add(key)
        if key not in self.data:
            return None
        raw = self.data[key]
        if not isinstance(raw, list):
            self.problems.add(self.key_path(key), f"{_show(raw)} is {_type_name(raw)}", expected)
            return None
        return raw

    def finish(self) -> None:
        """Report keys nobody asked for: almost always a typo."""
        for key in self.data:
            if key in self.known:
                continue
            close = difflib.get_close_matches(key, sorted(self.known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else _one_of(sorted(self.known))
            self.problems.add(self.key_path(key), "unknown key", hint)


def _num(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _range_text(base: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{base} from {_num(lo)} to {_num(hi)}"
    if lo is not None:
        return f"{base} >= {_num(lo)}"
    if hi is not None:
        return f"{base} <= {_num(hi)}"
    return base


def _one_of(names: list[str]) -> str:
    if not names:
        return "no keys here"
    return "one of " + ", ".join(names)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def default_config(source: str = "<defaults>") -> Config:
    """The built-in defaults: no queues, no agents, default wallboard thresholds."""
    return Config(source=source, wallboard=WallboardConfig(thresholds=dict(DEFAULT_THRESHOLDS)))


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the configuration at ``path``.

    ``env`` (default ``os.environ``) supplies the ``ACD_...`` overrides and the
    variables named by ``secret_env`` / ``api_token_env``. Raises
    :class:`acd.core.errors.ConfigError` listing every problem found.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    source = os.fspath(path)
    problems = _Problems(source)
    try:
        text = Path(source).read_bytes().decode("utf-8")
    except OSError as exc:
        problems.add("", f"cannot read the file: {exc.strerror or exc}", "a readable TOML file")
        raise ConfigError(problems.items) from None
    except UnicodeDecodeError as exc:
        problems.add("", f"is not UTF-8 text (byte {exc.start})", "a UTF-8 encoded TOML file")
        raise ConfigError(problems.items) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.add(*_syntax_problem(str(exc)))
        raise ConfigError(problems.items) from None
    config = _build(data, source, Path(source).parent, environ, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return config


def _syntax_problem(message: str) -> tuple[str, str, str]:
    """Turn tomllib's "Invalid value (at line 3, column 9)" into a located problem."""
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        what = message[: match.start()]
        return (
            f"line {match.group(1)}, column {match.group(2)}",
            f"TOML syntax error: {what}",
            "valid TOML",
        )
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        return ("end of file", f"TOML syntax error: {message[: match.start()]}", "valid TOML")
    return ("", f"TOML syntax error: {message}", "valid TOML")


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def _build(
    data: Mapping[str, object],
    source: str,
    base_dir: Path,
    env: Mapping[str, str],
    problems: _Problems,
) -> Config:
    root = _Table(data, "", problems)
    sections: dict[str, _Table] = {}
    for name in _ENV_SECTIONS:
        raw = data.get(name, {})
        root.known.add(name)
        if not isinstance(raw, dict):
            problems.add(name, f"{_show(raw)} is {_type_name(raw)}", f"a table [{name}]")
            raw = {}
        sections[name] = _Table(raw, name, problems, env, f"{ENV_PREFIX}{name.upper()}_")

    referenced_env: set[str] = set()
    ami = _ami(sections["ami"], base_dir, env, referenced_env)
    agi = _agi(sections["agi"])
    redis = _redis(sections["redis"])
    wallboard = _wallboard(sections["wallboard"], base_dir, env, referenced_env)

    queue_items = root.array("queues", "an array of tables [[queues]]") or []
    agent_items = root.array("agents", "an array of tables [[agents]]") or []
    supervisor_items = root.array("supervisors", "an array of tables [[supervisors]]") or []
    queues = _queues(queue_items, problems, wallboard.timezone)
    agents = _agents(agent_items, problems)
    supervisors = _supervisors(supervisor_items, problems)
    root.finish()
    for table in sections.values():
        table.finish()
    _unknown_env(env, sections, referenced_env, problems)

    _cross_references(queues, agents, wallboard, problems)
    return Config(
        source=source,
        ami=ami,
        agi=agi,
        redis=redis,
        wallboard=wallboard,
        queues=tuple(q for _, q in queues),
        agents=tuple(a for _, a in agents),
        supervisors=supervisors,
    )


def _supervisors(items: list[object], problems: _Problems) -> tuple[SupervisorConfig, ...]:
    out: list[SupervisorConfig] = []
    for path, raw, _ in _entries(items, "supervisors", "id", _AGENT_ID_RE, problems):
        t = _Table(raw, path, problems)
        sup_id = t.string("id", "", pattern=_AGENT_ID_RE, required=True, allow_empty=False,
                          expected='a supervisor id such as "sup1"')
        name = t.string("name", sup_id, allow_empty=False, expected="the supervisor's name")
        password_hash = t.string("password_hash", "", pattern=_HASH_RE, secret=True,
                                 required=True, allow_empty=False, expected=_HASH_EXPECTED)
        t.finish()
        if sup_id:
            out.append(SupervisorConfig(id=sup_id, name=name, password_hash=password_hash))
    return tuple(out)


def _secret(
    table: _Table,
    key: str,
    base_dir: Path,
    env: Mapping[str, str],
    referenced_env: set[str],
) -> str:
    """A secret given inline, by environment variable name, or by file path.

    The environment overrides (``ACD_AMI_SECRET`` ...) win over the file; within
    one of the two places only one of the three forms may be used.
    """
    forms = (key, f"{key}_env", f"{key}_file")
    for form in forms:
        table.known.add(form)
    from_env = [form for form in forms if table.env_has(form)]
    from_file = [form for form in forms if form in table.data]
    chosen = from_env or from_file
    if len(chosen) > 1:
        where = "environment variables" if from_env else "keys"
        names = [table.env_name(f) or f for f in chosen] if from_env else chosen
        table.problems.add(
            table.key_path(key),
            f"both {where} {' and '.join(names)} are set",
            f"only one of {', '.join(forms)}",
        )
        return ""
    if not chosen:
        return ""
    form = chosen[0]
    if form == key:
        return table.string(key, "", secret=True)
    name_or_path = table.string(form, "", allow_empty=False, expected="a non-empty string")
    if not name_or_path:
        return ""
    where = table.key_path(form)
    if form.endswith("_env"):
        referenced_env.add(name_or_path)
        if name_or_path not in env:
            table.problems.add(
                where,
                f"environment variable {name_or_path} is not set",
                f"{name_or_path} set to the {key.replace('_', ' ')}",
            )
            return ""
        value = env[name_or_path]
        if not value:
            table.problems.add(
                where, f"environment variable {name_or_path} is empty", f"a non-empty {key}"
            )
        return value
    secret_path = Path(name_or_path)
    if not secret_path.is_absolute():
        secret_path = base_dir / secret_path
    try:
        value = secret_path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        table.problems.add(
            where,
            f"cannot read {secret_path}: {reason}",
            f"a readable file holding the {key.replace('_', ' ')}",
        )
        return ""
    if not value:
        table.problems.add(where, f"{secret_path} is empty", f"a file holding the {key}")
    return value


def _ami(t: _Table, base_dir: Path, env: Mapping[str, str], referenced_env: set[str]) -> AmiConfig:
    d = AmiConfig()
    return AmiConfig(
        host=t.string(
            "host",
            d.host,
            pattern=_HOST_RE,
            allow_empty=False,
            expected="a host name or IP address",
        ),
        port=t.integer("port", d.port, lo=0, hi=65535),
        username=t.string(
            "username",
            d.username,
            pattern=re.compile(r"^[^\s\[\];]+$"),
            allow_empty=False,
            expected="an AMI user name (no spaces)",
        ),
        secret=_secret(t, "secret", base_dir, env, referenced_env),
        connect_timeout=t.number(
            "connect_timeout", d.connect_timeout, lo=0, hi=300, lo_exclusive=True
        ),
        ping_interval=t.number("ping_interval", d.ping_interval, lo=0, hi=3600, lo_exclusive=True),
    )


def _agi(t: _Table) -> AgiConfig:
    d = AgiConfig()
    peers = t.string_list("allowed_peers", d.allowed_peers)
    good_peers: list[str] = []
    for index, peer in enumerate(peers or ()):
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            t.problems.add(
                f"agi.allowed_peers[{index}]",
                f"{_show(peer)} is not an IP address or network",
                'an address or CIDR network such as "10.0.0.0/24"',
            )
            continue
        good_peers.append(peer)
    return AgiConfig(
        host=t.string(
            "host",
            d.host,
            pattern=_HOST_RE,
            allow_empty=False,
            expected="a host name or IP address to listen on",
        ),
        port=t.integer("port", d.port, lo=0, hi=65535),
        allowed_peers=tuple(good_peers) if peers is not None else d.allowed_peers,
        idle_timeout=t.number("idle_timeout", d.idle_timeout, lo=0, hi=86400, lo_exclusive=True),
    )


def _redis(t: _Table) -> RedisConfig:
    d = RedisConfig()
    return RedisConfig(
        url=t.string(
            "url",
            d.url,
            pattern=re.compile(r"^(redis|rediss|unix|redis\+sentinel|rediss\+sentinel)://\S*$"),
            expected='"" (embedded) or a redis://, rediss://, unix:// or '
            'redis+sentinel://host:port[,host:port]/master[/db] URL',
        ),
        key_prefix=t.string(
            "key_prefix",
            d.key_prefix,
            pattern=re.compile(r"^\S+$"),
            expected="a key prefix without spaces",
        ),
        retention_days=t.integer("retention_days", d.retention_days, lo=1, hi=36500),
        stream_max_len=t.integer("stream_max_len", d.stream_max_len, lo=1000),
        instance_lease_seconds=t.number(
            "instance_lease_seconds", d.instance_lease_seconds, lo=0.5, hi=300
        ),
        socket_timeout=t.number("socket_timeout", d.socket_timeout, lo=0.05, hi=300),
        connect_timeout=t.number("connect_timeout", d.connect_timeout, lo=0.05, hi=300),
        health_check_interval=t.number(
            "health_check_interval", d.health_check_interval, lo=0, hi=3600
        ),
    )


SERVICE_LEVEL_VARIANTS = ("default", "answered", "offered")


def _wallboard(
    t: _Table, base_dir: Path, env: Mapping[str, str], referenced_env: set[str]
) -> WallboardConfig:
    d = WallboardConfig()
    api_token = _secret(t, "api_token", base_dir, env, referenced_env)
    view_token = _secret(t, "view_token", base_dir, env, referenced_env)
    require = t.boolean("require_token_for_view", d.require_token_for_view)
    if require and not (api_token or view_token):
        t.problems.add(
            "wallboard.require_token_for_view",
            "is true but no token is set",
            "wallboard.view_token (or view_token_env / view_token_file) or api_token",
        )
    variant = t.string("service_level_variant", d.service_level_variant, allow_empty=False,
                       expected='"default", "answered" or "offered"')
    if variant not in SERVICE_LEVEL_VARIANTS:
        t.problems.add(
            "wallboard.service_level_variant",
            f"{variant!r} is not a service-level variant",
            '"default", "answered" or "offered"',
        )
        variant = d.service_level_variant
    timezone = _timezone(t, "timezone", d.timezone)
    thresholds = dict(DEFAULT_THRESHOLDS)
    thresholds.update(_thresholds(t.table("thresholds")))
    boards = _boards(t)
    queue_display = _queue_display(t.table("queues"))
    return WallboardConfig(
        host=t.string(
            "host",
            d.host,
            pattern=_HOST_RE,
            allow_empty=False,
            expected="a host name or IP address to listen on",
        ),
        port=t.integer("port", d.port, lo=0, hi=65535),
        api_token=api_token,
        require_token_for_view=require,
        view_token=view_token,
        service_level_variant=variant,
        timezone=timezone,
        language=t.string(
            "language",
            d.language,
            pattern=_LANGUAGE_RE,
            allow_empty=False,
            expected='a language code such as "en" or "pt-BR"',
        ),
        sound_on_red=t.boolean("sound_on_red", d.sound_on_red),
        thresholds=thresholds,
        boards=boards,
        title=t.string("title", d.title),
        queue_display=queue_display,
        pause_alert_seconds=t.number("pause_alert_seconds", d.pause_alert_seconds, lo=0),
        wrap_up_alert_seconds=t.number("wrap_up_alert_seconds", d.wrap_up_alert_seconds, lo=0),
        allowed_origins=t.string_list("allowed_origins", d.allowed_origins) or (),
        header_timeout=t.number("header_timeout", d.header_timeout, lo=0.5, hi=300),
        idle_timeout=t.number("idle_timeout", d.idle_timeout, lo=0.5, hi=3600),
        max_connections=t.integer("max_connections", d.max_connections, lo=10, hi=1_000_000),
        session_idle_minutes=t.number("session_idle_minutes", d.session_idle_minutes, lo=1,
                                      hi=24 * 60),
        session_max_hours=t.number("session_max_hours", d.session_max_hours, lo=0.1, hi=168),
        signin_max_failures=t.integer("signin_max_failures", d.signin_max_failures, lo=1,
                                      hi=1000),
        signin_window_seconds=t.integer("signin_window_seconds", d.signin_window_seconds,
                                        lo=10, hi=86400),
    )


def _thresholds(sub: _Table | None) -> dict[str, Threshold]:
    """``[...thresholds]``: metric -> {amber, red}; unknown metrics reported."""
    found: dict[str, Threshold] = {}
    if sub is None:
        return found
    for metric, raw in sub.data.items():
        if metric not in THRESHOLD_METRICS:
            close = difflib.get_close_matches(metric, list(THRESHOLD_METRICS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else _one_of(list(THRESHOLD_METRICS))
            sub.problems.add(sub.key_path(metric), "unknown metric", hint)
            continue
        threshold = _threshold(sub, metric, raw)
        if threshold is not None:
            found[metric] = threshold
    return found


def _queue_display(sub: _Table | None) -> dict[str, QueueDisplay]:
    """``[wallboard.queues.NAME]``: display_name and per-queue threshold overrides."""
    found: dict[str, QueueDisplay] = {}
    if sub is None:
        return found
    for name, raw in sub.data.items():
        path = sub.key_path(name)
        if not isinstance(raw, dict):
            sub.problems.add(path, f"{_show(raw)} is {_type_name(raw)}",
                             "a table with display_name and/or thresholds")
            continue
        q = _Table(raw, path, sub.problems)
        display_name = q.string("display_name", "")
        overrides = _thresholds(q.table("thresholds"))
        q.finish()
        found[name] = QueueDisplay(display_name=display_name, thresholds=overrides)
    return found


def _threshold(parent: _Table, metric: str, raw: object) -> Threshold | None:
    path = parent.key_path(metric)
    if not isinstance(raw, dict):
        parent.problems.add(
            path, f"{_show(raw)} is {_type_name(raw)}", "a table with amber and red"
        )
        return None
    t = _Table(raw, path, parent.problems)
    higher = THRESHOLD_METRICS[metric]
    percent = metric in ("service_level", "abandon_rate")
    hi = 100.0 if percent else None
    default = DEFAULT_THRESHOLDS[metric]
    before = len(t.problems.items)
    amber = t.number("amber", default.amber, lo=0, hi=hi)
    red = t.number("red", default.red, lo=0, hi=hi)
    t.finish()
    if len(t.problems.items) != before:
        return None
    if higher and red > amber:
        t.problems.add(
            path,
            f"red {_num(red)} is above amber {_num(amber)}",
            "red <= amber: a lower service level is worse",
        )
        return None
    if not higher and red < amber:
        t.problems.add(
            path,
            f"red {_num(red)} is below amber {_num(amber)}",
            f"red >= amber: a higher {metric.replace('_', ' ')} is worse",
        )
        return None
    return Threshold(amber=amber, red=red, higher_is_better=higher)


def _boards(t: _Table) -> tuple[BoardConfig, ...]:
    items = t.array("boards", "an array of tables [[wallboard.boards]]") or []
    boards: list[BoardConfig] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        path = f"wallboard.boards[{index}]"
        if not isinstance(raw, dict):
            t.problems.add(
                path, f"{_show(raw)} is {_type_name(raw)}", "a table [[wallboard.boards]]"
            )
            continue
        b = _Table(raw, path, t.problems)
        name = b.string(
            "name",
            "",
            pattern=_BOARD_RE,
            required=True,
            allow_empty=False,
            expected="a board name of lowercase letters, digits, - and _",
        )
        if name in seen:
            t.problems.add(
                f"{path}.name",
                f"duplicate board name {_show(name)}",
                f"unique names; also used by wallboard.boards[{seen[name]}]",
            )
        elif name:
            seen[name] = index
        title = b.string("title", "")
        queues = b.string_list("queues", ())
        if queues is not None and not queues:
            b.problems.add(
                f"{path}.queues", "is empty or missing", "a list of at least one queue name"
            )
        b.finish()
        if name and queues:
            boards.append(BoardConfig(name=name, queues=queues, title=title or name))
    return tuple(boards)


def _timezone(t: _Table, key: str, default: str) -> str:
    name = t.string(
        key, default, allow_empty=False, expected='an IANA time zone such as "Europe/Paris"'
    )
    if name == default:
        return name
    return name if _valid_timezone(t, key, name) else default


def _valid_timezone(t: _Table, key: str, name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        value = t.lookup(key)
        described = value.describe(False) if isinstance(value, _Value) else _show(name)
        t.problems.add(
            t.key_path(key),
            f"{described} is not a known time zone",
            'an IANA time zone such as "Europe/Paris" or "UTC"',
        )
        return False
    return True


# ---------------------------------------------------------------------------
# Queues
# ---------------------------------------------------------------------------


def _entries(
    items: list[object], section: str, id_key: str, id_re: re.Pattern[str], problems: _Problems
) -> Iterator[tuple[str, dict[str, object], str]]:
    """Yield (path, table, id) for each array entry; the path names the entry by
    its id when that is valid and unique, else by its index."""
    counts: dict[str, int] = {}
    for raw in items:
        if isinstance(raw, dict):
            ident = raw.get(id_key)
            if isinstance(ident, str):
                counts[ident] = counts.get(ident, 0) + 1
    first_index: dict[str, int] = {}
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            problems.add(
                f"{section}[{index}]",
                f"{_show(raw)} is {_type_name(raw)}",
                f"a table [[{section}]]",
            )
            continue
        ident = raw.get(id_key)
        if isinstance(ident, str) and id_re.match(ident) and counts[ident] == 1:
            path = f"{section}[{ident}]"
        else:
            path = f"{section}[{index}]"
        if isinstance(ident, str) and counts.get(ident, 0) > 1:
            if ident in first_index:
                problems.add(
                    f"{path}.{id_key}",
                    f"duplicate {_show(ident)}",
                    f"a unique {id_key}; also used by {section}[{first_index[ident]}]",
                )
                continue
            first_index[ident] = index
        yield path, raw, ident if isinstance(ident, str) else ""


def _queues(
    items: list[object], problems: _Problems, site_timezone: str
) -> list[tuple[str, QueueConfig]]:
    queues: list[tuple[str, QueueConfig]] = []
    for path, raw, _ in _entries(items, "queues", "name", _NAME_RE, problems):
        queue = _queue(_Table(raw, path, problems), site_timezone)
        if queue is not None:
            queues.append((path, queue))
    return queues


def _queue(t: _Table, site_timezone: str) -> QueueConfig | None:
    d = QueueConfig(name="")
    name = t.string(
        "name",
        "",
        pattern=_NAME_RE,
        required=True,
        allow_empty=False,
        expected="a queue name of letters, digits, - and _ (at most 64)",
    )
    strategy = t.string("strategy", d.strategy, expected=_one_of(sorted(STRATEGIES)))
    if strategy not in STRATEGIES:
        t.problems.add(
            t.key_path("strategy"),
            f"{_show(strategy)} is not a strategy",
            _one_of(sorted(STRATEGIES)),
        )
        strategy = d.strategy
    target_expected = 'a dialplan target "context,exten,priority"'
    queue = QueueConfig(
        name=name,
        service_level_seconds=t.integer(
            "service_level_seconds", d.service_level_seconds, lo=1, hi=86400
        ),
        short_abandon_seconds=t.integer(
            "short_abandon_seconds", d.short_abandon_seconds, lo=0, hi=3600
        ),
        wrap_up_seconds=t.integer("wrap_up_seconds", d.wrap_up_seconds, lo=0, hi=3600),
        ring_timeout_seconds=t.integer(
            "ring_timeout_seconds", d.ring_timeout_seconds, lo=1, hi=600
        ),
        max_wait_seconds=t.integer("max_wait_seconds", d.max_wait_seconds, lo=0, hi=86400),
        overflow_queue=t.string(
            "overflow_queue", "", pattern=_NAME_RE, expected="the name of another queue"
        ),
        exit_target=t.string("exit_target", "", pattern=_TARGET_RE, expected=target_expected),
        max_length=t.integer("max_length", d.max_length, lo=0, hi=100_000),
        music_class=t.string(
            "music_class",
            d.music_class,
            pattern=_NAME_RE,
            allow_empty=False,
            expected="a music-on-hold class from musiconhold.conf",
        ),
        announce_period_seconds=t.integer(
            "announce_period_seconds", d.announce_period_seconds, lo=0, hi=3600
        ),
        business_hours=_business_hours(t, site_timezone, target_expected),
        required_skills=_required_skills(t),
        relaxation=_relaxation(t),
        priority=t.integer("priority", d.priority, lo=0, hi=1000),
        strategy=strategy,
        menu_prompt=t.string(
            "menu_prompt", "", pattern=_SOUND_RE, expected="a sound file name without spaces"
        ),
        menu=_menu(t),
        auto_pause_after_misses=t.integer(
            "auto_pause_after_misses", d.auto_pause_after_misses, lo=0, hi=100
        ),
        greeting=t.string(
            "greeting", "", pattern=_SOUND_RE, expected="a sound file name without spaces"
        ),
        dispositions=_codes(t, "dispositions", ()),
        resolved_dispositions=_codes(t, "resolved_dispositions", d.resolved_dispositions),
        wrap_up_ends_on_disposition=t.boolean(
            "wrap_up_ends_on_disposition", d.wrap_up_ends_on_disposition
        ),
        callback=_callback(t.table("callback")),
        survey=t.boolean("survey", d.survey),
        survey_prompt=t.string("survey_prompt", d.survey_prompt, pattern=_SOUND_RE,
                               allow_empty=False, expected="a sound file name without spaces"),
        survey_thanks=t.string("survey_thanks", d.survey_thanks, pattern=_SOUND_RE,
                               expected="a sound file name without spaces"),
    )
    t.finish()
    return queue if name else None


def _codes(t: _Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    codes = t.string_list(key, default)
    if codes is None:
        return default
    good: list[str] = []
    for index, code in enumerate(codes):
        if not _CODE_RE.match(code):
            t.problems.add(f"{t.key_path(key)}[{index}]", f"{_show(code)} is not valid",
                           "a code of letters, digits, - and _ (at most 32)")
        elif code not in good:
            good.append(code)
    return tuple(good)


def _callback(t: _Table | None) -> CallbackConfig:
    d = CallbackConfig()
    if t is None:
        return d
    sound = "a sound file name without spaces"
    dial = t.string("dial", d.dial, allow_empty=False,
                    expected='a dial string with {number}, e.g. "PJSIP/{number}@trunk"')
    if "{number}" not in dial:
        t.problems.add(t.key_path("dial"), f"{_show(dial)} has no {{number}}",
                       'a dial string with {number}, e.g. "PJSIP/{number}@trunk"')
        dial = d.dial
    config = CallbackConfig(
        enabled=t.boolean("enabled", d.enabled),
        offer_after_seconds=t.integer("offer_after_seconds", d.offer_after_seconds, lo=0,
                                      hi=86400),
        key=t.string("key", d.key, pattern=re.compile(r"^[0-9*#]$"), allow_empty=False,
                     expected="one DTMF key: 0-9, * or #"),
        offer_prompt=t.string("offer_prompt", d.offer_prompt, pattern=_SOUND_RE, expected=sound),
        number_prompt=t.string("number_prompt", d.number_prompt, pattern=_SOUND_RE,
                               expected=sound),
        confirm_prompt=t.string("confirm_prompt", d.confirm_prompt, pattern=_SOUND_RE,
                                expected=sound),
        agent_prompt=t.string("agent_prompt", d.agent_prompt, pattern=_SOUND_RE, expected=sound),
        dial=dial,
        attempts=t.integer("attempts", d.attempts, lo=1, hi=20),
        retry_seconds=t.integer("retry_seconds", d.retry_seconds, lo=5, hi=86400),
        ring_seconds=t.integer("ring_seconds", d.ring_seconds, lo=5, hi=300),
        context=t.string("context", d.context, pattern=_NAME_RE, allow_empty=False,
                         expected="a dialplan context name"),
    )
    t.finish()
    return config


def _business_hours(t: _Table, site_timezone: str, target_expected: str) -> BusinessHours:
    d = BusinessHours()
    timezone = _timezone(t, "timezone", site_timezone)
    weekly: dict[int, list[TimeRange]] = {}
    hours = t.table("hours")
    if hours is not None:
        for key, raw in hours.data.items():
            hours.known.add(key)
            days = _day_keys(key)
            if days is None:
                hours.problems.add(
                    hours.key_path(key),
                    "is not a day or day range",
                    'mon, tue, wed, thu, fri, sat, sun or a range like "mon-fri"',
                )
                continue
            ranges = _time_ranges(hours, key, raw)
            if ranges is None:
                continue
            for day in days:
                weekly.setdefault(day, []).extend(ranges)
        for day, day_ranges in weekly.items():
            day_ranges.sort(key=lambda r: r.start)
            for before, after in itertools.pairwise(day_ranges):
                if after.start < before.end or before.end == dt.time.max:
                    name = next(k for k, v in _DAYS.items() if v == day)
                    hours.problems.add(
                        hours.path,
                        f"opening hours overlap on {name} "
                        f"({before.start:%H:%M}-{_end_text(before.end)} and "
                        f"{after.start:%H:%M}-{_end_text(after.end)})",
                        "each day listed once, with separate ranges",
                    )
                    break
        hours.finish()
    holidays: list[dt.date] = []
    for index, raw in enumerate(t.array("holidays", "an array of dates") or []):
        holiday = _date(raw)
        if holiday is None:
            t.problems.add(
                f"{t.key_path('holidays')}[{index}]",
                f"{_show(raw)} is not a date",
                'a date such as "2026-12-25"',
            )
        elif holiday not in holidays:
            holidays.append(holiday)
    return BusinessHours(
        weekly={day: tuple(r) for day, r in sorted(weekly.items())},
        holidays=tuple(holidays),
        timezone=timezone,
        closed_message=t.string(
            "closed_message",
            d.closed_message,
            pattern=_SOUND_RE,
            allow_empty=False,
            expected="a sound file name without spaces",
        ),
        closed_target=t.string("closed_target", "", pattern=_TARGET_RE, expected=target_expected),
    )


def _end_text(end: dt.time) -> str:
    return "24:00" if end == dt.time.max else f"{end:%H:%M}"


def _day_keys(key: str) -> list[int] | None:
    word = key.strip().lower()
    if word in _DAYS:
        return [_DAYS[word]]
    first, sep, last = word.partition("-")
    if sep and first in _DAYS and last in _DAYS and _DAYS[first] <= _DAYS[last]:
        return list(range(_DAYS[first], _DAYS[last] + 1))
    return None


def _time_ranges(hours: _Table, key: str, raw: object) -> list[TimeRange] | None:
    expected = '"HH:MM-HH:MM", several separated by commas, such as "08:00-12:00, 13:00-18:00"'
    path = hours.key_path(key)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        text = ",".join(str(item) for item in raw)
    elif isinstance(raw, str):
        text = raw
    else:
        hours.problems.add(path, f"{_show(raw)} is {_type_name(raw)}", expected)
        return None
    ranges: list[TimeRange] = []
    for part in (p.strip() for p in text.split(",")):
        start_text, sep, end_text = part.partition("-")
        start = _clock(start_text.strip(), is_end=False)
        end = _clock(end_text.strip(), is_end=True)
        if not sep or start is None or end is None:
            hours.problems.add(path, f"{_show(part)} is not a time range", expected)
            return None
        if end != dt.time.max and end <= start:
            hours.problems.add(
                path,
                f"{_show(part)} ends before it starts",
                "start before end on the same day (split overnight hours)",
            )
            return None
        ranges.append(TimeRange(start=start, end=end))
    return ranges


def _clock(text: str, *, is_end: bool) -> dt.time | None:
    match = _TIME_RE.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        return dt.time.max if is_end and minute == 0 else None
    return dt.time(hour, minute)


def _date(raw: object) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return None
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return None
    return None


def _proficiency_map(
    t: _Table, key: str, name_re: re.Pattern[str], what: str
) -> dict[str, int] | None:
    sub = t.table(key)
    if sub is None:
        return None
    result: dict[str, int] = {}
    for name in list(sub.data):
        if not name_re.match(name):
            sub.known.add(name)
            sub.problems.add(
                sub.key_path(name), f"is not a valid {what} name", "letters, digits, -, _ and ."
            )
            continue
        value = sub.integer(name, 0, lo=1, hi=100)
        if value:
            result[name] = value
    sub.finish()
    return result


def _required_skills(t: _Table) -> tuple[SkillRequirement, ...]:
    skills = _proficiency_map(t, "required_skills", _SKILL_RE, "skill") or {}
    return tuple(
        SkillRequirement(skill=name, min_proficiency=level) for name, level in skills.items()
    )


def _relaxation(t: _Table) -> tuple[RelaxationStep, ...]:
    items = t.array("relaxation", "an array of { after_seconds, min_proficiency } tables") or []
    steps: list[RelaxationStep] = []
    for index, raw in enumerate(items):
        path = f"{t.key_path('relaxation')}[{index}]"
        if not isinstance(raw, dict):
            t.problems.add(
                path,
                f"{_show(raw)} is {_type_name(raw)}",
                "a table { after_seconds = 60, min_proficiency = 30 }",
            )
            continue
        step = _Table(raw, path, t.problems)
        before = len(step.problems.items)
        after = step.number("after_seconds", 0.0, lo=0, hi=86400, lo_exclusive=True)
        level = step.integer("min_proficiency", 0, lo=1, hi=100)
        for key in ("after_seconds", "min_proficiency"):
            if key not in raw:
                step.problems.add(
                    step.key_path(key), "is missing", "both after_seconds and min_proficiency"
                )
        step.finish()
        if len(step.problems.items) != before:
            continue
        if steps and after <= steps[-1].after_seconds:
            t.problems.add(
                path,
                f"after_seconds {_num(after)} does not follow {_num(steps[-1].after_seconds)}",
                "steps in increasing wait order",
            )
            continue
        if steps and level > steps[-1].min_proficiency:
            t.problems.add(
                path,
                f"min_proficiency {level} is stricter than the step before",
                "a relaxation only lowers min_proficiency",
            )
            continue
        steps.append(RelaxationStep(after_seconds=after, min_proficiency=level))
    return tuple(steps)


def _menu(t: _Table) -> tuple[MenuOption, ...]:
    items = t.array("menu", "an array of { digit, queue, language } tables") or []
    options: list[MenuOption] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        path = f"{t.key_path('menu')}[{index}]"
        if not isinstance(raw, dict):
            t.problems.add(
                path,
                f"{_show(raw)} is {_type_name(raw)}",
                'a table { digit = "1", queue = "sales" }',
            )
            continue
        m = _Table(raw, path, t.problems)
        digit = m.string(
            "digit",
            "",
            pattern=re.compile(r"^[0-9*#]$"),
            required=True,
            allow_empty=False,
            expected='one key "0"-"9", "*" or "#" as a string',
        )
        queue = m.string("queue", "", pattern=_NAME_RE, expected="a queue name")
        language = m.string(
            "language", "", pattern=_LANGUAGE_RE, expected='a language code such as "fr"'
        )
        m.finish()
        if digit in seen:
            t.problems.add(
                f"{path}.digit", f"key {_show(digit)} is used twice", "one option per key"
            )
            continue
        if digit and not queue and not language:
            t.problems.add(
                path,
                "has neither queue nor language",
                "a queue to send the caller to, a language, or both",
            )
            continue
        if digit:
            seen.add(digit)
            options.append(MenuOption(digit=digit, queue=queue, language=language))
    return tuple(options)


# ---------------------------------------------------------------------------
# Agents
# ---------------------------------------------------------------------------


def _agents(items: list[object], problems: _Problems) -> list[tuple[str, AgentConfig]]:
    agents: list[tuple[str, AgentConfig]] = []
    for path, raw, _ in _entries(items, "agents", "id", _AGENT_ID_RE, problems):
        t = _Table(raw, path, problems)
        agent_id = t.string(
            "id",
            "",
            pattern=_AGENT_ID_RE,
            required=True,
            allow_empty=False,
            expected='an agent id such as "1001" (letters, digits, ., -, _)',
        )
        name = t.string("name", agent_id, allow_empty=False, expected="the agent's name")
        endpoint = t.string(
            "endpoint",
            f"PJSIP/{agent_id}",
            pattern=_ENDPOINT_RE,
            allow_empty=False,
            expected='a dial string such as "PJSIP/1001"',
        )
        queues = _proficiency_map(t, "queues", _NAME_RE, "queue") or {}
        skills = _proficiency_map(t, "skills", _SKILL_RE, "skill") or {}
        pin = t.string(
            "pin", "", pattern=_PIN_RE, secret=True, expected="2 to 16 digits as a string"
        )
        password_hash = t.string(
            "password_hash", "", pattern=_HASH_RE, secret=True, expected=_HASH_EXPECTED
        )
        t.finish()
        if agent_id:
            agents.append(
                (
                    path,
                    AgentConfig(
                        id=agent_id,
                        name=name,
                        endpoint=endpoint,
                        queues=queues,
                        skills=skills,
                        pin=pin,
                        password_hash=password_hash,
                    ),
                )
            )
    return agents


# ---------------------------------------------------------------------------
# Checks across sections
# ---------------------------------------------------------------------------


def _cross_references(
    queues: list[tuple[str, QueueConfig]],
    agents: list[tuple[str, AgentConfig]],
    wallboard: WallboardConfig,
    problems: _Problems,
) -> None:
    names = {q.name for _, q in queues}
    known = _one_of(sorted(names)) if names else "a queue defined in [[queues]]"

    def queue_ref(path: str, name: str) -> bool:
        if name in names:
            return True
        close = difflib.get_close_matches(name, sorted(names), n=1)
        hint = f"did you mean {close[0]!r}?" if close else known
        problems.add(path, f"unknown queue {_show(name)}", hint)
        return False

    for path, q in queues:
        if q.overflow_queue:
            if q.overflow_queue == q.name:
                problems.add(
                    f"{path}.overflow_queue", "overflows into itself", "another queue's name"
                )
            else:
                queue_ref(f"{path}.overflow_queue", q.overflow_queue)
        for index, option in enumerate(q.menu):
            if option.queue:
                queue_ref(f"{path}.menu[{index}].queue", option.queue)
    _overflow_cycles(queues, problems)

    endpoints: dict[str, str] = {}
    for path, a in agents:
        for queue in a.queues:
            queue_ref(f"{path}.queues.{queue}", queue)
        owner = endpoints.get(a.endpoint.lower())
        if owner is not None:
            problems.add(
                f"{path}.endpoint",
                f"{_show(a.endpoint)} is also the endpoint of agent {owner}",
                "one endpoint per agent",
            )
        else:
            endpoints[a.endpoint.lower()] = a.id
    for index, board in enumerate(wallboard.boards):
        for queue in board.queues:
            queue_ref(f"wallboard.boards[{index}].queues", queue)
    for queue in wallboard.queue_display:
        if names:
            queue_ref(f"wallboard.queues.{queue}", queue)


def _overflow_cycles(queues: list[tuple[str, QueueConfig]], problems: _Problems) -> None:
    """A caller overflowing A -> B -> A would bounce forever: report each cycle once."""
    target = {q.name: q.overflow_queue for _, q in queues if q.overflow_queue}
    paths = {q.name: path for path, q in queues}
    reported: set[frozenset[str]] = set()
    for start in target:
        seen = [start]
        current = target.get(start, "")
        while current and current in target and current not in seen:
            seen.append(current)
            current = target[current]
        if current == start and len(seen) > 1:
            cycle = frozenset(seen)
            if cycle not in reported:
                reported.add(cycle)
                problems.add(
                    f"{paths[start]}.overflow_queue",
                    "overflow loops back: " + " -> ".join([*seen, start]),
                    "overflow chains that end in a queue without overflow",
                )


def _unknown_env(
    env: Mapping[str, str],
    sections: Mapping[str, _Table],
    referenced_env: set[str],
    problems: _Problems,
) -> None:
    """An ``ACD_AMI_PROT`` typo would otherwise be silently ignored."""
    for var in sorted(env):
        if var in referenced_env:
            continue
        for name, table in sections.items():
            if not var.startswith(table.env_prefix):
                continue
            key = var[len(table.env_prefix) :].lower()
            scalar = table.known - {"thresholds", "boards", "queues"}
            if key not in scalar:
                close = difflib.get_close_matches(key, sorted(scalar), n=1)
                hint = (
                    f"did you mean {table.env_prefix}{close[0].upper()}?"
                    if close
                    else _one_of([table.env_prefix + k.upper() for k in sorted(scalar)])
                )
                problems.add(name, f"unknown environment variable {var}", hint)
            break
