"""Wallboard deltas (wallboard/delta.py): applying the delta between two
snapshots to the first gives the second, whatever changed; a delta is
refused by a board at another version."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallboard import delta

STATES = ("logged_out", "available", "ringing", "on_call", "wrap_up", "paused")
values = st.one_of(st.none(), st.integers(0, 10_000), st.floats(0, 1, allow_nan=False), st.text())


@st.composite
def boards(draw: st.DrawFn, queues: int, agents: int) -> dict[str, Any]:
    return {
        "generated_at": draw(st.floats(1e9, 2e9)),
        "last_change_at": draw(st.one_of(st.none(), st.floats(1e9, 2e9))),
        "type": "snapshot",
        "timezone": draw(st.sampled_from(["UTC", "Europe/Warsaw"])),
        "totals": {"waiting": draw(st.integers(0, 50)), "service_level": draw(values)},
        "queues": [
            {
                "name": f"q{i}",
                "waiting": draw(st.integers(0, 50)),
                "service_level": draw(values),
                "agents": {"available": draw(st.integers(0, 9)), "paused": draw(st.integers(0, 9))},
                "series": {"service_level": draw(st.lists(values, max_size=4))},
            }
            for i in range(queues)
        ],
        "agents": [
            {
                "id": f"a{i}",
                "state": draw(st.sampled_from(STATES)),
                "state_since": draw(st.floats(1e9, 2e9)),
                "pause_reason": draw(st.text(max_size=8)),
            }
            for i in range(agents)
        ],
    }


@st.composite
def pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    queues, agents = draw(st.integers(0, 4)), draw(st.integers(0, 6))
    return draw(boards(queues, agents)), draw(boards(queues, agents))


@given(pairs())
def test_applying_the_delta_gives_the_new_board(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = pair
    change = delta.diff(old, new)
    assert change is not None  # same queues and agents: always a delta
    sent = json.loads(json.dumps(delta.message(change, new, 8, 7)))  # over the wire
    shown = delta.apply(delta.full(old, 7), sent)
    assert shown == delta.full(new, 8)


def test_a_one_agent_change_carries_that_agent_only() -> None:
    old = {
        "generated_at": 1.0, "last_change_at": 1.0, "type": "snapshot", "timezone": "UTC",
        "queues": [{"name": "support", "waiting": 2, "agents": {"paused": 0}},
                   {"name": "sales", "waiting": 0, "agents": {"paused": 0}}],
        "agents": [{"id": f"a{i}", "state": "available"} for i in range(200)],
    }  # fmt: skip
    new = json.loads(json.dumps(old))
    new["generated_at"] = new["last_change_at"] = 2.0
    new["agents"][17]["state"] = "paused"
    new["queues"][1]["agents"] = {"paused": 1}
    change = delta.diff(old, new)
    assert change == {
        "set": {},
        "queues": [{"name": "sales", "agents": {"paused": 1}}],
        "agents": [{"id": "a17", "state": "paused"}],
    }
    assert len(json.dumps(delta.message(change, new, 2, 1))) < len(json.dumps(new)) / 20


def test_a_changed_list_of_queues_or_agents_needs_the_full_board() -> None:
    old = {"queues": [{"name": "a"}], "agents": [{"id": "1"}], "x": 1}
    assert delta.diff(old, {**old, "queues": [{"name": "b"}]}) is None
    assert delta.diff(old, {**old, "agents": [{"id": "1"}, {"id": "2"}]}) is None
    assert delta.diff(old, {"queues": old["queues"], "agents": old["agents"]}) is None
    assert delta.diff(old, {**old, "queues": [{"name": "a", "new_field": 1}]}) is None


def test_a_delta_for_another_version_or_board_is_refused() -> None:
    board = delta.full({"queues": [{"name": "a", "waiting": 0}], "agents": []}, 5)
    with pytest.raises(delta.DeltaError, match="version 6"):
        delta.apply(board, {"version": 7, "base": 6, "set": {}, "queues": [], "agents": []})
    with pytest.raises(delta.DeltaError, match="queue 'b'"):
        delta.apply(board, {"version": 6, "base": 5, "queues": [{"name": "b", "waiting": 1}]})
    with pytest.raises(delta.DeltaError, match="agent 'x'"):
        delta.apply(board, {"version": 6, "base": 5, "agents": [{"id": "x"}]})
    assert board["queues"][0]["waiting"] == 0  # the board applied to is never changed
