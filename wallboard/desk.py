"""The agent desk: sign-in, the agent panel and the supervisor view.

Routes: ``GET|POST /signin``, ``POST /signout``, ``GET /agent`` (the panel),
``GET /supervisor``, ``GET /api/desk`` (what the signed-in user's page shows,
as JSON) and ``GET /desk/ws`` (the same, live). State changes go through the
agent API of :mod:`wallboard.app` (``POST /api/agents/{id}/{action}``), which
asks :func:`authorize_change` when the request carries a session cookie.

Live updates reuse :class:`wallboard.live.LiveHub`: a second hub
(:class:`wallboard.desk_hub.DeskHub`) whose "boards" are one desk each (``agent:{id}`` or
``supervisor``), so every panel of one agent shares one build per change,
coalesced like the TV's. Each desk socket belongs to its session and is
closed (code 4401, the reason of :class:`wallboard.auth.Ended`) as soon as
the session ends: signed out in another tab, expired, revoked in Redis, or
its password changed.

The pages speak the languages of :data:`wallboard.i18n.DESK_CATALOGS`,
chosen like the TV board's: ``?lang=`` (remembered in a cookie, since the
sign-in redirects drop the query), else ``wallboard.language``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from acd.agents import PAUSE_CODES
from acd.core.models import AgentView
from acd.core.settings import Config
from acd.core.text import log_safe
from acd.store.keys import Keys
from acd.store.store import Store
from wallboard import i18n
from wallboard.agent_day import AgentDay
from wallboard.auth import (
    COOKIE_NAME,
    CSRF_HEADER,
    MAX_PASSWORD_LENGTH,
    MAX_USER_LENGTH,
    DeskSettings,
    Ended,
    Principal,
    Role,
    Session,
    SessionStore,
    SignInLimiter,
    authenticate,
    credential_fingerprint,
)
from wallboard.desk_hub import DeskHub, note_socket
from wallboard.snapshot import Board, JsonObject, SnapshotBuilder, display_name

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10
MAX_FORM_BYTES = 4096
SUPERVISOR_BOARD = "supervisor"
LANG_COOKIE = "acd_desk_lang"


class Desk:
    """What the desk pages show, read from Redis (the ACD writes it)."""

    def __init__(
        self,
        config: Config,
        redis: aioredis.Redis,
        builder: SnapshotBuilder,
        clock: Callable[[], float],
        settings: DeskSettings,
    ) -> None:
        self.config = config
        self.redis = redis
        self.keys = Keys(config.redis.key_prefix)
        self.store = Store(redis, config.redis)
        self.builder = builder
        # The supervisor desk's live builds: told of changes by the desk's own
        # hub (DeskHub), so a build never runs ahead of what it was told.
        self.live_builder = builder.sibling()
        self.clock = clock
        self.settings = settings
        self.sessions = SessionStore(
            redis, self.keys, settings, clock,
            fingerprint=lambda principal: credential_fingerprint(config, principal),
        )
        self.limiter = SignInLimiter(redis, self.keys, settings)
        self.day = AgentDay(redis, self.keys, config.wallboard.timezone, clock)
        self.pause_reasons = list(dict.fromkeys(PAUSE_CODES.values()))

    # --- views -------------------------------------------------------------

    def queue_name(self, queue: str) -> str:
        shown = self.config.wallboard.queue_display.get(queue)
        return (shown.display_name if shown else "") or display_name(queue) if queue else ""

    async def build(self, board: Board, last_change_at: float | None = None) -> JsonObject:
        """The DeskHub's build: ``board.queues[0]`` names the desk. A
        supervisor's floor is built live (what the change messages named)."""
        return await self._view(board, live=True)

    async def read(self, board: Board) -> JsonObject:
        """The desk read whole (a request's)."""
        return await self._view(board, live=False)

    async def _view(self, board: Board, *, live: bool) -> JsonObject:
        key = board.queues[0] if board.queues else ""
        if key.startswith("agent:"):
            return await self.agent_view(key.removeprefix("agent:"))
        return await self.supervisor_view(live=live)

    async def agent_view(self, agent_id: str) -> JsonObject:
        await self.day.refresh()
        now = self.clock()
        view = await self.store.agent(agent_id)
        if view is None:  # not in Redis (yet): as the store would create it
            view = AgentView.from_hash(agent_id, {})
        configured = self.config.agent(agent_id)
        state = view.state.value
        since = view.state_since or None
        pending = view.pending
        figures = self.day.figures(agent_id, state, since)
        call_id = view.call_id
        call = await self._call_json(call_id, agent_id, now) if call_id else None
        last = None
        if figures.last_call and figures.last_call != call_id:
            last = await self._call_json(figures.last_call, agent_id, now)
            # Only a finished call that still needs its disposition.
            if last is not None and not (last["can_disposition"] and not last["disposition"]):
                last = None
        shown = call or last
        history: list[JsonObject] = []
        if shown is not None and shown["caller_id"]:
            contacts = await self.store.caller_history(shown["caller_id"], HISTORY_LIMIT + 1)
            history = [
                self._contact_json(c) for c in contacts if c.get("id") != shown["id"]
            ][:HISTORY_LIMIT]
        return {
            "type": "desk",
            "generated_at": now,
            "agent": {
                "id": agent_id,
                "name": (view.name if view.name != agent_id else "")
                or (configured.name if configured else agent_id),
                "state": state,
                "state_since": since,
                "pause_reason": view.pause_reason if state == "paused" else "",
                "pending": pending,
                "pending_reason": view.pending_reason,
                "reachable": view.reachable,
                "phone_busy": view.phone_busy,
                "queues": sorted(configured.queues) if configured else [],
            },
            "call": call,
            "last_call": last,
            "history": history,
            "today": figures.to_json(),
            "pause_reasons": self.pause_reasons,
        }

    async def _call_json(self, call_id: str, agent_id: str, now: float) -> JsonObject | None:
        h = await self.store.call_record(call_id)
        if not h:
            return None
        queue = h.get("queue", "")
        qc = self.config.queue(queue)
        arrival = _float(h.get("arrival"))
        answered = _float(h.get("answered"))
        wait = _float(h.get("wait"))
        if answered is None and arrival is not None:
            wait = max(0.0, now - arrival)  # still ringing: the wait so far
        mine = h.get("agent") == agent_id
        return {
            "id": call_id,
            "state": h.get("state", ""),
            "caller_id": h.get("caller_id", ""),
            "caller_name": h.get("caller_name", ""),
            "queue": queue,
            "queue_name": self.queue_name(queue),
            "arrival": arrival,
            "answered": answered,
            "wait_seconds": None if wait is None else round(wait, 1),
            "callback": h.get("kind") == "callback",
            "callback_number": h.get("callback_number", ""),
            "disposition": h.get("disposition", ""),
            "note": h.get("note", ""),
            "dispositions": list(qc.dispositions) if qc else [],
            "can_disposition": bool(mine and answered is not None and qc and qc.dispositions),
        }

    def _contact_json(self, c: Mapping[str, str]) -> JsonObject:
        return {
            "id": c.get("id", ""),
            "arrival": _float(c.get("arrival")),
            "queue": c.get("queue", ""),
            "queue_name": self.queue_name(c.get("queue", "")),
            "agent": c.get("agent", ""),
            "agent_name": _agent_name(self.config, c.get("agent", "")),
            "outcome": c.get("outcome", ""),
            "disposition": c.get("disposition", ""),
            "disposition_by": c.get("disposition_by", ""),
            "disposition_by_name": self._supervisor_name(c.get("disposition_by", "")),
            "note": c.get("note", ""),
            "wait_seconds": _float(c.get("wait")),
            "talk_seconds": _float(c.get("talk")),
            "csat": c.get("csat", ""),
            "callback": c.get("kind") == "callback",
        }

    def _supervisor_name(self, user: str) -> str:
        if not user:
            return ""
        sup = next((s for s in self.config.supervisors if s.id == user), None)
        return sup.name if sup is not None else user

    async def _wrap_up_call(self, agent_id: str, now: float) -> JsonObject | None:
        """The call an agent in wrap-up is finishing, when its queue has
        dispositions (a supervisor may record one for them)."""
        view = await self.store.agent(agent_id)
        call_id = view.call_id if view is not None else ""
        call = await self._call_json(call_id, agent_id, now) if call_id else None
        if call is None or not call["can_disposition"]:
            return None
        keep = ("id", "caller_id", "caller_name", "queue_name", "dispositions", "disposition")
        return {k: call[k] for k in keep}

    async def supervisor_view(self, *, live: bool = False) -> JsonObject:
        builder = self.live_builder if live else self.builder
        board = builder.board()
        snap = await (builder.build_live(board) if live else builder.build(board))
        await self.day.refresh()
        now = self.clock()
        wrapping_ids = [a["id"] for a in snap["agents"] if a["state"] == "wrap_up"]
        wrap_ups = dict(zip(wrapping_ids, await asyncio.gather(
            *(self._wrap_up_call(agent_id, now) for agent_id in wrapping_ids)
        ), strict=True))
        agents = []
        for a in snap["agents"]:
            figures = self.day.figures(a["id"], a["state"], a["state_since"])
            agents.append({**a, "today": figures.to_json(), "wrap_up_call": wrap_ups.get(a["id"])})
        return {
            "type": "supervisor",
            "generated_at": snap["generated_at"],
            "queues": [
                {k: q[k] for k in _SUPERVISOR_QUEUE_FIELDS if k in q} for q in snap["queues"]
            ],
            "totals": {k: snap["totals"][k] for k in _SUPERVISOR_QUEUE_FIELDS
                       if k in snap["totals"]},
            "agents": agents,
            "pause_reasons": self.pause_reasons,
        }


