"""The configuration file's schema: one pydantic model per TOML table.

Each key's type and limits are declared on its field; a validator appears only
where a rule is not a type or a constraint (a time zone that exists, opening
hours, red and amber pointing the right way). Values of the wrong type are
refused, never converted (``port = "5038"`` is a mistake in a TOML file); the
loader converts the text of ``ACD_*`` environment variables before validation.

Defaults are read from the dataclasses of ``acd.core.settings``, so each default
is written once. ``acd.config.loader`` turns these models into those frozen
dataclasses and words pydantic's errors as ``FILE: key.path: what is wrong
(expected ...)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from acd.core.routing import STRATEGIES
from acd.core.settings import (
    DEFAULT_THRESHOLDS,
    AgentConfig,
    AgiConfig,
    AmiConfig,
    BoardConfig,
    BusinessHours,
    CallbackConfig,
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

# Metric -> higher_is_better. Service level and abandon rate are percentages
# (0..100); waits are seconds; ``waiting`` is a number of callers.
THRESHOLD_METRICS: Final[Mapping[str, bool]] = {
    "service_level": True,
    "longest_wait": False,
    "waiting": False,
    "abandon_rate": False,
    "asa": False,
}


SERVICE_LEVEL_VARIANTS: Final = ("default", "answered", "offered")

NAME: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
AGENT_ID: Final = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_SKILL: Final = r"[\w][\w.-]{0,63}"
_HOST: Final = r"^[A-Za-z0-9_.:%-]+$"
_TARGET: Final = r"^(?:[^,\s]+,[^,\s]+,[^,\s]+)?$"
_LANGUAGE: Final = r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$"
_HASH: Final = r"^(?:scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+)?$"
_DTMF: Final = r"^[0-9*#]$"
_TIME_RE: Final = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
DAYS: Final[Mapping[str, int]] = {
    "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
}  # fmt: skip
SECRET_KEYS: Final = frozenset({"secret", "api_token", "view_token", "pin", "password_hash"})
_SOUND_TEXT: Final = "a sound file name without spaces"
_TARGET_TEXT: Final = 'a dialplan target "context,exten,priority"'
_HASH_TEXT: Final = 'a hash from `acd passwd` ("scrypt$...")'
_ZONE_TEXT: Final = 'an IANA time zone such as "Europe/Paris" or "UTC"'
_HOURS_TEXT: Final = (
    '"HH:MM-HH:MM", several separated by commas, such as "08:00-12:00, 13:00-18:00"'
)

# The dataclass defaults are the only copy of each default value.
_AMI: Final = AmiConfig()
_AGI: Final = AgiConfig()
_REDIS: Final = RedisConfig()
_BOARD: Final = WallboardConfig()
_QUEUE: Final = QueueConfig(name="")
_HOURS: Final = BusinessHours()
_CALLBACK: Final = CallbackConfig()


def show(value: object) -> str:
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


def type_name(value: object) -> str:
    names: list[tuple[type, str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (dict, "a table"),
        (list, "an array"),
        (dt.datetime, "a date-time"),
        (dt.date, "a date"),
        (dt.time, "a time"),
    ]
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


def num(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def one_of(names: list[str]) -> str:
    return "one of " + ", ".join(names) if names else "no keys here"


_T = TypeVar("_T")


def to_dataclass(target: type[_T], model: BaseModel, **overrides: Any) -> _T:
    """``target`` (a dataclass) from the model's values of the same names (lists
    become tuples), with ``overrides`` for the fields that differ."""
    values = {
        f.name: tuple(v) if isinstance(v := getattr(model, f.name), list) else v
        for f in dataclasses.fields(target)  # type: ignore[arg-type]
        if f.name in type(model).model_fields and f.name not in overrides
    }
    return target(**values, **overrides)


# ---------------------------------------------------------------------------
# Rules a type cannot say. ``_bad`` problems are shown after the value
# (``"x" is not a date``); ``_rule`` problems are whole sentences.
# ---------------------------------------------------------------------------


def _bad(what: str, expected: str = "") -> PydanticCustomError:
    return PydanticCustomError("acd_value", "{what}", {"what": what, "expected": expected})


def _rule(what: str, expected: str) -> PydanticCustomError:
    return PydanticCustomError("acd_rule", "{what}", {"what": what, "expected": expected})


def _zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _bad("is not a known time zone", _ZONE_TEXT) from None
    return name


def _network(text: str) -> str:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _bad(
            "is not an IP address or network", 'an address or CIDR network such as "10.0.0.0/24"'
        ) from None
    return text


def _key(pattern: str, what: str) -> AfterValidator:
    """A table key (queue or skill name) that must match ``pattern``."""
    compiled = re.compile(f"^{pattern}$")

    def check(key: str) -> str:
        if not compiled.match(key):
            raise _rule(f"is not a valid {what} name", "letters, digits, -, _ and .")
        return key

    return AfterValidator(check)


def _strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise _bad("is not a strategy", one_of(sorted(STRATEGIES)))
    return name


def _variant(name: str) -> str:
    if name not in SERVICE_LEVEL_VARIANTS:
        raise _rule(
            f"{name!r} is not a service-level variant", '"default", "answered" or "offered"'
        )
    return name


def _dial(text: str) -> str:
    if "{number}" not in text:
        raise _bad("has no {number}", 'a dial string with {number}, e.g. "PJSIP/{number}@trunk"')
    return text


def _days(key: str) -> str:
    if _day_numbers(key) is None:
        raise _rule(
            "is not a day or day range",
            'mon, tue, wed, thu, fri, sat, sun or a range like "mon-fri"',
        )
    return key


def _day_numbers(key: str) -> list[int] | None:
    word = key.strip().lower()
    if word in DAYS:
        return [DAYS[word]]
    first, sep, last = word.partition("-")
    if sep and first in DAYS and last in DAYS and DAYS[first] <= DAYS[last]:
        return list(range(DAYS[first], DAYS[last] + 1))
    return None


def _ranges(raw: object) -> tuple[TimeRange, ...]:
    """``"08:00-12:00, 13:00-18:00"`` (or an array of such strings)."""
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        text = ",".join(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise _rule(f"{show(raw)} is {type_name(raw)}", _HOURS_TEXT)
    ranges: list[TimeRange] = []
    for part in (p.strip() for p in text.split(",")):
        start_text, sep, end_text = part.partition("-")
        start = _clock(start_text.strip(), is_end=False)
        end = _clock(end_text.strip(), is_end=True)
        if not sep or start is None or end is None:
            raise _rule(f"{show(part)} is not a time range", _HOURS_TEXT)
        if end != dt.time.max and end <= start:
            raise _rule(
                f"{show(part)} ends before it starts",
                "start before end on the same day (split overnight hours)",
            )
        ranges.append(TimeRange(start=start, end=end))
    return tuple(ranges)


def _clock(text: str, *, is_end: bool) -> dt.time | None:
    match = _TIME_RE.match(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        return dt.time.max if is_end and minute == 0 else None
    return dt.time(hour, minute)


def _date(raw: object) -> dt.date:
    """A TOML date, or the same written as a string."""
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise _bad("is not a date", 'a date such as "2026-12-25"')


def _text(default: Any, pattern: str, expected: str) -> Any:
    """A non-empty string matching ``pattern``; ``default=...`` makes it required."""
    return Field(default, pattern=pattern, min_length=1, description=expected)


# ---------------------------------------------------------------------------
# The schema: one model per TOML table
# ---------------------------------------------------------------------------

Port = Annotated[int, Field(ge=0, le=65535)]
Proficiency = Annotated[int, Field(ge=1, le=100)]
QueueKey = Annotated[str, _key(NAME, "queue")]
SkillKey = Annotated[str, _key(_SKILL, "skill")]
Zone = Annotated[str, Field(min_length=1, description=_ZONE_TEXT), AfterValidator(_zone)]
Sound = Annotated[str, Field(pattern=r"^\S*$", description=_SOUND_TEXT)]
Code = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
        description="a code of letters, digits, - and _ (at most 32)",
    ),
]
SecretRef = Annotated[str | None, Field(min_length=1, description="a non-empty string")]


class Table(BaseModel):
    """A TOML table: exact types (no "5" for 5), unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    expected: ClassVar[str] = "a table"
    unknown: ClassVar[str] = "key"


