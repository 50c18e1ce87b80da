"""The wallboard web application (aiohttp).

Routes: ``GET /`` (TV page), ``GET /api/snapshot``, ``GET /ws``, ``GET /healthz``,
``POST /api/agents/{id}/login|logout|pause|unpause|disposition``, the agent
desk's pages (:mod:`wallboard.desk`) and ``/static/...``.
It reads Redis; agent state changes go through :class:`AgentCommands`, which
the ACD provides. The agent API takes the Bearer API token (machine clients)
or a desk session with its CSRF token (an agent for themself, a supervisor
for anyone). Domain error codes map to HTTP statuses only here.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import jinja2
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from acd.core.errors import AcdError
from acd.core.metrics import ServiceLevelVariant
from acd.core.settings import Config
from acd.core.text import log_safe
from acd.store.keys import Keys
from wallboard import desk, i18n
from wallboard.auth import DeskSettings
from wallboard.live import LiveHub
from wallboard.snapshot import Board, SnapshotBuilder, dumps

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
MAX_PAUSE_REASON = 100
MAX_DISPOSITION_CODE = 64
MAX_NOTE = 1000
MAX_COMMAND_BODY = 4096
HUB_STOP_SECONDS = 3.0
# Changes are coalesced into at most one board update per this many seconds
# (the first change after a quiet spell is built at once). With deltas and
# live builds that read only what changed, an update costs a few ms, so the
# wait a change adds can be short: 50 ms took 30 ms off the p95 of 1,000
# viewers against 100 ms, for 4 % more of a core (docs/wallboard.md).
LIVE_MIN_INTERVAL = 0.05


class AgentCommands(Protocol):
    """State changes the ACD performs for the HTTP API. Each raises an
    :class:`acd.core.errors.AcdError` subclass when it cannot."""

    async def login(self, agent_id: str, by: str = "") -> object: ...

    async def logout(self, agent_id: str, by: str = "") -> object: ...

    async def pause(self, agent_id: str, reason: str, by: str = "") -> object: ...

    async def unpause(self, agent_id: str, by: str = "") -> object: ...

    async def disposition(
        self, agent_id: str, call_id: str, code: str, note: str = "", by: str = ""
    ) -> str: ...


# The one table from domain error codes to HTTP statuses.
STATUS_BY_CODE: Mapping[str, int] = {
    "unknown_agent": 404,
    "unknown_queue": 404,
    "unknown_call": 404,
    "invalid_transition": 409,
    "invalid_disposition": 422,
    "config_error": 500,
}


def status_for(error: AcdError) -> int:
    """HTTP status of a domain error (400 for codes not in the table)."""
    return STATUS_BY_CODE.get(error.code, 400)


CONFIG_KEY = web.AppKey("wallboard_config", Config)
BUILDER_KEY = web.AppKey("wallboard_builder", SnapshotBuilder)
HUB_KEY = web.AppKey("wallboard_hub", LiveHub)
REDIS_KEY = web.AppKey("wallboard_redis", aioredis.Redis)
COMMANDS_KEY: web.AppKey[AgentCommands | None] = web.AppKey("wallboard_commands")
HEALTH_KEY: web.AppKey[Callable[[], Mapping[str, str]] | None] = web.AppKey("wallboard_health")
JINJA_KEY = web.AppKey("wallboard_jinja", jinja2.Environment)

_SECURITY_HEADERS = {
    # Data on the page is rendered with textContent; this is the second line.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(
    config: Config,
    redis: aioredis.Redis,
    *,
    agent_commands: AgentCommands | None = None,
    health: Callable[[], Mapping[str, str]] | None = None,
    clock: Callable[[], float] = time.time,
    desk_settings: DeskSettings | None = None,
    live_deltas: bool = True,
) -> web.Application:
    """The wallboard application. ``redis`` stays owned by the caller; the app
    owns its subscription tasks (started and stopped with the app).
    ``live_deltas=False`` sends every viewer the full snapshot on every update
    (the behaviour before deltas; the benchmark measures both)."""
    variant = ServiceLevelVariant(
        config.wallboard.service_level_variant
    )
    builder = SnapshotBuilder(config, redis, clock=clock, variant=variant)
    hub = LiveHub(
        redis,
        Keys(config.redis.key_prefix).changes,
        builder.build_live,
        clock=clock,
        deltas=live_deltas,
        min_interval=LIVE_MIN_INTERVAL,
        on_change=builder.note_change,
    )

    app = web.Application(
        middlewares=[_errors_as_json],
        # Idle keep-alive connections are closed after idle_timeout (the
        # default is an hour: idle sockets would pile up).
        handler_args={"keepalive_timeout": config.wallboard.idle_timeout},
        client_max_size=64 * 1024,
    )
    app[CONFIG_KEY] = config
    app[BUILDER_KEY] = builder
    app[HUB_KEY] = hub
    app[REDIS_KEY] = redis
    app[COMMANDS_KEY] = agent_commands
    app[HEALTH_KEY] = health
    app[JINJA_KEY] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    wb = config.wallboard
    settings = desk_settings or DeskSettings(
        idle_seconds=wb.session_idle_minutes * 60,
        max_seconds=wb.session_max_hours * 3600,
        max_failures=wb.signin_max_failures,
        failure_window_seconds=wb.signin_window_seconds,
    )
    desk.setup(app, config, redis, builder, app[JINJA_KEY], clock, settings)
    app.cleanup_ctx.append(_live_updates)
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_add_security_headers)
    app.router.add_get("/", page)
    app.router.add_get("/api/snapshot", snapshot)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/agents/{agent_id}/{action}", agent_action)
    app.router.add_static("/static", _HERE / "static", name="static")
    return app


async def _live_updates(app: web.Application) -> AsyncIterator[None]:
    hubs = {"wallboard-hub": app[HUB_KEY], "desk-hub": app[desk.DESK_HUB_KEY]}
    tasks = {name: asyncio.create_task(hub.run(), name=name) for name, hub in hubs.items()}
    yield
    for hub in hubs.values():
        await hub.close()  # also when shutdown signals did not run
    # A hub stops on its flag within a poll (0.25 s); cancel only as a
    # fallback, and never wait without a bound.
    _, pending = await asyncio.wait(tasks.values(), timeout=HUB_STOP_SECONDS)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=HUB_STOP_SECONDS)
    for name, task in tasks.items():
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            log.error("wallboard: live updates (%s) failed: %r", name, exc)
        elif not task.done():
            log.error("wallboard: %s did not stop within %.0f s", name, 2 * HUB_STOP_SECONDS)


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Every error is JSON; Redis down is 503; an unexpected one is logged once,
    with no traceback or detail sent to the client."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "bad_request"
        )
        return _json_error(exc.status, code, exc.reason)
    except (RedisError, OSError) as exc:
        log.warning("wallboard: %s %s: Redis unavailable (%s)", request.method,
                    log_safe(request.path), type(exc).__name__)
        return _json_error(503, "store_unavailable", "statistics store unavailable")
    except (ValueError, UnicodeError, RecursionError):
        return _json_error(400, "bad_request", "malformed request")


async def _close_sockets(app: web.Application) -> None:
    await app[HUB_KEY].close()
    await app[desk.DESK_HUB_KEY].close()


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


# --- authentication ------------------------------------------------------------


def _presented_token(request: web.Request, allow_query: bool) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query.get("token")
    return None


def _token_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    # Headers may carry any bytes (aiohttp keeps them as surrogate escapes).
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def _json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": code, "message": message}, status=status, headers=headers or None
    )


def _check_view(request: web.Request) -> web.Response | None:
    """None when the viewer may see the board, else the refusal to send."""
    settings = request.app[CONFIG_KEY].wallboard
    if not settings.require_token_for_view:
        return None
    tokens = [t for t in (settings.view_token, settings.api_token) if t]
    if not tokens:
        return _json_error(403, "no_token_configured", "the board needs a token; none is set")
    presented = _presented_token(request, allow_query=True)
    if any(_token_matches(presented, token) for token in tokens):
        return None
    return _json_error(
        401, "unauthorized", "token required", **{"WWW-Authenticate": 'Bearer realm="wallboard"'}
    )


def _board(request: web.Request) -> Board:
    try:
        return request.app[BUILDER_KEY].board(
            request.query.get("queues"), request.query.get("board")
        )
    except LookupError as exc:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "unknown_board", "message": str(exc.args[0])}),
            content_type="application/json",
        ) from None


# --- handlers ------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    """The TV page: static markup, labels and settings; data arrives over /ws."""
    if (refusal := _check_view(request)) is not None:
        return refusal
    board = _board(request)
    config = request.app[CONFIG_KEY]
    settings = config.wallboard
    language = i18n.pick_language(request.query.get("lang"), settings.language)
    labels = i18n.translations(language)
    forwarded = {k: v for k, v in request.query.items() if k in ("queues", "board", "token")}
    page_config: dict[str, Any] = {
        "lang": language,
        "labels": labels,
        "query": forwarded,
        "timezone": settings.timezone,
        "sound_on_red": settings.sound_on_red,
    }
    html = (
        request.app[JINJA_KEY]
        .get_template("wallboard.html")
        .render(
            lang=language,
            dir=i18n.direction(language),
            labels=labels,
            title=board.title or settings.title or labels["title"],
            page_config=page_config,
        )
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def snapshot(request: web.Request) -> web.StreamResponse:
    """The snapshot of DESIGN.md as JSON."""
    if (refusal := _check_view(request)) is not None:
        return refusal
    board = _board(request)
    hub = request.app[HUB_KEY]
    try:
        data = await request.app[BUILDER_KEY].build(board, hub.last_change_at)
    except (RedisError, OSError) as exc:
        log.warning("snapshot: cannot read Redis: %s", log_safe(str(exc)))
        return _json_error(503, "store_unavailable", "statistics store unavailable")
    return web.Response(
        body=dumps(data), content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _origin_allowed(request: web.Request) -> bool:
    """Same origin (the Origin's host:port is the Host the browser asked), or
    configured; no Origin (a terminal client) is allowed."""
    return desk.same_origin(request, request.app[CONFIG_KEY].wallboard.allowed_origins)


async def websocket(request: web.Request) -> web.StreamResponse:
    """The live stream: the snapshot on connect, then coalesced updates."""
    if (refusal := _check_view(request)) is not None:
        return refusal
    if not _origin_allowed(request):
        # A page elsewhere must not read caller names through a viewer's browser.
        return _json_error(403, "origin_not_allowed", "this origin may not open the board")
    return await request.app[HUB_KEY].serve(request, _board(request))


_HEALTH_NOTES = frozenset({"redis_reset"})


async def healthz(request: web.Request) -> web.StreamResponse:
    """Redis (PING), plus AMI and FastAGI as the service reports them."""
    status: dict[str, str] = {}
    provider = request.app[HEALTH_KEY]
    if provider is not None:
        status.update({str(k): str(v) for k, v in provider().items()})
    try:
        await asyncio.wait_for(request.app[REDIS_KEY].ping(), timeout=1.0)
        status["redis"] = "up"
    except (RedisError, OSError, TimeoutError):
        status["redis"] = "down"
    # Notes (e.g. "redis_reset": Redis came back empty at ...) inform; they
    # do not make the process unhealthy.
    healthy = all(v == "up" for k, v in status.items() if k not in _HEALTH_NOTES)
    return web.json_response(
        {"status": "ok" if healthy else "degraded", **status}, status=200 if healthy else 503
    )


_ACTIONS = frozenset({"login", "logout", "pause", "unpause", "disposition"})
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _has_controls(text: str, allow_newlines: bool = False) -> bool:
    return any(
        unicodedata.category(ch) in _CONTROL_CATEGORIES and not (allow_newlines and ch == "\n")
        for ch in text
    )


def _short_text(value: object, limit: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= limit and not _has_controls(value)


async def _authorize_action(
    request: web.Request, agent_id: str, action: str
) -> tuple[str, web.Response | None]:
    """(``by``, None) when the caller may do this, else ("", the refusal).

    A Bearer token (machine clients) is checked first; without one, a desk
    session cookie with its CSRF token (:func:`wallboard.desk.authorize_change`)."""
    presented = _presented_token(request, allow_query=False)
    if presented is None and desk.has_session_cookie(request):
        return await desk.authorize_change(request, agent_id, action)
    token = request.app[CONFIG_KEY].wallboard.api_token
    if not token:
        return "", _json_error(
            403, "api_disabled", "the agent API is disabled: set wallboard.api_token to enable it"
        )
    if not _token_matches(presented, token):
        return "", _json_error(
            401,
            "unauthorized",
            "missing or wrong bearer token",
            **{"WWW-Authenticate": 'Bearer realm="acd"'},
        )
    return "", None


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        raw = await request.content.read(MAX_COMMAND_BODY + 1) if request.can_read_body else b""
        if len(raw) > MAX_COMMAND_BODY:
            return _json_error(413, "too_large", f"body over {MAX_COMMAND_BODY} bytes")
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeError, RecursionError):
        return _json_error(400, "bad_request", "body must be a JSON object")
    if not isinstance(body, dict):
        return _json_error(400, "bad_request", "body must be a JSON object")
    return body


async def agent_action(request: web.Request) -> web.StreamResponse:
    """``POST /api/agents/{id}/{action}``: authenticated agent state change, or
    the disposition of a call (``{"call_id", "code", "note"}``)."""
    action = request.match_info["action"]
    agent_id = request.match_info["agent_id"]
    if action not in _ACTIONS:
        return _json_error(404, "unknown_action", f"no action {action!r}")
    by, refusal = await _authorize_action(request, agent_id, action)
    if refusal is not None:
        return refusal
    commands = request.app[COMMANDS_KEY]
    if commands is None:
        return _json_error(503, "api_unavailable", "no ACD attached to this wallboard")
    reason = call_id = code = note = ""
    body: dict[str, Any] = {}
    if action in ("pause", "disposition"):
        parsed = await _json_body(request)
        if isinstance(parsed, web.Response):
            return parsed
        body = parsed
    if action == "pause":
        raw_reason = body.get("reason", "")
        if not isinstance(raw_reason, str) or len(raw_reason) > MAX_PAUSE_REASON:
            return _json_error(
                400, "bad_request", f"reason must be a string of at most {MAX_PAUSE_REASON} chars"
            )
        if _has_controls(raw_reason):
            # A newline would forge a log line; bidi controls would garble the board.
            return _json_error(400, "bad_request", "reason must not contain control characters")
        reason = raw_reason.strip()
    if action == "disposition":
        raw_call, raw_code, raw_note = body.get("call_id"), body.get("code"), body.get("note", "")
        if not _short_text(raw_call, 200):
            return _json_error(400, "bad_request", "call_id must be the call's id")
        if not _short_text(raw_code, MAX_DISPOSITION_CODE):
            return _json_error(400, "bad_request", "code must be one of the queue's dispositions")
        if not isinstance(raw_note, str) or len(raw_note) > MAX_NOTE or (
            _has_controls(raw_note, allow_newlines=True)
        ):
            return _json_error(
                400, "bad_request", f"note must be text of at most {MAX_NOTE} characters"
            )
        call_id, code, note = raw_call, raw_code, raw_note
    extra = {"by": by} if by else {}
    try:
        if action == "login":
            await commands.login(agent_id, **extra)
        elif action == "logout":
            await commands.logout(agent_id, **extra)
        elif action == "pause":
            await commands.pause(agent_id, reason, **extra)
        elif action == "unpause":
            await commands.unpause(agent_id, **extra)
        else:
            state = await commands.disposition(agent_id, call_id, code, note.strip(), **extra)
            return web.json_response(
                {"ok": True, "agent": agent_id, "action": action, "call_id": call_id,
                 "code": code, "state": state}
            )
    except AcdError as exc:
        return _json_error(status_for(exc), exc.code, exc.message)
    except (RedisError, OSError, TimeoutError):
        return _json_error(503, "store_unavailable", "the ACD's store is unavailable; try again")
    if action in ("pause", "logout") and await _pending(request, agent_id) == action:
        # Ringing or on a call: the change happens when the call is over.
        return web.json_response(
            {"ok": True, "agent": agent_id, "action": action, "pending": action}, status=202
        )
    return web.json_response({"ok": True, "agent": agent_id, "action": action})


async def _pending(request: web.Request, agent_id: str) -> str:
    """The agent's pending change ("pause"/"logout"), as the ACD recorded it."""
    try:
        view = await request.app[BUILDER_KEY].store.agent(agent_id)
    except (RedisError, OSError):
        return ""
    return view.pending if view is not None else ""
