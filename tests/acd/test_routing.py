"""Routing policy: who gets the call, which call an agent gets, hours, estimates."""

from __future__ import annotations

import datetime as dt

from acd.core.models import AgentState, AgentView, CallState, CallView
from acd.core.routing import (
    Candidate,
    RingEnd,
    announce_minutes,
    choose_call,
    expected_wait,
    rank_agents,
    ring_end,
)
from acd.core.settings import (
    AgentConfig,
    BusinessHours,
    QueueConfig,
    RelaxationStep,
    SkillRequirement,
    TimeRange,
)

NOW = 1_800_000_000.0


def agent(aid: str, *, idle: float = 0.0, calls: int = 0, talk: float = 0.0,
          reachable: bool = True, queues: dict[str, int] | None = None,
          skills: dict[str, int] | None = None) -> Candidate:
    view = AgentView(
        id=aid, name=aid, state=AgentState.AVAILABLE, state_since=idle, pause_reason="",
        queue="", call_id="", reachable=reachable, missed=0, idle_since=idle, calls=calls,
        talk_seconds=talk, wrap_until=0.0,
    )
    cfg = AgentConfig(id=aid, name=aid, endpoint=f"PJSIP/{aid}",
                      queues=queues if queues is not None else {"q": 50}, skills=skills or {})
    return Candidate(view, cfg)


def call(cid: str = "c1", *, queue: str = "q", arrival: float = NOW - 10, priority: int = 0,
         tried: tuple[str, ...] = ()) -> CallView:
    return CallView(id=cid, queue=queue, caller_id="1", caller_name="", arrival=arrival,
                    queue_arrival=arrival, priority=priority, state=CallState.WAITING,
                    agent="", owner="x", tried=tried)


def choose_agent(queue: QueueConfig, pool: list[Candidate], c: CallView, now: float,
                 *, last_assigned: str = "") -> Candidate | None:
    ranked = rank_agents(queue, pool, c, now, last_assigned=last_assigned)
    return ranked[0] if ranked else None


def test_longest_idle_agent_gets_the_call() -> None:
    q = QueueConfig(name="q")
    pool = [agent("a", idle=NOW - 5), agent("b", idle=NOW - 50), agent("c", idle=NOW - 20)]
    chosen = choose_agent(q, pool, call(), NOW)
    assert chosen is not None and chosen.view.id == "b"


def test_unreachable_phone_is_never_offered() -> None:
    q = QueueConfig(name="q")
    pool = [agent("a", idle=NOW - 50, reachable=False), agent("b", idle=NOW - 5)]
    chosen = choose_agent(q, pool, call(), NOW)
    assert chosen is not None and chosen.view.id == "b"
    assert choose_agent(q, [pool[0]], call(), NOW) is None


def test_agent_who_missed_the_call_is_tried_last() -> None:
    q = QueueConfig(name="q")
    pool = [agent("a", idle=NOW - 50), agent("b", idle=NOW - 5)]
    chosen = choose_agent(q, pool, call(tried=("a",)), NOW)
    assert chosen is not None and chosen.view.id == "b"
    only = choose_agent(q, [pool[0]], call(tried=("a",)), NOW)
    assert only is not None and only.view.id == "a"


def test_skills_and_relaxation_over_wait_time() -> None:
    q = QueueConfig(
        name="q",
        required_skills=(SkillRequirement("polish", 70),),
        relaxation=(RelaxationStep(after_seconds=60, min_proficiency=40),),
    )
    junior = agent("junior", skills={"polish": 50})
    fresh_call = call(arrival=NOW - 10)
    old_call = call(arrival=NOW - 61)
    assert choose_agent(q, [junior], fresh_call, NOW) is None
    chosen = choose_agent(q, [junior], old_call, NOW)
    assert chosen is not None and chosen.view.id == "junior"


def test_agent_not_serving_queue_is_not_eligible() -> None:
    q = QueueConfig(name="q")
    assert choose_agent(q, [agent("a", queues={"other": 90})], call(), NOW) is None