class AmiTable(Table):
    expected = "a table [ami]"
    host: str = _text(_AMI.host, _HOST, "a host name or IP address")
    port: Port = _AMI.port
    username: str = _text(_AMI.username, r"^[^\s\[\];]+$", "an AMI user name (no spaces)")
    secret: str | None = Field(None, description="a string")
    secret_env: SecretRef = None
    secret_file: SecretRef = None
    connect_timeout: float = Field(_AMI.connect_timeout, gt=0, le=300)
    ping_interval: float = Field(_AMI.ping_interval, gt=0, le=3600)


class AgiTable(Table):
    expected = "a table [agi]"
    host: str = _text(_AGI.host, _HOST, "a host name or IP address to listen on")
    port: Port = _AGI.port
    allowed_peers: list[Annotated[str, AfterValidator(_network)]] = Field(
        list(_AGI.allowed_peers), description="an array of strings"
    )
    idle_timeout: float = Field(_AGI.idle_timeout, gt=0, le=86400)


class RedisTable(Table):
    expected = "a table [redis]"
    url: str = Field(
        _REDIS.url,
        pattern=r"^(?:(redis|rediss|unix|redis\+sentinel|rediss\+sentinel)://\S*)?$",
        description='"" (embedded) or a redis://, rediss://, unix:// or '
        "redis+sentinel://host:port[,host:port]/master[/db] URL",
    )
    key_prefix: str = Field(
        _REDIS.key_prefix, pattern=r"^\S*$", description="a key prefix without spaces"
    )
    retention_days: int = Field(_REDIS.retention_days, ge=1, le=36500)
    stream_max_len: int = Field(_REDIS.stream_max_len, ge=1000)
    instance_lease_seconds: float = Field(_REDIS.instance_lease_seconds, ge=0.5, le=300)
    socket_timeout: float = Field(_REDIS.socket_timeout, ge=0.05, le=300)
    connect_timeout: float = Field(_REDIS.connect_timeout, ge=0.05, le=300)
    health_check_interval: float = Field(_REDIS.health_check_interval, ge=0, le=3600)


