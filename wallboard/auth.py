"""Sign-in for the agent desk: who is asking, server-side sessions, CSRF,
and a rate limit on failed sign-ins.

A session is a random id in a cookie (HttpOnly, SameSite=Strict, Secure when
the request came over HTTPS); what it stands for lives in Redis under
``session:{id}`` with a TTL that slides on every use, so a stolen cookie dies
with the session and signing out is one ``DEL``. Each session carries its own
CSRF token, which every state-changing request must echo (``X-CSRF-Token``
header or a ``csrf`` form field). Passwords are the scrypt hashes of
``acd passwd`` (:mod:`acd.core.credentials`), checked off the event loop.

A session also remembers a fingerprint of the password hash it was opened
with: once the configuration carries a new hash for that user (a changed
password), the old sessions end. :meth:`SessionStore.check` says why a
session ended (:class:`Ended`), so a live socket can be closed with a reason.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from acd.core.credentials import hash_password, verify_password
from acd.core.settings import Config
from acd.store.keys import Keys

COOKIE_NAME = "acd_desk"
CSRF_HEADER = "X-CSRF-Token"
MAX_USER_LENGTH = 64
MAX_PASSWORD_LENGTH = 256

# Checked against when the user is unknown, so a wrong user id costs as much
# time as a wrong password and does not reveal which ids exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class Ended(enum.StrEnum):
    """Why a session is over (also the close reason of its websockets)."""

    SIGNED_OUT = "signed_out"  # signed out (any tab), signed in again, or deleted in Redis
    EXPIRED = "session_expired"  # unused for idle_seconds, or older than max_seconds
    PASSWORD_CHANGED = "password_changed"  # the configuration has a new hash for the user


@dataclass(frozen=True, slots=True)
class DeskSettings:
    """Session and sign-in limits (defaults suit a contact-centre shift)."""

    # A session unused this long ends (each request slides it).
    idle_seconds: float = 3600.0
    # ... and none lives longer than a long shift, however busy.
    max_seconds: float = 12 * 3600.0
    # Failed sign-ins allowed per user and address within the window.
    max_failures: int = 5
    failure_window_seconds: int = 300
    # A desk websocket re-checks its session at least this often (real
    # seconds), so a session ended in another process or in Redis closes it.
    session_check_seconds: float = 2.0
    # An agent's desk is built again at least this often (real seconds),
    # whatever the change messages named (see wallboard.desk_hub.DeskHub).
    refresh_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed in."""

    id: str
    name: str
    role: Role

    def may_change(self, agent_id: str) -> bool:
        """An agent changes only their own state; a supervisor any agent's."""
        return self.role is Role.SUPERVISOR or agent_id == self.id


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str
    principal: Principal
    created: float
    seen: float

    def csrf_matches(self, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(
            presented.encode("utf-8", "surrogateescape"), self.csrf.encode()
        )


async def authenticate(config: Config, user: str, password: str) -> Principal | None:
    """The agent or supervisor ``user`` if ``password`` matches their hash."""
    agent = config.agent(user)
    supervisor = next((s for s in config.supervisors if s.id == user), None)
    candidates: list[tuple[str, Principal]] = []
    if agent is not None and agent.password_hash:
        candidates.append((agent.password_hash, Principal(agent.id, agent.name, Role.AGENT)))
    if supervisor is not None and supervisor.password_hash:
        candidates.append(
            (supervisor.password_hash, Principal(supervisor.id, supervisor.name, Role.SUPERVISOR))
        )
    if not candidates:
        await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
        return None
    for encoded, principal in candidates:
        # scrypt takes tens of milliseconds: never on the event loop.
        if await asyncio.to_thread(verify_password, password, encoded):
            return principal
    return None


def credential_fingerprint(config: Config, principal: Principal) -> str:
    """A short digest of the password hash ``principal`` signs in with now
    ("" without one): it changes when the password does."""
    if principal.role is Role.SUPERVISOR:
        encoded = next((s.password_hash for s in config.supervisors if s.id == principal.id), "")
    else:
        agent = config.agent(principal.id)
        encoded = agent.password_hash if agent is not None else ""
    if not encoded:
        return ""
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


class SessionStore:
    """Sessions in Redis, with sliding and absolute expiry on the app's clock
    (the Redis TTL only cleans up; the clock decides).

    ``fingerprint`` gives the current credential fingerprint of a principal
    (:func:`credential_fingerprint`); a session opened with another one has
    ended (the password changed)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: DeskSettings,
        clock: Callable[[], float],
        fingerprint: Callable[[Principal], str] = lambda principal: "",
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._fingerprint = fingerprint

    def _ttl(self) -> int:
        return max(1, int(self._settings.idle_seconds) + 60)

    async def create(self, principal: Principal) -> Session:
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            principal=principal,
            created=now,
            seen=now,
        )
        key = self._keys.session(session.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "user": principal.id,
                    "name": principal.name,
                    "role": principal.role.value,
                    "csrf": session.csrf,
                    "created": repr(now),
                    "seen": repr(now),
                    "cred": self._fingerprint(principal),
                },
            )
            pipe.expire(key, self._ttl())
            await pipe.execute()
        return session

    async def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its expiry slid forward), else None;
        an expired one is deleted."""
        session, _ = await self._load(session_id, slide=True)
        return session

    async def use(self, session_id: str | None) -> tuple[Session | None, Ended | None]:
        """:meth:`get`, and why there is no session when there is none."""
        return await self._load(session_id, slide=True)

    async def check(self, session_id: str) -> tuple[Session | None, Ended | None]:
        """The session if it is still live, else why it ended; does not count
        as use (an open page alone does not keep a session alive)."""
        return await self._load(session_id, slide=False)

    def expires_in(self, session: Session) -> float:
        """Seconds on the app's clock until ``session`` expires unless used."""
        s = self._settings
        deadline = min(session.seen + s.idle_seconds, session.created + s.max_seconds)
        return deadline - self._clock()

    async def _load(
        self, session_id: str | None, *, slide: bool
    ) -> tuple[Session | None, Ended | None]:
        if not session_id or len(session_id) > 128:
            return None, Ended.SIGNED_OUT
        key = self._keys.session(session_id)
        raw = await self._redis.hgetall(key)
        row = {_text(k): _text(v) for k, v in raw.items()}
        try:
            role = Role(row["role"])
            created = float(row["created"])
            seen = float(row["seen"])
            principal = Principal(row["user"], row.get("name", row["user"]), role)
            csrf = row["csrf"]
        except (KeyError, ValueError):
            return None, Ended.SIGNED_OUT
        now = self._clock()
        s = self._settings
        if now - seen > s.idle_seconds or now - created > s.max_seconds:
            await self._redis.delete(key)
            return None, Ended.EXPIRED
        if not hmac.compare_digest(row.get("cred", "").encode(),
                                   self._fingerprint(principal).encode()):
            # Refused, not deleted: while a new configuration rolls out, a
            # process still on the old one must not end the new sessions.
            return None, Ended.PASSWORD_CHANGED
        if not slide:
            return Session(session_id, csrf, principal, created, seen), None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "seen", repr(now))
            pipe.expire(key, self._ttl())
            await pipe.execute()
        return Session(session_id, csrf, principal, created, now), None

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(self._keys.session(session_id))


class SignInLimiter:
    """At most ``max_failures`` failed sign-ins per user and address per window."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: DeskSettings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings

    def _key(self, user: str, address: str) -> str:
        return self._keys.signin_failures(user, address)

    async def retry_after(self, user: str, address: str) -> int | None:
        """Seconds until another attempt is allowed, or None when allowed now."""
        key = self._key(user, address)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if count is None or int(count) < self._settings.max_failures:
            return None
        return max(1, int(ttl)) if int(ttl) > 0 else self._settings.failure_window_seconds

    async def failed(self, user: str, address: str) -> None:
        key = self._key(user, address)
        async with self._redis.pipeline(transaction=True) as pipe:
            # The window starts at the first failure; later ones do not extend
            # it (SET NX, then INCR keeps the TTL; Redis 6.2 has no EXPIRE NX).
            pipe.set(key, 0, ex=self._settings.failure_window_seconds, nx=True)
            pipe.incr(key)
            await pipe.execute()

    async def succeeded(self, user: str, address: str) -> None:
        await self._redis.delete(self._key(user, address))


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
