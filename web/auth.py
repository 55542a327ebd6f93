"""Who may open the office's pages: passwords, sessions, CSRF tokens and the lockout (pure).

Passwords are hashed with scrypt (standard library, memory-hard: 16 MiB per hash) and a
per-user random salt; the hash lives in web.db, never in the site config. A session is a
random 256-bit cookie held in memory (a restart of the web role logs everyone out), with an
idle and an absolute expiry, and its own CSRF token that every form posts back. After
``MAX_FAILURES`` wrong passwords in a row an account is locked for ``LOCK_S``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
LOCK_S = 300.0
SESSION_IDLE_S = 3600.0          # an hour without a request
SESSION_MAX_S = 12 * 3600.0      # a working day, then log in again
MIN_PASSWORD = 8


class UserRole(enum.Enum):
    HEAD = "head"                # the office head: everything
    CLERK = "clerk"              # the live view, and the ratings of their own counter


@dataclass(frozen=True)
class User:
    name: str
    role: UserRole
    counter: str | None
    password_hash: str
    failures: int = 0
    locked_until: float = 0.0    # wall-clock epoch seconds


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex): the parameters travel with the hash."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                  p=int(p), maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


# A hash to check unknown user names against, so that they take as long as known ones.
DUMMY_HASH = hash_password("motcua-no-such-user", b"\0" * 16)


@dataclass
class Session:
    user: str
    role: UserRole
    counter: str | None
    csrf: str
    created: float
    seen: float


@dataclass
class Sessions:
    """The open sessions, by cookie value; times are wall-clock epoch seconds, passed in."""

    idle_s: float = SESSION_IDLE_S
    max_s: float = SESSION_MAX_S
    by_id: dict[str, Session] = field(default_factory=dict)

    def open(self, user: User, now: float) -> str:
        self._sweep(now)
        session_id = secrets.token_urlsafe(32)
        self.by_id[session_id] = Session(user.name, user.role, user.counter, secrets.token_urlsafe(24),
                                         now, now)
        return session_id

    def get(self, session_id: str | None, now: float, *, touch: bool = True) -> Session | None:
        """The open session; ``touch``: a person's request (a page, a form), which keeps it
        open. The live view's own stream and its reconnects do not: an office page left open
        still ends its session after ``idle_s``."""
        session = self.by_id.get(session_id or "")
        if session is None:
            return None
        if now >= self.ends(session):
            del self.by_id[session_id or ""]
            return None
        if touch:
            session.seen = now
        return session

    def ends(self, session: Session) -> float:
        """When the session ends unless a request comes first."""
        return min(session.seen + self.idle_s, session.created + self.max_s)

    def close(self, session_id: str | None) -> None:
        self.by_id.pop(session_id or "", None)

    def close_user(self, name: str) -> None:
        """A new password or role: that user's open sessions end."""
        for key in [k for k, s in self.by_id.items() if s.user == name]:
            del self.by_id[key]

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self.by_id.items() if now >= self.ends(s)]:
            del self.by_id[key]


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")