class _Limits(Table):
    expected = "a table with amber and red"
    amber: float | None = Field(None, ge=0)
    red: float | None = Field(None, ge=0)


class _PercentLimits(_Limits):
    amber: float | None = Field(None, ge=0, le=100)
    red: float | None = Field(None, ge=0, le=100)


class _Thresholds(Table):
    unknown = "metric"
    service_level: _PercentLimits | None = None
    longest_wait: _Limits | None = None
    waiting: _Limits | None = None
    abandon_rate: _PercentLimits | None = None
    asa: _Limits | None = None

    @field_validator(*THRESHOLD_METRICS)
    @classmethod
    def _point_the_right_way(cls, limits: _Limits | None, info: ValidationInfo) -> _Limits | None:
        metric = info.field_name or ""
        if limits is None:
            return None
        t = _threshold(metric, limits)
        if t.higher_is_better and t.red > t.amber:
            raise _rule(
                f"red {num(t.red)} is above amber {num(t.amber)}",
                "red <= amber: a lower service level is worse",
            )
        if not t.higher_is_better and t.red < t.amber:
            raise _rule(
                f"red {num(t.red)} is below amber {num(t.amber)}",
                f"red >= amber: a higher {metric.replace('_', ' ')} is worse",
            )
        return limits

    def build(self) -> dict[str, Threshold]:
        """Only the metrics the file sets (the caller merges them over the defaults)."""
        return {
            metric: _threshold(metric, limits)
            for metric in THRESHOLD_METRICS
            if (limits := getattr(self, metric)) is not None
        }


