"""The documentation cannot drift silently: README.md's and docs/'s links
resolve inside the repository, and docs/contracts.md and docs/metrics.md list
exactly what the code has (Redis keys and hash fields, stream events, CSV
columns, interval counters, FastAGI script paths, console flags)."""

from __future__ import annotations

import argparse
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acd.call_flow import WaitResult
from acd.core.agent_rules import Command
from acd.core.intervals import COUNTER_FIELDS, WAIT_BUCKETS
from acd.core.models import Exit
from acd.core.settings import AgentConfig, Config, QueueConfig, RedisConfig
from acd.service import AcdService
from acd.store import scripts
from acd.store.embedded import EmbeddedRedis
from acd.store.keys import Keys
from acd.store.store import Store
from acd.tools.export import COLUMNS, EXTRA_COLUMNS
from callcenter.cli import _build_parser
from forecasting.history import CSV_COLUMNS
from tests.redis_reads import hash_of, stream_entries
from wallboard.app import create_app
from wallboard.snapshot import SnapshotBuilder

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTRACTS = ROOT / "docs" / "contracts.md"
METRICS = ROOT / "docs" / "metrics.md"

# ---- a little Markdown ---------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (no links there)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.lower().replace("`", "")
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def links(path: Path) -> list[str]:
    text = _prose(path.read_text(encoding="utf-8"))
    return _LINK.findall(text) + _REF_DEF.findall(text)


def section(path: Path, title: str) -> str:
    """The text under the heading ``title`` up to the next heading of its level or above."""
    text = path.read_text(encoding="utf-8")
    for match in _HEADING.finditer(text):
        if match.group(2) == title:
            level = len(match.group(1))
            rest = text[match.end():]
            for nxt in _HEADING.finditer(rest):
                if len(nxt.group(1)) <= level:
                    return rest[: nxt.start()]
            return rest
    raise AssertionError(f"{path.name} has no heading {title!r}")


def table(text: str) -> list[list[str]]:
    """Rows of the first Markdown table in ``text`` (header and rule left out)."""
    rows: list[list[str]] = []
    started = False
    for line in text.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append(cells)
        elif started:
            break
    assert len(rows) > 2, "no table"
    return rows[2:]


def code(cell: str) -> list[str]:
    """The code spans of a table cell, in order."""
    return [m.strip("`") for m in re.findall(r"`[^`]+`", cell)]


# ---- links ---------------------------------------------------------------------


def test_every_relative_link_in_the_readme_and_docs_resolves_inside_the_repository() -> None:
    broken: list[str] = []
    for doc in DOCS:
        for target in links(doc):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            where = f"{doc.relative_to(ROOT)}: ({target})"
            if not dest.is_relative_to(ROOT) or not dest.exists():
                broken.append(f"{where}: no such file in the repository")
            elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
                broken.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_link_checker_sees_links_and_headings_as_github_does(tmp_path: Path) -> None:
    # The checker above is only as good as its parsing: a real link is found,
    # a link in code is not, and anchors follow GitHub's rules.
    page = tmp_path / "page.md"
    page.write_text(
        "# Redis layout\n## The `agent` hash (fields)\n## Redis layout\n"
        "See [a](other.md#x \"t\") and ![img](img/p.png).\n"
        "`[not](a-link.md)`\n```\n[nor](this.md)\n```\n[ref]: ref.md\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"redis-layout", "the-agent-hash-fields", "redis-layout-1"}
    assert sorted(links(page)) == ["img/p.png", "other.md#x", "ref.md"]


# ---- the Redis layout ----------------------------------------------------------


def _keys_members() -> set[str]:
    return {name for name in dir(Keys) if not name.startswith("_") and name != "prefix"}


def _documented_keys() -> list[tuple[str, str]]:
    """(key pattern, Keys member) of the Redis section's key table."""
    rows = table(section(CONTRACTS, "Keys"))
    return [(code(row[0])[0], code(row[1])[0]) for row in rows]


def test_every_redis_key_documented_is_a_keys_member_and_every_member_is_documented() -> None:
    documented = _documented_keys()
    assert {member for _, member in documented} == _keys_members()
    keys = Keys("acd:")
    for pattern, member in documented:
        # Build the key with stand-ins for its parts, then put the documented
        # placeholders back: the layout itself must match, not just the name.
        holes = re.findall(r"\{[^}]+\}", pattern)
        attr = getattr(keys, member)
        stand_ins = [f"\x00{i}\x00" for i in range(len(holes))]
        built = attr(*stand_ins) if callable(attr) else attr
        for stand_in, hole in zip(stand_ins, holes, strict=True):
            built = built.replace(stand_in, hole)
        assert built == "{acd}:" + pattern, member


def test_every_key_the_lua_scripts_name_is_documented() -> None:
    lua = "\n".join(v for k, v in vars(scripts).items() if k.isupper() and isinstance(v, str))
    named = set(re.findall(r"P \.\. '([a-z_:]+)'", lua))
    assert named, "the scripts build their keys differently now: update this test"
    patterns = [code(row[0])[0] for row in table(section(CONTRACTS, "Keys"))]
    missing = sorted(n for n in named if not any(p.startswith(n) for p in patterns))
    assert not missing, f"keys the Lua scripts use that docs/contracts.md does not list: {missing}"


def _hash_fields(title: str) -> set[str]:
    return {name for row in table(section(CONTRACTS, title)) for name in code(row[0])}


def test_every_documented_hash_field_is_written_somewhere() -> None:
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "acd").rglob("*.py")
    )
    for title in ("Agent hash", "Call hash"):
        unwritten = sorted(
            f for f in _hash_fields(title)
            if f"'{f}'" not in source and f'"{f}"' not in source
        )
        assert not unwritten, f"{title}: documented but named nowhere in acd/: {unwritten}"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


