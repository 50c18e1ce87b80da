"""Agent commands (login, logout, pause, unpause) from feature codes and the API.

Feature codes arrive as FastAGI scripts ``agent/login``, ``agent/logout``,
``agent/pause?reason=...`` and ``agent/unpause``; the agent is named by
``?agent=ID`` or found from the calling channel (``PJSIP/1001-0000002a``).
The HTTP API calls :class:`AgentCommands` directly.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable

from acd.core.agent_rules import Command
from acd.core.errors import AcdError, InvalidDisposition, UnknownAgent, UnknownCall
from acd.core.settings import AgentConfig, Config
from acd.dispatcher import Dispatcher
from acd.store.store import CommandResult, Store
from telephony.agi_server import AgiSession
from telephony.errors import CallerHangup

log = logging.getLogger(__name__)

# Reason codes for the *43<digit> feature code.
PAUSE_CODES = {
    "1": "Break",
    "2": "Lunch",
    "3": "Training",
    "4": "Meeting",
    "5": "Back office",
    "6": "Coaching",
    "7": "Outbound calls",
    "8": "Technical problem",
    "9": "Other",
}

PROMPTS = {
    "login": "agent-loginok",
    "logout": "agent-loggedoff",
    "pause": "beep",
    "unpause": "beep",
}


class AgentCommands:
    """State changes requested by or for an agent."""

    def __init__(self, store: Store, dispatcher: Dispatcher, clock: Callable[[], float]) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock

    async def _apply(
        self, agent_id: str, action: Command, reason: str = "", by: str = ""
    ) -> CommandResult:
        if agent_id not in self.dispatcher.agents:
            raise UnknownAgent(f"no agent {agent_id!r}", agent=agent_id)
        result = await self.store.agent_command(agent_id, action, self.clock(), reason, by)
        log.info("agent %s %s%s%s: %s", agent_id, action, f" ({reason})" if reason else "",
                 f" by {by}" if by else "", result.status)
        if result.state == "available":
            await self.dispatcher.match_agent(agent_id)
        return result

    # ``by``: who asked, when not the agent (a supervisor's id): recorded in
    # the event stream. Each returns whether the change is done or pending.

    async def login(self, agent_id: str, by: str = "") -> CommandResult:
        return await self._apply(agent_id, Command.LOGIN, by=by)

    async def logout(self, agent_id: str, by: str = "") -> CommandResult:
        return await self._apply(agent_id, Command.LOGOUT, by=by)

    async def pause(self, agent_id: str, reason: str, by: str = "") -> CommandResult:
        return await self._apply(agent_id, Command.PAUSE, reason.strip()[:100] or "paused", by=by)

    async def unpause(self, agent_id: str, by: str = "") -> CommandResult:
        return await self._apply(agent_id, Command.UNPAUSE, by=by)

    async def disposition(
        self, agent_id: str, call_id: str, code: str, note: str = "", by: str = ""
    ) -> str:
        """The outcome of a call the agent handled (during or after wrap-up),
        recorded by the agent or, with ``by``, by a supervisor."""
        call = await self.store.call(call_id)
        if call is None:
            raise UnknownCall(f"no call {call_id!r}", call=call_id)
        queue = self.dispatcher.queues.get(call.queue)
        if queue is None or code not in queue.dispositions:
            allowed = ", ".join(queue.dispositions) if queue else ""
            raise InvalidDisposition(
                f"{code!r} is not a disposition of queue {call.queue!r}"
                + (f" (one of {allowed})" if allowed else " (it has none)"),
                code=code,
            )
        clean = "".join(ch for ch in note if ch.isprintable() or ch == "\n")[:1000]
        state = await self.store.set_disposition(
            call_id, agent_id, code, clean, resolved=code in queue.resolved_dispositions,
            end_wrap_up=queue.wrap_up_ends_on_disposition, now=self.clock(), by=by,
        )
        if state == "wrap_up_ended":
            await self.dispatcher.match_agent(agent_id)
        return state


def agent_for_channel(config: Config, channel: str) -> AgentConfig | None:
    """The agent whose endpoint placed this channel (``PJSIP/1001-0000002a``)."""
    base = channel.rsplit("-", 1)[0] if "-" in channel else channel
    for agent in config.agents:
        if agent.endpoint.lower() == base.lower():
            return agent
    return None


class AgentFeatureCodes:
    """FastAGI handlers for the agents' feature codes, with voice prompts."""

    def __init__(self, config: Config, commands: AgentCommands) -> None:
        self.config = config
        self.commands = commands

    def routes(self) -> dict[str, Callable[[AgiSession], object]]:
        return {
            "agent/login": self.login,
            "agent/logout": self.logout,
            "agent/pause": self.pause,
            "agent/unpause": self.unpause,
        }

    async def _identify(self, session: AgiSession) -> AgentConfig | None:
        request = session.request
        wanted = request.query.get("agent", "")
        endpoint = request.query.get("endpoint", "")
        if wanted:
            agent = self.config.agent(wanted)
        elif endpoint:
            agent = agent_for_channel(self.config, f"PJSIP/{endpoint}")
        else:
            agent = agent_for_channel(self.config, request.channel)
        if agent is None:
            log.warning("feature code from unknown agent (channel %s)", request.channel)
            return None
        if agent.pin:
            entered = await session.get_data("agent-pass", timeout_ms=6000, max_digits=12)
            if not hmac.compare_digest(entered.encode(), agent.pin.encode()):
                log.warning("agent %s entered a wrong PIN", agent.id)
                return None
        return agent

    async def _run(self, session: AgiSession, action: str) -> None:
        await session.answer()
        agent = await self._identify(session)
        if agent is None:
            await session.stream_file("agent-incorrect")
            await session.set_variable("ACD_RESULT", "REFUSED")
            return
        try:
            if action == "pause":
                code = session.request.query.get("reason", "")
                reason = PAUSE_CODES.get(code, code) or "Paused"
                await self.commands.pause(agent.id, reason)
            else:
                await getattr(self.commands, action)(agent.id)
        except AcdError as exc:
            log.info("agent %s %s refused: %s", agent.id, action, exc.message)
            await session.stream_file("agent-incorrect")
            await session.set_variable("ACD_RESULT", exc.code.upper())
            return
        await session.stream_file(PROMPTS[action])
        await session.set_variable("ACD_RESULT", "OK")
        with contextlib.suppress(CallerHangup):
            await session.hangup()

    async def login(self, session: AgiSession) -> None:
        await self._run(session, "login")

    async def logout(self, session: AgiSession) -> None:
        await self._run(session, "logout")

    async def pause(self, session: AgiSession) -> None:
        await self._run(session, "pause")

    async def unpause(self, session: AgiSession) -> None:
        await self._run(session, "unpause")
