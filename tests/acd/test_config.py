"""The TOML loader: every problem reported with file, key and expectation;
environment overrides; secrets from the environment or a file, never shown."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.config.loader import DEFAULT_THRESHOLDS, default_config, load_config
from acd.core.errors import ConfigError
from acd.core.settings import Threshold

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[ami]
host = "10.0.0.5"
port = 5038
username = "acd"
secret = "s3cr3t-ami"

[agi]
host = "0.0.0.0"
port = 4573
allowed_peers = ["10.0.0.5/32"]

[redis]
url = "redis://127.0.0.1:6379/0"

[wallboard]
port = 8081
timezone = "Europe/Paris"

[wallboard.thresholds.service_level]
amber = 85
red = 70

[[wallboard.boards]]
name = "floor"
queues = ["support", "sales"]

[[queues]]
name = "support"
wrap_up_seconds = 20
max_wait_seconds = 300
overflow_queue = "sales"
hours = { "mon-fri" = "08:00-12:00, 13:00-18:00", sat = "10:00-14:00" }
holidays = ["2026-12-25", 2026-01-01]
required_skills = { english = 50 }
relaxation = [{ after_seconds = 60, min_proficiency = 30 }]
menu = [{ digit = "1", queue = "sales" }, { digit = "2", language = "fr" }]
strategy = "most_skilled"

[[queues]]
name = "sales"

[[agents]]
id = "1001"
name = "Zoë Kowalczyk"
queues = { support = 80, sales = 40 }
skills = { english = 90 }
pin = "4711"
"""