NOW = 1_800_000_000.0


async def test_every_field_and_event_the_scripts_write_is_documented(
    redis_client: aioredis.Redis,
) -> None:
    """A working day in miniature through the real store and Lua scripts: the
    hashes and stream entries it leaves hold only documented names."""
    store = Store(redis_client, RedisConfig(key_prefix="docs:"))
    agents = [AgentConfig(id=f"a{i}", name=f"Agent {i}", endpoint=f"PJSIP/a{i}",
                          queues={"q": 50}) for i in range(2)]
    await store.ensure_agents(agents, NOW)
    for a in agents:
        await store.set_reachable(a.id, True, NOW)
        await store.agent_command(a.id, Command.LOGIN, NOW)
    fields = {"caller_id": "555", "caller_name": "Ann", "owner": "me",
              "channel": "PJSIP/t-1", "target": "120"}
    await store.enqueue("c1", "q", arrival=NOW, priority=1, max_length=0, now=NOW,
                        fields=fields)
    # a missed ring, then an answer, a pending pause, wrap-up, disposition, survey
    assert await store.claim("c1", "a0", NOW + 1)
    call = await store.call("c1")
    assert call is not None
    await store.ring_missed(call, "a0", "NOANSWER", 3, NOW + 16)
    assert await store.claim("c1", "a1", NOW + 17)
    assert await store.agent_answered("a1", "c1", NOW + 20)
    await store.agent_command("a1", Command.PAUSE, NOW + 30, "Lunch", "sup")
    assert await store.call_finished("c1", "a1", 10, NOW + 60)
    await store.set_disposition("c1", "a1", "sold", "note", resolved=True,
                                end_wrap_up=False, now=NOW + 62, by="")
    await store.survey("c1", 5, NOW + 63)
    assert await store.wrap_up_expired("a1", NOW + 70)
    await store.set_phone_busy("a0", True, NOW + 71)
    # a caller who asks for a callback that does not reach them
    await store.enqueue("c2", "q", arrival=NOW + 80, priority=0, max_length=0, now=NOW + 80,
                        fields={**fields, "caller_id": "777"})
    assert await store.callback_requested("c2", "me", "777", NOW + 81)
    await store.set_phone_busy("a0", False, NOW + 82)
    assert await store.claim("c2", "a0", NOW + 83)
    assert await store.callback_running("c2", "a0", "me", 60, NOW + 83)
    await store.callback_failed("c2", "a0", "caller", retry_seconds=60, attempts=3,
                                auto_pause_after=3, now=NOW + 90)
    # a caller who gives up
    await store.enqueue("c3", "q", arrival=NOW + 100, priority=0, max_length=0, now=NOW + 100,
                        fields=fields)
    await store.leave("c3", Exit.ABANDONED, 5, NOW + 140)

    documented_agent = _hash_fields("Agent hash")
    documented_call = _hash_fields("Call hash")
    for agent_id in ("a0", "a1"):
        written = set(await hash_of(redis_client, store.keys.agent(agent_id)))
        assert written <= documented_agent, written - documented_agent
    for call_id in ("c1", "c2", "c3"):
        written = set(await hash_of(redis_client, store.keys.call(call_id)))
        assert written <= documented_call, written - documented_call

    events = {
        code(row[0])[0]: set(code(row[1])) for row in table(section(CONTRACTS, "Event stream"))
    }
    seen: set[str] = set()
    for entry in await stream_entries(redis_client, store.keys.events):
        kind = entry["type"]
        seen.add(kind)
        assert kind in events, f"stream entry type {kind!r} is not documented"
        if kind != "contact":  # a contact carries the call hash
            extra = set(entry) - {"type", "at"} - events[kind]
            assert not extra, f"{kind}: undocumented fields {extra}"
    assert {"agent_state", "agent_missed", "call_answered", "contact", "survey"} <= seen


# ---- counters and the CSV --------------------------------------------------------


def test_the_interval_counters_documented_are_the_ones_counted() -> None:
    rows = table(section(METRICS, "Interval counters"))
    documented = [code(row[0])[0] for row in rows]
    assert sorted(documented) == sorted((*COUNTER_FIELDS, "idle_seconds"))
    lua = "".join(v for k, v in vars(scripts).items() if k.isupper() and isinstance(v, str))
    assert "'idle_seconds'" in lua  # the one counter outside COUNTER_FIELDS