def _threshold(metric: str, limits: _Limits) -> Threshold:
    default = DEFAULT_THRESHOLDS[metric]
    return Threshold(
        amber=default.amber if limits.amber is None else limits.amber,
        red=default.red if limits.red is None else limits.red,
        higher_is_better=default.higher_is_better,
    )


class BoardTable(Table):
    expected = "a table [[wallboard.boards]]"
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        min_length=1,
        description="a board name of lowercase letters, digits, - and _",
    )
    title: str = ""
    queues: list[str] = Field(min_length=1, description="a list of at least one queue name")


class _QueueDisplay(Table):
    expected = "a table with display_name and/or thresholds"
    display_name: str = ""
    thresholds: _Thresholds | None = None


class WallboardTable(Table):
    expected = "a table [wallboard]"
    host: str = _text(_BOARD.host, _HOST, "a host name or IP address to listen on")
    port: Port = _BOARD.port
    api_token: str | None = Field(None, description="a string")
    api_token_env: SecretRef = None
    api_token_file: SecretRef = None
    require_token_for_view: bool = _BOARD.require_token_for_view
    view_token: str | None = Field(None, description="a string")
    view_token_env: SecretRef = None
    view_token_file: SecretRef = None
    service_level_variant: Annotated[str, AfterValidator(_variant)] = Field(
        _BOARD.service_level_variant,
        min_length=1,
        description='"default", "answered" or "offered"',
    )
    timezone: Zone = _BOARD.timezone
    language: str = _text(_BOARD.language, _LANGUAGE, 'a language code such as "en" or "pt-BR"')
    sound_on_red: bool = _BOARD.sound_on_red
    thresholds: _Thresholds = Field(default_factory=_Thresholds)
    boards: list[BoardTable] = Field([], description="an array of tables [[wallboard.boards]]")
    title: str = _BOARD.title
    queues: dict[str, _QueueDisplay] = {}
    pause_alert_seconds: float = Field(_BOARD.pause_alert_seconds, ge=0)
    wrap_up_alert_seconds: float = Field(_BOARD.wrap_up_alert_seconds, ge=0)
    allowed_origins: list[str] = Field([], description="an array of strings")
    header_timeout: float = Field(_BOARD.header_timeout, ge=0.5, le=300)
    idle_timeout: float = Field(_BOARD.idle_timeout, ge=0.5, le=3600)
    max_connections: int = Field(_BOARD.max_connections, ge=10, le=1_000_000)
    session_idle_minutes: float = Field(_BOARD.session_idle_minutes, ge=1, le=24 * 60)
    session_max_hours: float = Field(_BOARD.session_max_hours, ge=0.1, le=168)
    signin_max_failures: int = Field(_BOARD.signin_max_failures, ge=1, le=1000)
    signin_window_seconds: int = Field(_BOARD.signin_window_seconds, ge=10, le=86400)

    def build(self, api_token: str, view_token: str) -> WallboardConfig:
        """The wallboard settings, with the tokens the loader resolved."""
        return to_dataclass(
            WallboardConfig,
            self,
            api_token=api_token,
            view_token=view_token,
            thresholds={**DEFAULT_THRESHOLDS, **self.thresholds.build()},
            boards=tuple(
                BoardConfig(b.name, tuple(b.queues), b.title or b.name) for b in self.boards
            ),
            queue_display={
                name: QueueDisplay(d.display_name, d.thresholds.build() if d.thresholds else {})
                for name, d in self.queues.items()
            },
        )


class StepTable(Table):
    expected = "a table { after_seconds = 60, min_proficiency = 30 }"
    after_seconds: float = Field(gt=0, le=86400)
    min_proficiency: Proficiency


class MenuOptionTable(Table):
    expected = 'a table { digit = "1", queue = "sales" }'
    digit: str = Field(pattern=_DTMF, description='one key "0"-"9", "*" or "#" as a string')
    queue: str = Field("", pattern=f"^(?:{NAME})?$", description="a queue name")
    language: str = Field(
        "", pattern=f"^(?:{_LANGUAGE[1:-1]})?$", description='a language code such as "fr"'
    )

    @model_validator(mode="after")
    def _goes_somewhere(self) -> MenuOptionTable:
        if not self.queue and not self.language:
            raise _rule(
                "has neither queue nor language",
                "a queue to send the caller to, a language, or both",
            )
        return self