_SUPERVISOR_QUEUE_FIELDS = (
    "name", "display_name", "waiting", "longest_wait_seconds", "service_level",
    "answered", "abandoned", "aht_seconds", "resolution_rate", "csat", "callbacks_waiting",
    "agents",
)

DESK_KEY = web.AppKey("wallboard_desk", Desk)
DESK_HUB_KEY = web.AppKey("wallboard_desk_hub", DeskHub)
DESK_JINJA_KEY = web.AppKey("wallboard_desk_jinja", jinja2.Environment)


def setup(
    app: web.Application,
    config: Config,
    redis: aioredis.Redis,
    builder: SnapshotBuilder,
    jinja: jinja2.Environment,
    clock: Callable[[], float],
    settings: DeskSettings,
) -> DeskHub:
    """Add the desk's routes; returns its hub (the caller owns its task)."""
    desk = Desk(config, redis, builder, clock, settings)
    hub = DeskHub(redis, desk.keys.changes, desk.build, desk.sessions,
                  check_seconds=settings.session_check_seconds, clock=clock,
                  refresh_seconds=settings.refresh_seconds,
                  also_tell=desk.live_builder.note_change)
    app[DESK_KEY] = desk
    app[DESK_HUB_KEY] = hub
    app[DESK_JINJA_KEY] = jinja
    app.on_response_prepare.append(note_socket)
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin_submit)
    app.router.add_post("/signout", signout)
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/api/desk", desk_state)
    app.router.add_get("/desk/ws", desk_ws)
    return hub