def write(tmp_path: Path, text: str, name: str = "acd.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return info.value.problems


def test_good_file_loads_into_typed_objects(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.ami.host == "10.0.0.5" and config.ami.secret == "s3cr3t-ami"
    assert config.agi.allowed_peers == ("10.0.0.5/32",)
    assert config.redis.url == "redis://127.0.0.1:6379/0"
    assert config.wallboard.port == 8081
    assert config.wallboard.thresholds["service_level"] == Threshold(85, 70, True)
    # Metrics not configured keep their defaults.
    assert config.wallboard.thresholds["asa"] == DEFAULT_THRESHOLDS["asa"]
    support = config.queue("support")
    assert support is not None
    assert support.service_level_seconds == 120  # the documented default
    assert support.strategy == "most_skilled"
    assert support.overflow_queue == "sales"
    hours = support.business_hours
    assert hours.timezone == "Europe/Paris"  # inherited from the wallboard (site) zone
    assert [(r.start, r.end) for r in hours.weekly[1]] == [
        (dt.time(8), dt.time(12)),
        (dt.time(13), dt.time(18)),
    ]
    assert 7 not in hours.weekly  # Sunday closed
    assert hours.holidays == (dt.date(2026, 12, 25), dt.date(2026, 1, 1))
    assert support.required_skills[0].skill == "english"
    assert support.relaxation[0].min_proficiency == 30
    assert [m.digit for m in support.menu] == ["1", "2"]
    agent = config.agent("1001")
    assert agent is not None
    assert agent.name == "Zoë Kowalczyk" and agent.endpoint == "PJSIP/1001"
    assert agent.queues == {"support": 80, "sales": 40}


def test_business_hours_follow_the_queue_time_zone(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    support = config.queue("support")
    assert support is not None
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    # Monday 2026-03-02 09:00 in Paris is 08:00 UTC: open.
    assert support.business_hours.is_open(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
    # Lunch break and Sunday: closed.
    assert not support.business_hours.is_open(dt.datetime(2026, 3, 2, 12, 30, tzinfo=paris))
    assert not support.business_hours.is_open(dt.datetime(2026, 3, 1, 11, 0, tzinfo=paris))
    # Christmas is a Friday in 2026, but a holiday.
    assert not support.business_hours.is_open(dt.datetime(2026, 12, 25, 10, 0, tzinfo=paris))
    sales = config.queue("sales")
    assert sales is not None and sales.business_hours.is_open(dt.datetime.now(dt.UTC))


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    text = GOOD + "\n[wallboard.x]\n"  # just to make sure repr works on a good file too
    config = load_config(write(tmp_path, GOOD), env={"ACD_WALLBOARD_API_TOKEN": "tok-123456"})
    shown = repr(config)
    assert "s3cr3t-ami" not in shown and "tok-123456" not in shown and "4711" not in shown
    assert config.wallboard.api_token == "tok-123456"
    del text


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[ami]\nhost = "x"\nport = = 5\n')
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: line 3, column")
    assert "TOML syntax error" in problem and "(expected valid TOML)" in problem


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    [problem] = problems_of(missing)
    assert problem.startswith(f"{missing}: cannot read the file")
    assert "No such file" in problem


def test_unknown_keys_suggest_the_right_spelling(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[ami]\nprot = 5038\n[[queues]]\nname = "q"\nwrapup_seconds = 5\n[bogus]\nx = 1\n',
    )
    problems = problems_of(path)
    assert f"{path}: ami.prot: unknown key (expected did you mean 'port'?)" in problems
    assert (
        f"{path}: queues[q].wrapup_seconds: unknown key (expected did you mean 'wrap_up_seconds'?)"
        in problems
    )
    assert any(p.startswith(f"{path}: bogus: unknown key") for p in problems)


def test_wrong_types_and_ranges_are_all_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[ami]
port = 70000
[agi]
port = "4573"
allowed_peers = ["10.0.0.300"]
[wallboard]
sound_on_red = "yes"
[[queues]]
name = "support"
service_level_seconds = 0
wrap_up_seconds = -1
strategy = "random"
[[agents]]
id = "1001"
name = "A"
queues = { support = 101 }
skills = { english = 0 }
""",
    )
    problems = problems_of(path)
    expected = [
        f"{path}: ami.port: 70000 is out of range (expected an integer from 0 to 65535)",
        f'{path}: agi.port: "4573" is a string (expected an integer from 0 to 65535)',
        f'{path}: agi.allowed_peers[0]: "10.0.0.300" is not an IP address or network',
        f'{path}: wallboard.sound_on_red: "yes" is a string (expected true or false)',
        f"{path}: queues[support].service_level_seconds: 0 is out of range "
        "(expected an integer from 1 to 86400)",
        f"{path}: queues[support].wrap_up_seconds: -1 is out of range",
        f'{path}: queues[support].strategy: "random" is not a strategy',
        f"{path}: agents[1001].queues.support: 101 is out of range "
        "(expected an integer from 1 to 100)",
        f"{path}: agents[1001].skills.english: 0 is out of range",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected)


def test_cross_references_between_queues_and_agents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[queues]]
name = "support"
overflow_queue = "salse"
max_wait_seconds = 60
[[queues]]
name = "sales"
[[queues]]
name = "sales"
[[queues]]
name = "a"
overflow_queue = "b"
[[queues]]
name = "b"
overflow_queue = "a"
[[agents]]
id = "1001"
queues = { billing = 50 }
[[agents]]
id = "1001"
[[wallboard.boards]]
name = "tv"
queues = ["nope"]
""",
    )
    problems = problems_of(path)
    assert (
        f'{path}: queues[support].overflow_queue: unknown queue "salse" '
        "(expected did you mean 'sales'?)" in problems
    )
    assert any(p.startswith(f'{path}: queues[2].name: duplicate "sales"') for p in problems)
    assert any("overflow loops back: a -> b -> a" in p for p in problems)
    assert any(
        p.startswith(f'{path}: agents[0].queues.billing: unknown queue "billing"') for p in problems
    )
    assert any(p.startswith(f'{path}: agents[1].id: duplicate "1001"') for p in problems)
    assert any(
        p.startswith(f'{path}: wallboard.boards[0].queues: unknown queue "nope"') for p in problems
    )


def test_time_zone_hours_and_dates_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[wallboard]
timezone = "Mars/Olympus_Mons"
[[queues]]
name = "q"
timezone = "Europe/Pariss"
holidays = ["2026-02-30", "tomorrow"]
relaxation = [
    { after_seconds = 60, min_proficiency = 30 },
    { after_seconds = 30, min_proficiency = 10 },
]
[queues.hours]
mon = "18:00-08:00"
tue = "8-17"
funday = "10:00-11:00"
wed = ["09:00-12:00", "11:00-13:00"]
""",
    )
    problems = problems_of(path)
    joined = "\n".join(problems)
    assert f'{path}: wallboard.timezone: "Mars/Olympus_Mons" is not a known time zone' in joined
    assert f'{path}: queues[q].timezone: "Europe/Pariss" is not a known time zone' in joined
    assert f'{path}: queues[q].hours.mon: "18:00-08:00" ends before it starts' in joined
    assert f'{path}: queues[q].hours.tue: "8-17" is not a time range' in joined
    assert f"{path}: queues[q].hours.funday: is not a day or day range" in joined
    assert f"{path}: queues[q].hours: opening hours overlap on wed" in joined
    assert f'{path}: queues[q].holidays[0]: "2026-02-30" is not a date' in joined
    assert f'{path}: queues[q].holidays[1]: "tomorrow" is not a date' in joined
    assert f"{path}: queues[q].relaxation[1]: after_seconds 30 does not follow 60" in joined


def test_thresholds_must_point_the_right_way(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[wallboard.thresholds.service_level]
amber = 60
red = 80
[wallboard.thresholds.longest_wait]
amber = 120
red = 60
[wallboard.thresholds.queue_length]
amber = 1
red = 2
""",
    )
    problems = problems_of(path)
    assert any(
        "wallboard.thresholds.service_level: red 80 is above amber 60" in p for p in problems
    )
    assert any(
        "wallboard.thresholds.longest_wait: red 60 is below amber 120" in p for p in problems
    )
    assert any("wallboard.thresholds.queue_length: unknown metric" in p for p in problems)


def test_environment_overrides_file_values(tmp_path: Path) -> None:
    env = {
        "ACD_AMI_HOST": "192.0.2.7",
        "ACD_AMI_PORT": "5039",
        "ACD_AMI_SECRET": "from-env",
        "ACD_AGI_ALLOWED_PEERS": "192.0.2.7/32, 10.1.0.0/16",
        "ACD_REDIS_URL": "",
        "ACD_WALLBOARD_PORT": "9090",
        "ACD_WALLBOARD_TIMEZONE": "America/Sao_Paulo",
        "ACD_WALLBOARD_REQUIRE_TOKEN_FOR_VIEW": "no",
        "UNRELATED": "x",
    }
    config = load_config(write(tmp_path, GOOD), env=env)
    assert config.ami.host == "192.0.2.7" and config.ami.port == 5039
    assert config.ami.secret == "from-env"
    assert config.agi.allowed_peers == ("192.0.2.7/32", "10.1.0.0/16")
    assert config.redis.url == ""  # empty: embedded
    assert config.wallboard.port == 9090
    assert config.wallboard.timezone == "America/Sao_Paulo"


def test_bad_environment_values_name_the_variable(tmp_path: Path) -> None:
    env = {
        "ACD_AMI_PORT": "fivethousand",
        "ACD_WALLBOARD_TIMEZONE": "Nowhere/City",
        "ACD_WALLBOARD_SOUND_ON_RED": "maybe",
        "ACD_AGI_PROT": "1",
    }
    path = write(tmp_path, GOOD)
    problems = problems_of(path, env)
    joined = "\n".join(problems)
    assert f'{path}: ami.port: ACD_AMI_PORT="fivethousand" is not an integer' in joined
    assert f'{path}: wallboard.timezone: ACD_WALLBOARD_TIMEZONE="Nowhere/City" is not' in joined
    assert 'ACD_WALLBOARD_SOUND_ON_RED="maybe" is not a boolean' in joined
    assert (
        "agi: unknown environment variable ACD_AGI_PROT (expected did you mean ACD_AGI_PORT?)"
        in (joined)
    )


def test_secret_from_named_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[ami]\nsecret_env = "MY_AMI_SECRET"\n')
    assert load_config(path, env={"MY_AMI_SECRET": "hunter2"}).ami.secret == "hunter2"
    [problem] = problems_of(path, {})
    assert problem == (
        f"{path}: ami.secret_env: environment variable MY_AMI_SECRET is not set "
        "(expected MY_AMI_SECRET set to the secret)"
    )


def test_secret_from_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "ami.secret").write_text("file-secret\n", encoding="utf-8")
    path = write(tmp_path, '[ami]\nsecret_file = "ami.secret"\n')
    assert load_config(path, env={}).ami.secret == "file-secret"
    missing = write(tmp_path, '[ami]\nsecret_file = "gone.secret"\n', "b.toml")
    [problem] = problems_of(missing)
    assert problem.startswith(f"{missing}: ami.secret_file: cannot read {tmp_path / 'gone.secret'}")


def test_two_secret_sources_conflict_and_values_stay_hidden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[ami]\nsecret = "inline-secret-value"\nsecret_env = "X"\n'
        "[wallboard]\napi_token = 12345678\nrequire_token_for_view = true\n"
        '[[agents]]\nid = "1"\npin = "12ab"\n',
    )
    problems = problems_of(path, {"X": "env-secret-value"})
    joined = "\n".join(problems)
    assert "ami.secret: both keys secret and secret_env are set" in joined
    assert "wallboard.api_token: <hidden> is an integer" in joined
    assert "agents[1].pin: <hidden> is not valid" in joined
    assert "wallboard.require_token_for_view: is true but no token is set" in joined
    for secret in ("inline-secret-value", "env-secret-value", "12345678", "12ab"):
        assert secret not in joined