def test_the_wait_histogram_buckets_documented_are_the_ones_counted() -> None:
    text = " ".join(section(METRICS, "Wait histogram").split())
    bounds: list[int] = []
    for step, first, last in re.findall(r"every (\d+) s from (\d+) to (\d+)", text):
        bounds += range(int(first), int(last) + 1, int(step))
    then = re.search(r"then ([\d, and]+)", text)
    assert then is not None
    bounds += [int(n) for n in re.findall(r"\d+", then.group(1))]
    assert tuple(bounds) == WAIT_BUCKETS
    assert f"`wait_gt_{WAIT_BUCKETS[-1]}`" in text


def test_the_interval_csv_columns_documented_are_the_ones_exported_and_read() -> None:
    rows = table(section(CONTRACTS, "Interval CSV"))
    assert [code(row[0])[0] for row in rows] == [*COLUMNS, *EXTRA_COLUMNS]
    required = [code(row[0])[0] for row in rows if row[-1] == "required"]
    assert required == list(CSV_COLUMNS) == list(COLUMNS)


# ---- FastAGI, the dialplan, the console ------------------------------------------


def test_the_fastagi_script_paths_documented_are_the_ones_served() -> None:
    rows = table(section(CONTRACTS, "Script paths"))
    documented = {code(row[0])[0] for row in rows}
    service = AcdService(
        Config(source="<docs>", queues=(QueueConfig(name="q"),)), aioredis.Redis()
    )
    assert documented == set(service.routes())
    dialplan = (ROOT / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    used = set(re.findall(r"AGI\(\$\{ACD_AGI\}/([a-z/]+)", dialplan))
    assert used and used <= documented


def test_every_acd_result_of_an_inbound_call_is_documented() -> None:
    rows = table(section(CONTRACTS, "Channel variables"))
    inbound = next(row for row in rows if code(row[0]) == ["ACD_RESULT"] and "inbound" in row[1])
    documented = set(code(inbound[2]))
    assert {r.value for r in WaitResult} | {"CLOSED"} <= documented


def _commands(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, set[str]]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        flags = {
            max(a.option_strings, key=len)
            for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)
        }
        yield path, flags
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, f"{path} {name}")


def test_every_console_command_and_flag_is_documented() -> None:
    text = section(CONTRACTS, "Console commands")
    rows = {code(row[0])[0]: row[1] for row in table(text)}
    commands = dict(_commands(_build_parser(), "acd"))
    assert set(rows) == set(commands)
    for command, flags in commands.items():
        documented = set(re.findall(r"`(--[a-z-]+)", rows[command]))
        assert documented == flags, command
    assert "-v/--verbose" in text


# ---- HTTP and the snapshot ---------------------------------------------------------


def test_every_http_route_is_documented_and_every_documented_route_is_served() -> None:
    app = create_app(Config(source="<docs>"), aioredis.Redis())
    def shape(path: str) -> str:  # "/api/agents/{agent_id}/x" -> "/api/agents/{}/x"
        return re.sub(r"\{[^}]*\}", "{}", path)

    served = {
        (route.method, shape(route.resource.canonical if route.resource else ""))
        for route in app.router.routes()
        if route.method != "HEAD"
    }
    documented: set[tuple[str, str]] = set()
    for row in table(section(CONTRACTS, "HTTP API")):
        for method_path in code(row[0]):
            method, path = method_path.split(" ", 1)
            documented.add((method, shape(path.removesuffix("/..."))))
    assert documented == served


def _documented_names(title: str) -> set[str]:
    text = section(CONTRACTS, title)
    if "|" in text:
        return {name for row in table(text) for name in code(row[0])}
    return set(code(text))


async def test_every_snapshot_field_is_documented_and_every_documented_field_is_sent(
    redis_client: aioredis.Redis,
) -> None:
    config = Config(
        source="<docs>",
        redis=RedisConfig(key_prefix="snapdocs:"),
        queues=(QueueConfig(name="q"),),
        agents=(AgentConfig(id="a0", name="A", endpoint="PJSIP/a0", queues={"q": 50}),),
    )
    store = Store(redis_client, config.redis)
    await store.ensure_agents(config.agents, NOW)
    await store.set_reachable("a0", True, NOW)
    await store.agent_command("a0", Command.LOGIN, NOW)
    await store.enqueue("c1", "q", arrival=NOW, priority=0, max_length=0, now=NOW,
                        fields={"owner": "me", "caller_id": "555"})
    builder = SnapshotBuilder(config, redis_client, clock=lambda: NOW + 5)
    snapshot = await builder.build(builder.board())
    queue, agent = snapshot["queues"][0], snapshot["agents"][0]
    assert set(snapshot) == _documented_names("Top level")
    assert set(queue) == _documented_names("A queue")
    assert set(snapshot["totals"]) == _documented_names("Totals")
    assert set(agent) == _documented_names("An agent")
    counts = _documented_names("Agent counts")
    assert set(queue["agents"]) == counts == set(snapshot["totals"]["agents"])
