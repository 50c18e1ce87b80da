"""The agent-command table: what a supervisor or an agent sees when they
press a state button, checked on the table and on the real Redis script."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from acd.core.agent_rules import PENDING_VALUES, Command, Rule, Status, decide
from acd.core.errors import InvalidTransition, UnknownAgent
from acd.core.models import AgentState
from acd.core.settings import AgentConfig, RedisConfig
from acd.store.store import Store
from tests.redis_reads import hash_of

NOW = 1_800_000_000.0
BUSY = (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)


def test_during_a_call_pause_and_logout_wait_for_the_call_to_end() -> None:
    for state in BUSY:
        for command in (Command.PAUSE, Command.LOGOUT):
            rule = decide(state, command)
            assert rule is not None and rule.status is Status.PENDING and rule.to is None


def test_login_only_from_logged_out_and_unpause_withdraws_a_pending_pause() -> None:
    login = decide(AgentState.LOGGED_OUT, Command.LOGIN)
    assert login is not None and (login.status, login.to) == (Status.DONE, AgentState.AVAILABLE)
    assert all(decide(s, Command.LOGIN) is None
               for s in AgentState if s is not AgentState.LOGGED_OUT)
    assert decide(AgentState.ON_CALL, Command.UNPAUSE) is None
    withdrawn = decide(AgentState.ON_CALL, Command.UNPAUSE, "pause")
    assert withdrawn is not None and withdrawn.status is Status.DONE and withdrawn.to is None
    back = decide(AgentState.PAUSED, Command.UNPAUSE, "pause")
    assert back == decide(AgentState.PAUSED, Command.UNPAUSE) == Rule(
        Status.DONE, AgentState.AVAILABLE, back.effects if back else ())
    assert decide(AgentState.LOGGED_OUT, Command.PAUSE) is None


async def _agent_in(store: Store, redis: aioredis.Redis, state: AgentState, pending: str) -> str:
    aid = f"{state.value}-{pending or 'none'}"
    await store.ensure_agents([AgentConfig(id=aid, name=aid, endpoint=f"PJSIP/{aid}")], NOW)
    await redis.hset(store.keys.agent(aid), mapping={"state": state.value, "pending": pending})
    return aid


@pytest.mark.parametrize("command", list(Command))
async def test_the_redis_script_applies_exactly_the_table(
    redis_client: aioredis.Redis, key_prefix: str, command: Command
) -> None:
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    for state in AgentState:
        for pending in PENDING_VALUES:
            aid = await _agent_in(store, redis_client, state, pending)
            rule = decide(state, command, pending)
            if rule is None:
                with pytest.raises(InvalidTransition) as refused:
                    await store.agent_command(aid, command, NOW, "lunch")
                assert state.value in str(refused.value) and command.value in str(refused.value)
                continue
            result = await store.agent_command(aid, command, NOW, "lunch")
            assert result.status is rule.status, (state, command, pending)
            assert result.state is (rule.to or state), (state, command, pending)
            stored = await hash_of(redis_client, store.keys.agent(aid))
            assert stored["state"] == (rule.to or state).value
            if rule.status is Status.PENDING:
                assert stored["pending"] == command.value


async def test_an_unknown_agent_is_a_coded_error_with_its_id(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    with pytest.raises(UnknownAgent) as missing:
        await store.agent_command("nobody", Command.LOGIN, NOW)
    assert missing.value.data == {"agent": "nobody"} and "'nobody'" in missing.value.message