def test_every_problem_has_file_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, '[ami]\nport = -1\nhost = ""\n[[queues]]\nname = "bad name"\n')
    problems = problems_of(path)
    assert len(problems) == 3
    for problem in problems:
        assert problem.startswith(f"{path}: ")
        assert "(expected " in problem


def test_default_config_has_every_threshold() -> None:
    config = default_config()
    assert config.source == "<defaults>"
    assert set(config.wallboard.thresholds) == {
        "service_level",
        "longest_wait",
        "waiting",
        "abandon_rate",
        "asa",
    }


@pytest.mark.parametrize("name", ["acd.toml", "demo.toml"])
def test_shipped_files_load(name: str) -> None:
    config = load_config(ROOT / "config" / name, env={})
    assert {q.name for q in config.queues} == {"support", "sales", "billing"}
    assert config.agents


def test_demo_is_lively_and_multi_skilled() -> None:
    config = load_config(ROOT / "config" / "demo.toml", env={})
    assert config.ami.port == 0 and config.agi.port == 0 and config.redis.url == ""
    assert len(config.agents) >= 20
    assert any(not a.name.isascii() for a in config.agents)
    assert sum(1 for a in config.agents if len(a.queues) > 1) >= 5
    for queue in config.queues:
        assert 5 <= queue.wrap_up_seconds <= 10
        assert queue.announce_period_seconds == 20