# --- sessions on requests --------------------------------------------------------


async def session_of(request: web.Request) -> Session | None:
    return await request.app[DESK_KEY].sessions.get(request.cookies.get(COOKIE_NAME))


def has_session_cookie(request: web.Request) -> bool:
    return COOKIE_NAME in request.cookies


async def authorize_change(
    request: web.Request, agent_id: str, action: str
) -> tuple[str, web.Response | None]:
    """For a state change with a session cookie: (``by``, None) when allowed
    (``by`` is the supervisor's id when a supervisor acts for an agent), else
    ("", the refusal to send)."""
    session = await session_of(request)
    if session is None:
        return "", _json_error(401, "session_expired", "sign in again")
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        return "", _json_error(403, "csrf_failed", "missing or wrong CSRF token")
    principal = session.principal
    if not principal.may_change(agent_id):
        return "", _json_error(
            403, "forbidden", "an agent may change only their own state"
        )
    # A supervisor may record the disposition of an agent's call too (the
    # ACD checks that it is that agent's answered call, and records ``by``).
    by = principal.id if principal.role is Role.SUPERVISOR else ""
    return by, None


def _json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": code, "message": message}, status=status, headers=headers or None
    )


def same_origin(request: web.Request, allowed: tuple[str, ...] = ()) -> bool:
    """No Origin (a terminal client), a configured one, or this server's own."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin.rstrip("/") in allowed:
        return True
    try:
        netloc = urllib.parse.urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == request.host.lower()


def _home(principal: Principal) -> str:
    return "/supervisor" if principal.role is Role.SUPERVISOR else "/agent"


def _set_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        COOKIE_NAME,
        session.id,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def _redirect(location: str) -> web.Response:
    """A 303 to return (not raise) so cookies can be set on it."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def desk_language(request: web.Request) -> str:
    """``?lang=``, else the one remembered from an earlier ``?lang=``, else
    ``wallboard.language`` (the TV board's rule, plus the memory)."""
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    default = request.app[DESK_KEY].config.wallboard.language
    return i18n.pick_language(asked, default, i18n.DESK_CATALOGS)


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    language = desk_language(request)
    labels = i18n.desk_translations(language)
    if "page_config" in context:
        context["page_config"] = {**context["page_config"], "lang": language, "labels": labels}
    html = request.app[DESK_JINJA_KEY].get_template(template).render(
        lang=language, dir=i18n.direction(language), labels=labels, **context
    )
    response = web.Response(
        text=html, status=status, content_type="text/html",
        # "same-origin", not the board's "no-referrer": with no-referrer the
        # browser sends "Origin: null" on the sign-in form's POST, and the
        # sign-in checks the Origin (no sign-in forced from another site).
        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
    )
    if "lang" in request.query:
        response.set_cookie(LANG_COOKIE, language, path="/", max_age=400 * 86400,
                            httponly=True, samesite="Strict", secure=request.secure)
    return response