def test_other_strategies() -> None:
    pool = [
        agent("a", idle=NOW - 50, calls=9, talk=900, queues={"q": 30}),
        agent("b", idle=NOW - 5, calls=1, talk=500, queues={"q": 90}),
        agent("c", idle=NOW - 20, calls=4, talk=100, queues={"q": 60}),
    ]

    def pick(strategy: str, last: str = "") -> str:
        chosen = choose_agent(QueueConfig(name="q", strategy=strategy), pool, call(), NOW,
                              last_assigned=last)
        assert chosen is not None
        return chosen.view.id

    assert pick("most_skilled") == "b"
    assert pick("fewest_calls") == "b"
    assert pick("least_talk_time") == "c"
    assert pick("round_robin", last="a") == "b"
    assert pick("round_robin", last="c") == "a"


def test_weighted_idle_trades_idle_time_against_proficiency() -> None:
    q = QueueConfig(name="q", strategy="weighted_idle")
    expert = agent("expert", idle=NOW - 60, queues={"q": 100})  # weighs 60
    novice = agent("novice", idle=NOW - 100, queues={"q": 50})  # weighs 50
    chosen = choose_agent(q, [novice, expert], call(), NOW)
    assert chosen is not None and chosen.view.id == "expert"
    novice = agent("novice", idle=NOW - 130, queues={"q": 50})  # weighs 65
    chosen = choose_agent(q, [novice, expert], call(), NOW)
    assert chosen is not None and chosen.view.id == "novice"


def test_vip_first_then_longest_weighted_wait_across_queues() -> None:
    queues = {"sales": QueueConfig(name="sales"), "vip": QueueConfig(name="vip", priority=10)}
    a = AgentConfig(id="a", name="a", endpoint="PJSIP/a", queues={"sales": 50, "vip": 50})
    heads = {
        "sales": [call("s1", queue="sales", arrival=NOW - 100)],
        "vip": [call("v1", queue="vip", arrival=NOW - 60)],
    }
    # vip queue weight 2.0: 60 s there counts like 120 s against sales' 100 s
    chosen = choose_call(a, "a", heads, queues, NOW)
    assert chosen is not None and chosen.id == "v1"
    heads["sales"] = [call("s2", queue="sales", arrival=NOW - 5, priority=5)]
    chosen = choose_call(a, "a", heads, queues, NOW)
    assert chosen is not None and chosen.id == "s2"


def test_fair_across_equal_queues_takes_longest_wait() -> None:
    queues = {"x": QueueConfig(name="x"), "y": QueueConfig(name="y")}
    a = AgentConfig(id="a", name="a", endpoint="PJSIP/a", queues={"x": 50, "y": 50})
    heads = {"x": [call("x1", queue="x", arrival=NOW - 30)],
             "y": [call("y1", queue="y", arrival=NOW - 31)]}
    chosen = choose_call(a, "a", heads, queues, NOW)
    assert chosen is not None and chosen.id == "y1"


def test_business_hours_holidays_and_overnight_ranges() -> None:
    hours = BusinessHours(
        weekly={1: (TimeRange(dt.time(8), dt.time(18)),),
                5: (TimeRange(dt.time(22), dt.time(2)),)},
        holidays=(dt.date(2026, 12, 28),),
        timezone="Europe/Warsaw",
    )

    def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> float:
        local = dt.datetime(y, m, d, hh, mm, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        return local.timestamp()

    assert hours.is_open(at(2026, 11, 23, 9))  # Monday 09:00 CET
    assert not hours.is_open(at(2026, 11, 23, 18))  # end is exclusive
    assert not hours.is_open(at(2026, 11, 24, 9))  # Tuesday: no hours
    assert hours.is_open(at(2026, 11, 27, 23))  # Friday overnight range
    assert not hours.is_open(at(2026, 12, 28, 9))  # a Monday holiday
    assert BusinessHours().is_open(at(2026, 11, 24, 3))  # no hours = always open


def test_expected_wait_and_minutes() -> None:
    assert expected_wait(0, 5, 180) == 0
    assert expected_wait(3, 2, 120) == 180
    assert expected_wait(1, 0, 60) == 60  # nobody serving: still a finite estimate
    assert announce_minutes(10) == 1
    assert announce_minutes(61) == 2


def test_which_ring_ends_are_the_agents_misses() -> None:
    assert ring_end("NOANSWER") is RingEnd.MISSED
    assert ring_end("BUSY") is RingEnd.MISSED_UNLESS_IN_USE  # the store knows the phone
    assert ring_end("CHANUNAVAIL") is RingEnd.UNREACHABLE
    for status in ("CONGESTION", "CANCEL", "TIMEOUT", "UNKNOWN", ""):
        assert ring_end(status) is RingEnd.NOT_MISSED