@given(
    amber=st.floats(0, 100, allow_nan=False),
    red=st.floats(0, 100, allow_nan=False),
    value=st.floats(0, 100, allow_nan=False),
)
def test_threshold_levels_are_monotonic(amber: float, red: float, value: float) -> None:
    """A worse value never gets a better colour."""
    order = {"green": 0, "amber": 1, "red": 2}
    low, high = min(amber, red), max(amber, red)
    up = Threshold(amber=high, red=low, higher_is_better=True)
    down = Threshold(amber=low, red=high, higher_is_better=False)
    worse_up, worse_down = max(value - 1, 0), min(value + 1, 100)
    assert order[up.level(worse_up)] >= order[up.level(value)]
    assert order[down.level(worse_down)] >= order[down.level(value)]


def test_service_level_variant_and_view_token(tmp_path: Path) -> None:
    path = write(tmp_path, '[wallboard]\nservice_level_variant = "median"\n')
    joined = "\n".join(problems_of(path))
    assert "wallboard.service_level_variant: 'median' is not a service-level variant" in joined
    good = write(
        tmp_path,
        '[wallboard]\nservice_level_variant = "offered"\nview_token = "tv"\n'
        "require_token_for_view = true\n",
    )
    config = load_config(good, {})
    assert config.wallboard.service_level_variant == "offered"
    assert config.wallboard.view_token == "tv"
    assert "tv" not in repr(config.wallboard)