def _title(request: web.Request) -> str:
    return request.app[DESK_KEY].config.wallboard.title


# --- handlers ----------------------------------------------------------------


async def signin_page(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    if session is not None:
        raise web.HTTPSeeOther(_home(session.principal))
    ended = request.query.get("ended", "")
    notice = f"ended_{ended}" if ended in {e.value for e in Ended} else ""
    return _page(request, "signin.html", message="", notice=notice, user="",
                 title=_title(request))


def _bad_text(value: object, limit: int) -> bool:
    return (
        not isinstance(value, str)
        or not value
        or len(value) > limit
        or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") for ch in value)
    )


async def signin_submit(request: web.Request) -> web.StreamResponse:
    """Check the password; on success a new session and a redirect to the panel."""
    desk = request.app[DESK_KEY]
    wants_json = request.content_type == "application/json"
    raw = await request.content.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        return _json_error(413, "too_large", f"body over {MAX_FORM_BYTES} bytes")
    if wants_json:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeError, RecursionError):
            return _json_error(400, "bad_request", "body must be JSON")
        if not isinstance(body, dict):
            return _json_error(400, "bad_request", 'body must be {"user": ..., "password": ...}')
    else:
        try:
            body = dict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (ValueError, UnicodeError):
            return _json_error(400, "bad_request", "malformed form")
    if not same_origin(request, desk.config.wallboard.allowed_origins):
        return _json_error(403, "origin_not_allowed", "sign in from this server's own page")
    user = body.get("user", "")
    password = body.get("password", "")
    if isinstance(user, str):
        user = user.strip()
    if _bad_text(user, MAX_USER_LENGTH) or _bad_text(password, MAX_PASSWORD_LENGTH):
        return _refuse(request, wants_json, 400, "bad_request",
                       "enter your id and password", user if isinstance(user, str) else "",
                       wait=None)
    address = request.remote or "unknown"
    wait = await desk.limiter.retry_after(user, address)
    if wait is not None:
        return _refuse(request, wants_json, 429, "too_many_attempts",
                       f"too many failed sign-ins: try again in {wait} s", user, wait=wait,
                       **{"Retry-After": str(wait)})
    principal = await authenticate(desk.config, user, password)
    if principal is None:
        await desk.limiter.failed(user, address)
        log.info("desk: failed sign-in for %r from %s", log_safe(user, 80), address)
        return _refuse(request, wants_json, 401, "wrong_credentials", "wrong id or password", user,
                       wait=None)
    await desk.limiter.succeeded(user, address)
    old = request.cookies.get(COOKIE_NAME)
    if old:
        await desk.sessions.delete(old)
        request.app[DESK_HUB_KEY].end_session(old)
    session = await desk.sessions.create(principal)
    log.info("desk: %s %s signed in from %s", principal.role.value, principal.id, address)
    response: web.StreamResponse
    if wants_json:
        response = web.json_response(
            {"ok": True, "user": principal.id, "role": principal.role.value,
             "csrf": session.csrf, "home": _home(principal)}
        )
    else:
        response = _redirect(_home(principal))
    _set_cookie(request, response, session)
    return response