class _Callback(Table):
    expected = "a table [queues.callback]"
    enabled: bool = _CALLBACK.enabled
    offer_after_seconds: int = Field(_CALLBACK.offer_after_seconds, ge=0, le=86400)
    key: str = Field(_CALLBACK.key, pattern=_DTMF, description="one DTMF key: 0-9, * or #")
    offer_prompt: Sound = _CALLBACK.offer_prompt
    number_prompt: Sound = _CALLBACK.number_prompt
    confirm_prompt: Sound = _CALLBACK.confirm_prompt
    agent_prompt: Sound = _CALLBACK.agent_prompt
    dial: Annotated[str, AfterValidator(_dial)] = Field(
        _CALLBACK.dial,
        min_length=1,
        description='a dial string with {number}, e.g. "PJSIP/{number}@trunk"',
    )
    attempts: int = Field(_CALLBACK.attempts, ge=1, le=20)
    retry_seconds: int = Field(_CALLBACK.retry_seconds, ge=5, le=86400)
    ring_seconds: int = Field(_CALLBACK.ring_seconds, ge=5, le=300)
    context: str = _text(_CALLBACK.context, f"^{NAME}$", "a dialplan context name")


class QueueTable(Table):
    expected = "a table [[queues]]"
    name: str = _text(..., f"^{NAME}$", "a queue name of letters, digits, - and _ (at most 64)")
    service_level_seconds: int = Field(_QUEUE.service_level_seconds, ge=1, le=86400)
    short_abandon_seconds: int = Field(_QUEUE.short_abandon_seconds, ge=0, le=3600)
    wrap_up_seconds: int = Field(_QUEUE.wrap_up_seconds, ge=0, le=3600)
    ring_timeout_seconds: int = Field(_QUEUE.ring_timeout_seconds, ge=1, le=600)
    max_wait_seconds: int = Field(_QUEUE.max_wait_seconds, ge=0, le=86400)
    overflow_queue: str = Field(
        "", pattern=f"^(?:{NAME})?$", description="the name of another queue"
    )
    exit_target: str = Field("", pattern=_TARGET, description=_TARGET_TEXT)
    max_length: int = Field(_QUEUE.max_length, ge=0, le=100_000)
    music_class: str = _text(
        _QUEUE.music_class, f"^{NAME}$", "a music-on-hold class from musiconhold.conf"
    )
    announce_period_seconds: int = Field(_QUEUE.announce_period_seconds, ge=0, le=3600)
    # Business hours are written flat in the queue's table.
    timezone: Zone | None = None
    hours: dict[
        Annotated[str, AfterValidator(_days)],
        Annotated[tuple[TimeRange, ...], PlainValidator(_ranges)],
    ] = {}
    holidays: list[Annotated[dt.date, PlainValidator(_date)]] = Field(
        [], description="an array of dates"
    )
    closed_message: str = _text(_HOURS.closed_message, r"^\S+$", _SOUND_TEXT)
    closed_target: str = Field("", pattern=_TARGET, description=_TARGET_TEXT)
    required_skills: dict[SkillKey, Proficiency] = {}
    relaxation: list[StepTable] = Field(
        [], description="an array of { after_seconds, min_proficiency } tables"
    )
    priority: int = Field(_QUEUE.priority, ge=0, le=1000)
    strategy: Annotated[str, AfterValidator(_strategy)] = Field(
        _QUEUE.strategy, description=one_of(sorted(STRATEGIES))
    )
    menu_prompt: Sound = ""
    menu: list[MenuOptionTable] = Field(
        [], description="an array of { digit, queue, language } tables"
    )
    auto_pause_after_misses: int = Field(_QUEUE.auto_pause_after_misses, ge=0, le=100)
    greeting: Sound = ""
    dispositions: list[Code] = []
    resolved_dispositions: list[Code] = list(_QUEUE.resolved_dispositions)
    wrap_up_ends_on_disposition: bool = _QUEUE.wrap_up_ends_on_disposition
    callback: _Callback | None = None
    survey: bool = _QUEUE.survey
    survey_prompt: str = _text(_QUEUE.survey_prompt, r"^\S+$", _SOUND_TEXT)
    survey_thanks: Sound = _QUEUE.survey_thanks

    def build(self, site_timezone: str) -> QueueConfig:
        weekly: dict[int, list[TimeRange]] = {}
        for key, ranges in self.hours.items():
            for day in _day_numbers(key) or ():
                weekly.setdefault(day, []).extend(ranges)
        return to_dataclass(
            QueueConfig,
            self,
            required_skills=tuple(
                SkillRequirement(skill, level) for skill, level in self.required_skills.items()
            ),
            relaxation=tuple(
                RelaxationStep(s.after_seconds, s.min_proficiency) for s in self.relaxation
            ),
            menu=tuple(MenuOption(o.digit, o.queue, o.language) for o in self.menu),
            dispositions=tuple(dict.fromkeys(self.dispositions)),
            resolved_dispositions=tuple(dict.fromkeys(self.resolved_dispositions)),
            business_hours=BusinessHours(
                weekly={
                    day: tuple(sorted(r, key=lambda x: x.start))
                    for day, r in sorted(weekly.items())
                },
                holidays=tuple(dict.fromkeys(self.holidays)),
                timezone=self.timezone or site_timezone,
                closed_message=self.closed_message,
                closed_target=self.closed_target,
            ),
            callback=to_dataclass(CallbackConfig, self.callback)
            if self.callback
            else CallbackConfig(),
        )