def test_every_section_reports_at_once_and_a_bad_value_hides_nothing(tmp_path: Path) -> None:
    """One pass lists the problems of every section and entry; a queue with a bad
    value still exists for the agents that serve it (no false "unknown queue")."""
    path = write(
        tmp_path,
        """
[ami]
ping_interval = 0
[redis]
url = "http://cache:6379"
[wallboard]
language = "English"
[wallboard.thresholds.asa]
amber = "fast"
[[queues]]
name = "support"
ring_timeout_seconds = 0
[[agents]]
id = "1001"
queues = { support = 50, billing = 50 }
endpoint = "SIP 1001"
[[supervisors]]
id = "lead"
""",
    )
    problems = problems_of(path)
    assert problems == [
        f"{path}: ami.ping_interval: 0 is out of range (expected a number > 0 and <= 3600)",
        f'{path}: redis.url: "http://cache:6379" is not valid (expected "" (embedded) or a '
        "redis://, rediss://, unix:// or redis+sentinel://host:port[,host:port]/master[/db] URL)",
        f'{path}: wallboard.language: "English" is not valid '
        '(expected a language code such as "en" or "pt-BR")',
        f'{path}: wallboard.thresholds.asa.amber: "fast" is a string (expected a number >= 0)',
        f"{path}: queues[support].ring_timeout_seconds: 0 is out of range "
        "(expected an integer from 1 to 600)",
        f'{path}: agents[1001].endpoint: "SIP 1001" is not valid '
        '(expected a dial string such as "PJSIP/1001")',
        f"{path}: supervisors[lead].password_hash: is missing "
        '(expected a hash from `acd passwd` ("scrypt$..."))',
        f'{path}: agents[1001].queues.billing: unknown queue "billing" '
        "(expected one of support)",
    ]


