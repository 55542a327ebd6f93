"""Logging in and out of the office's pages and the centre's (one implementation for both).

The login form carries a double-submit CSRF token (a cookie and a hidden field, no session
yet); a form whose cookie lapsed gets a fresh pair, so a retry works. Passwords are checked
one at a time (web/auth.py: scrypt, the failure count and the lockout); a success opens a
session cookie. What differs between the dashboards is passed in: how the users store is
read and written, the page around the form, and where a login may land.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .auth import DUMMY_HASH, LOCK_S, MAX_FAILURES, Session, Sessions, User, check_password, csrf_ok

SESSION_COOKIE = "motcua_session"
LOGIN_COOKIE = "motcua_login"          # the login form's CSRF token (no session yet)
LOGIN_COOKIE_S = 600
MAX_FORM = 2048
NO_STORE = {"Cache-Control": "no-store"}
WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."
LOCKED = ("Tài khoản tạm khóa do nhập sai mật khẩu nhiều lần. "
          "Vui lòng thử lại sau {minutes} phút.")
EXPIRED = "Phiên đăng nhập đã hết hạn, vui lòng nhập lại."
INVALID = "Yêu cầu không hợp lệ."

# page(title, body, session, status) -> the dashboard's page around a body
Page = Callable[[str, str, Session | None, int], HTMLResponse]
# login_failed(name, failures, locked_until): written before the next check reads the user
LoginFailed = Callable[[str, int, float], Awaitable[None]]


def sessions_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict")


async def read_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None (too large, another kind, undecodable)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return None
    try:
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), max_num_fields=8).items()}
    except (UnicodeDecodeError, ValueError):
        return None


def safe_next(target: str | None, home: str) -> str:
    """Where a login may lead: only the dashboard's own pages below ``home``, never an
    address elsewhere (``//host``, a backslash)."""
    if target and target.startswith(home) and "//" not in target and "\\" not in target:
        return target
    return home


def session_of(sessions: Sessions, request: Request) -> Session | None:
    """The request's open session (a person's request: it keeps the session open)."""
    return sessions.get(request.cookies.get(SESSION_COOKIE), time.time())


def to_login(request: Request) -> Response:
    """To the login form, which then leads back to the page asked for."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303, headers=NO_STORE)


def login_form(token: str, target: str, error: str) -> str:
    alert = f'<p class="box notice" role="alert" id="login-error">{escape(error)}</p>' if error else ""
    return f"""{alert}
<form method="post" action="/login" class="box login" id="login">
  <input type="hidden" name="csrf" value="{escape(token)}">
  <input type="hidden" name="next" value="{escape(target)}">
  <label for="user">Tên đăng nhập</label>
  <input id="user" name="user" autocomplete="username" required maxlength="64">
  <label for="password">Mật khẩu</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit" id="login-button">Đăng nhập</button>
</form>"""


def login_routes(*, sessions: Sessions, user_of: Callable[[str], User | None], login_failed: LoginFailed,
                 page: Page, home: str) -> list[Route]:
    """GET and POST /login, POST /logout. A login lands on the page asked for below ``home``
    (``/office``, ``/centre``), else on ``home``."""
    # One password check at a time: the failure count is read and written with no other
    # check between (guesses sent in parallel would each see the same count and never
    # lock the account), and a flood of logins holds one scrypt (16 MiB), not one per thread.
    turn = asyncio.Lock()

    def form_page(token: str, target: str, error: str, status: int) -> HTMLResponse:
        return page("Đăng nhập", login_form(token, target, error), None, status)

    async def login_page(request: Request) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or sessions_token()
        response = form_page(token, safe_next(request.query_params.get("next"), home), "", 200)
        set_cookie(response, LOGIN_COOKIE, token, LOGIN_COOKIE_S)
        return response

    async def login(request: Request) -> Response:
        form = await read_form(request)
        token = request.cookies.get(LOGIN_COOKIE)
        target = safe_next(form.get("next") if form else None, home)
        if form is None or not token or form.get("csrf") != token:
            fresh = sessions_token()     # the form's cookie lapsed: a new pair, so a retry works
            expired = form_page(fresh, target, EXPIRED, 403)
            set_cookie(expired, LOGIN_COOKIE, fresh, LOGIN_COOKIE_S)
            return expired
        name, password = form.get("user", "")[:64], form.get("password", "")[:256]
        async with turn:
            return await check(name, password, token, target)

    async def check(name: str, password: str, token: str, target: str) -> Response:
        user = user_of(name) if name else None
        now = time.time()
        if user is not None and user.locked_until > now:
            minutes = max(1, round((user.locked_until - now) / 60))
            return form_page(token, target, LOCKED.format(minutes=minutes), 429)
        good = await asyncio.to_thread(check_password, password,
                                       user.password_hash if user else DUMMY_HASH)
        if user is None or not good:
            message, status = WRONG, 401
            if user is not None:
                failures = user.failures + 1
                locked = now + LOCK_S if failures >= MAX_FAILURES else 0.0
                await login_failed(user.name, 0 if locked else failures, locked)
                if locked:
                    message, status = LOCKED.format(minutes=round(LOCK_S / 60)), 429
            return form_page(token, target, message, status)
        await login_failed(user.name, 0, 0.0)
        response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        set_cookie(response, SESSION_COOKIE, sessions.open(user, now), int(sessions.max_s))
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(request: Request) -> Response:
        session = session_of(sessions, request)
        form = await read_form(request)
        if session is not None and form is not None and csrf_ok(session, form.get("csrf")):
            sessions.close(request.cookies.get(SESSION_COOKIE))
        elif session is not None:
            return page(INVALID, f'<p class="box notice">{INVALID}</p>', session, 403)
        response = RedirectResponse("/login", status_code=303, headers=NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