class AgentTable(Table):
    expected = "a table [[agents]]"
    id: str = _text(..., f"^{AGENT_ID}$", 'an agent id such as "1001" (letters, digits, ., -, _)')
    name: str | None = Field(None, min_length=1, description="the agent's name")
    endpoint: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9]+/[^\s/,&]+$",
        min_length=1,
        description='a dial string such as "PJSIP/1001"',
    )
    queues: dict[QueueKey, Proficiency] = {}
    skills: dict[SkillKey, Proficiency] = {}
    pin: str = Field("", pattern=r"^(?:[0-9]{2,16})?$", description="2 to 16 digits as a string")
    password_hash: str = Field("", pattern=_HASH, description=_HASH_TEXT)

    def build(self) -> AgentConfig:
        return AgentConfig(
            id=self.id,
            name=self.name or self.id,
            endpoint=self.endpoint or f"PJSIP/{self.id}",
            queues=self.queues,
            skills=self.skills,
            pin=self.pin,
            password_hash=self.password_hash,
        )


class SupervisorTable(Table):
    expected = "a table [[supervisors]]"
    id: str = _text(..., f"^{AGENT_ID}$", 'a supervisor id such as "sup1"')
    name: str | None = Field(None, min_length=1, description="the supervisor's name")
    password_hash: str = _text(..., _HASH, _HASH_TEXT)

    def build(self) -> SupervisorConfig:
        return SupervisorConfig(self.id, self.name or self.id, self.password_hash)


class FileTable(Table):
    """The file's top level. Each section and each entry is validated on its
    own, so that one bad entry cannot hide the problems of the others."""

    ami: dict[str, Any] = Field(default={}, description="a table [ami]")
    agi: dict[str, Any] = Field(default={}, description="a table [agi]")
    redis: dict[str, Any] = Field(default={}, description="a table [redis]")
    wallboard: dict[str, Any] = Field(default={}, description="a table [wallboard]")
    queues: list[Any] = Field(default=[], description="an array of tables [[queues]]")
    agents: list[Any] = Field(default=[], description="an array of tables [[agents]]")
    supervisors: list[Any] = Field(default=[], description="an array of tables [[supervisors]]")


SECTIONS: Final[Mapping[str, type[Table]]] = {
    "ami": AmiTable,
    "agi": AgiTable,
    "redis": RedisTable,
    "wallboard": WallboardTable,
}