def _refuse(
    request: web.Request, wants_json: bool, status: int, code: str, message: str, user: str,
    *, wait: int | None, **headers: str,
) -> web.Response:
    if wants_json:
        return _json_error(status, code, message, **headers)
    shown = i18n.desk_translations(desk_language(request))[f"signin_{code}"]
    response = _page(request, "signin.html", status=status, notice="",
                     message=shown.replace("{wait}", str(wait)), user=user,
                     title=_title(request))
    response.headers.update(headers)
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    """End the session (form field ``csrf`` or the CSRF header)."""
    desk = request.app[DESK_KEY]
    session = await session_of(request)
    wants_json = request.headers.get(CSRF_HEADER) is not None
    if session is None:
        if wants_json:
            return _json_error(401, "session_expired", "not signed in")
        raise web.HTTPSeeOther("/signin")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        raw = await request.content.read(MAX_FORM_BYTES + 1)
        try:
            form = dict(urllib.parse.parse_qsl(raw.decode("utf-8")))
        except (ValueError, UnicodeError):
            form = {}
        presented = form.get("csrf")
    if not session.csrf_matches(presented):
        return _json_error(403, "csrf_failed", "missing or wrong CSRF token")
    await desk.sessions.delete(session.id)
    request.app[DESK_HUB_KEY].end_session(session.id)
    response: web.StreamResponse = (
        web.json_response({"ok": True}) if wants_json else _redirect("/signin")
    )
    response.del_cookie(COOKIE_NAME, path="/")
    return response


def _page_config(session: Session) -> dict[str, str]:
    p = session.principal
    return {"csrf": session.csrf, "user": p.id, "name": p.name, "role": p.role.value}


async def agent_page(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    if session is None:
        raise web.HTTPSeeOther("/signin")
    if session.principal.role is Role.SUPERVISOR:
        raise web.HTTPSeeOther("/supervisor")
    return _page(request, "agent.html", principal=session.principal,
                 csrf=session.csrf, page_config=_page_config(session))


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    if session is None:
        raise web.HTTPSeeOther("/signin")
    if session.principal.role is not Role.SUPERVISOR:
        return _json_error(403, "forbidden", "the supervisor view is for supervisors")
    return _page(request, "supervisor.html", principal=session.principal,
                 csrf=session.csrf, page_config=_page_config(session))


def _desk_board(principal: Principal) -> Board:
    key = SUPERVISOR_BOARD if principal.role is Role.SUPERVISOR else f"agent:{principal.id}"
    return Board(queues=(key,), name="desk")


async def desk_state(request: web.Request) -> web.StreamResponse:
    session, ended = await request.app[DESK_KEY].sessions.use(request.cookies.get(COOKIE_NAME))
    if session is None:
        # ``reason`` lets the page say why (signed out, expired, password changed).
        return web.json_response(
            {"error": "session_expired", "message": "sign in again",
             "reason": (ended or Ended.SIGNED_OUT).value},
            status=401, headers={"Cache-Control": "no-store"},
        )
    data = await request.app[DESK_KEY].read(_desk_board(session.principal))
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def desk_ws(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK_KEY]
    session = await session_of(request)
    if session is None:
        return _json_error(401, "session_expired", "sign in again")
    if not same_origin(request, desk.config.wallboard.allowed_origins):
        return _json_error(403, "origin_not_allowed", "this origin may not open the desk")
    return await request.app[DESK_HUB_KEY].serve_session(
        request, _desk_board(session.principal), session.id
    )


# --- small parsing helpers --------------------------------------------------------


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(_text(value))
    except ValueError:
        return None
    return number if number == number else None


def _agent_name(config: Config, agent_id: str) -> str:
    agent = config.agent(agent_id) if agent_id else None
    return agent.name if agent else agent_id