def test_did_you_mean_at_every_level(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[wallbord]
port = 1
[wallboard.thresholds.servce_level]
amber = 1
[[queues]]
name = "q"
callback = { enabled = true, atempts = 2 }
menu = [{ digit = "1", queu = "q" }]
""",
    )
    problems = problems_of(path)
    assert f"{path}: wallbord: unknown key (expected did you mean 'wallboard'?)" in problems
    assert (
        f"{path}: wallboard.thresholds.servce_level: unknown metric "
        "(expected did you mean 'service_level'?)" in problems
    )
    assert (
        f"{path}: queues[q].callback.atempts: unknown key (expected did you mean 'attempts'?)"
        in problems
    )
    assert f"{path}: queues[q].menu[0].queu: unknown key (expected did you mean 'queue'?)" in (
        problems
    )


def test_environment_values_of_the_wrong_type_name_the_variable(tmp_path: Path) -> None:
    env = {
        "ACD_AGI_PORT": "70000",
        "ACD_REDIS_SOCKET_TIMEOUT": "fast",
        "ACD_REDIS_RETENTION_DAYS": " 0 ",
        "ACD_WALLBOARD_MAX_CONNECTIONS": "ten",
        "ACD_AGI_ALLOWED_PEERS": "10.0.0.0/8, not-an-address",
        "ACD_WALLBOARD_LANGUAGE": "",
    }
    path = write(tmp_path, GOOD)
    problems = problems_of(path, env)
    assert sorted(problems) == sorted([
        f'{path}: agi.port: ACD_AGI_PORT="70000" is out of range '
        "(expected an integer from 0 to 65535)",
        f'{path}: agi.allowed_peers[1]: "not-an-address" is not an IP address or network '
        '(expected an address or CIDR network such as "10.0.0.0/24")',
        f'{path}: redis.retention_days: ACD_REDIS_RETENTION_DAYS=" 0 " is out of range '
        "(expected an integer from 1 to 36500)",
        f'{path}: redis.socket_timeout: ACD_REDIS_SOCKET_TIMEOUT="fast" is not a number '
        "(expected a number from 0.05 to 300)",
        f'{path}: wallboard.max_connections: ACD_WALLBOARD_MAX_CONNECTIONS="ten" is not an '
        "integer (expected an integer from 10 to 1000000)",
        f'{path}: wallboard.language: ACD_WALLBOARD_LANGUAGE="" is empty '
        '(expected a language code such as "en" or "pt-BR")',
    ])


def test_secret_values_never_appear_in_any_message(tmp_path: Path) -> None:
    secrets = ["env-secret-1", "env-secret-2", "list-token-3", "77665544", "9x9x", "plainpass"]
    path = write(
        tmp_path,
        f"""
[ami]
secret = 5
[wallboard]
api_token = ["{secrets[2]}"]
view_token = {secrets[3]}
[[agents]]
id = "1001"
pin = "{secrets[4]}"
password_hash = "{secrets[5]}"
[[supervisors]]
id = "lead"
password_hash = "{secrets[5]}"
""",
    )
    env = {"ACD_WALLBOARD_API_TOKEN": secrets[0], "ACD_WALLBOARD_API_TOKEN_FILE": secrets[1]}
    problems = problems_of(path, env)
    joined = "\n".join(problems)
    assert joined.count("<hidden>") == 5, joined
    assert "ami.secret: <hidden> is an integer (expected a string)" in joined
    assert "wallboard.view_token: <hidden> is an integer" in joined
    assert (
        "wallboard.api_token: both environment variables ACD_WALLBOARD_API_TOKEN and "
        "ACD_WALLBOARD_API_TOKEN_FILE are set" in joined
    )
    for secret in secrets:
        assert secret not in joined


def test_an_empty_file_gives_the_documented_defaults(tmp_path: Path) -> None:
    """The schema reads its defaults from the frozen dataclasses: one copy of each."""
    path = write(tmp_path, "")
    assert load_config(path, env={}) == default_config(str(path))


def test_entries_keep_their_index_after_an_entry_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'queues = [5, { name = "bad name" }, { name = "ok", colour = 1 }]\n')
    problems = problems_of(path)
    assert problems[0] == f"{path}: queues[0]: 5 is an integer (expected a table [[queues]])"
    assert problems[1].startswith(f'{path}: queues[1].name: "bad name" is not valid')
    assert problems[2].startswith(f"{path}: queues[ok].colour: unknown key")
    assert len(problems) == 3


def test_rules_between_elements_still_run_when_one_element_is_bad(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[queues]]
name = "q"
relaxation = [
    { after_seconds = 60, min_proficiency = 30 },
    { after_seconds = "soon", min_proficiency = 20 },
    { after_seconds = 90, min_proficiency = 50 },
]
menu = [
    { digit = "1", queue = "q" },
    { digit = "12", queue = "q" },
    { digit = "1", language = "fr" },
]
[[wallboard.boards]]
name = "Bad Name"
queues = ["q"]
[[wallboard.boards]]
name = "tv"
queues = ["q", "nope"]
""",
    )
    problems = problems_of(path)
    joined = "\n".join(problems)
    assert f'{path}: queues[q].relaxation[1].after_seconds: "soon" is a string' in joined
    assert (
        f"{path}: queues[q].relaxation[2]: min_proficiency 50 is stricter than the step before"
        in joined
    )
    assert f'{path}: queues[q].menu[1].digit: "12" is not valid' in joined
    assert f'{path}: queues[q].menu[2].digit: key "1" is used twice' in joined
    assert f'{path}: wallboard.boards[1].queues: unknown queue "nope"' in joined
    assert len(problems) == 6, problems
