"""The HTTP face (Starlette): pages, their live updates (Server-Sent Events) and the rating POSTs.

Every handler runs on the event loop, the web role's one owner: it reads the
:class:`~motcua.web.state.Office` and hands accepted ratings to the role, never to paho.
Anything a browser sends is checked before it is used: a bad request gets a 4xx with a
Vietnamese message in ``{"error": ...}`` (or a plain page), and nothing is stored.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from motcua.errors import MotcuaError

from .dashboard import dashboard_routes
from .state import Office, RatingRefusal

log = logging.getLogger(__name__)
TICKET_ID = re.compile(r"[0-9a-f]{32}")
MAX_BODY = 2048                  # a rating is a few dozen bytes
PING_S = 15.0                    # an SSE comment this often: proxies and phones keep the stream
PAGES = resources.files(__package__) / "pages"
ASSETS = {"style.css": "text/css; charset=utf-8", "phone.js": "text/javascript; charset=utf-8",
          "tablet.js": "text/javascript; charset=utf-8", "common.js": "text/javascript; charset=utf-8",
          "office.css": "text/css; charset=utf-8", "office.js": "text/javascript; charset=utf-8",
          "report.js": "text/javascript; charset=utf-8"}

NOT_KEPT = "Chưa lưu được đánh giá, vui lòng thử lại sau ít phút."
NOT_PAIRED = ("Máy tính bảng này chưa được ghép với quầy (hoặc mã đã bị thu hồi). "
              "Nhờ cán bộ kỹ thuật chạy lệnh: motcua web pair --counter <số quầy>.")


class Role(Protocol):
    """What the pages need from the web role."""

    office: Office
    changes: Changes

    def counter_of(self, token: str) -> str | None: ...
    async def send_rating(self, ticket_id: str, level: int, reason: str | None) -> None: ...


class Wake(asyncio.Event):
    ping = False          # woken by the keep-alive tick, not by a change


class Changes:
    """Wakes every live page when the office changes, and every PING_S to keep streams alive
    (one shared timer: a timeout per page would cost a task per page per change)."""

    def __init__(self) -> None:
        self._event = Wake()
        self.revocations = 0          # bumped when a tablet's token is revoked: its stream ends

    def notify(self, *, ping: bool = False) -> None:
        event, self._event = self._event, Wake()
        event.ping = ping
        event.set()

    def current(self) -> Wake:
        return self._event

    def revoked(self) -> None:
        self.revocations += 1
        self.notify()

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(PING_S)
            self.notify(ping=True)


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def page_config(config: Any) -> dict[str, Any]:
    """What the pages need from the site config: names and the rating's levels and reasons."""
    web = config.web
    levels = config.counter_pad.rating.levels
    return {
        "office": config.site.name,
        "unit": config.site.unit,
        "services": {s.id: s.name for s in config.services},
        "counters": {c.id: c.name for c in config.counters},
        "levels": list(levels),
        "reasons": list(web.reasons),
        "reason_levels": web.asks_reason(len(levels)),
        "thanks_s": web.thanks_s,
        "conduct": web.conduct or config.board.ticker,
    }


def build_app(role: Role, config: Any) -> Starlette:
    settings = page_config(config)
    templates = {name: (PAGES / name).read_text(encoding="utf-8")
                 for name in ("phone.html", "tablet.html", "message.html")}
    assets = {name: (PAGES / name).read_bytes() for name in ASSETS}

    def render(name: str, status: int = 200, **values: str) -> HTMLResponse:
        text = templates[name]
        values.setdefault("office", html.escape(settings["office"]))
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return HTMLResponse(text, status_code=status, headers=NO_STORE)

    def message(status: int, title: str, body: str) -> HTMLResponse:
        return render("message.html", status, title=html.escape(title), body=html.escape(body))

    def config_json(**extra: Any) -> str:
        # Safe inside <script>: no "</" can close the element.
        return json.dumps({**settings, **extra}, ensure_ascii=False).replace("<", "\\u003c")

    def known_ticket(request: Request) -> str | None:
        ticket_id = request.path_params["ticket"]
        if not TICKET_ID.fullmatch(ticket_id) or ticket_id not in role.office.tickets:
            return None
        return ticket_id

    async def phone_page(request: Request) -> Response:
        ticket_id = known_ticket(request)
        if ticket_id is None:
            return message(404, "Không tìm thấy số thứ tự",
                           "Không tìm thấy số thứ tự này, hoặc số đã thuộc một ngày làm việc trước. "
                           "Vui lòng lấy số mới tại ki-ốt hoặc hỏi cán bộ tại quầy.")
        return render("phone.html", config=config_json(ticket=ticket_id))

    async def phone_events(request: Request) -> Response:
        ticket_id = known_ticket(request)
        if ticket_id is None:
            return error(404, RatingRefusal.UNKNOWN_TICKET.value)
        # A ticket dropped at the start of a new service day: its page says so.
        return stream(lambda: role.office.phone_view(ticket_id, time.time())
                      or {"stage": "old", "online": role.office.online})

    async def phone_rating(request: Request) -> Response:
        ticket_id = known_ticket(request)
        if ticket_id is None:
            return error(404, RatingRefusal.UNKNOWN_TICKET.value)
        try:
            body = await read_json(request, {"level", "reason"})
        except BadRequest as exc:
            return error(exc.status, exc.message)
        return await rate(ticket_id, body.get("level"), body.get("reason"), counter=None)

    async def tablet_page(request: Request) -> Response:
        return render("tablet.html", config=config_json())

    def tablet_counter(request: Request, token: str | None) -> str | None:
        if not token or len(token) > 100:
            return None
        return role.counter_of(token)

    def bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    async def tablet_whoami(request: Request) -> Response:
        counter = tablet_counter(request, bearer(request))
        if counter is None:
            return error(401, NOT_PAIRED)
        return JSONResponse({"counter": counter}, headers=NO_STORE)

    async def tablet_events(request: Request) -> Response:
        # EventSource cannot send headers: the token comes in the query (never logged).
        counter = tablet_counter(request, request.query_params.get("token"))
        if counter is None:
            return error(401, NOT_PAIRED)
        token = request.query_params.get("token") or ""
        return stream(lambda: role.office.tablet_view(counter, time.time()),
                      still=lambda: role.counter_of(token) == counter)

    async def tablet_rating(request: Request) -> Response:
        counter = tablet_counter(request, bearer(request))
        if counter is None:
            return error(401, NOT_PAIRED)
        try:
            body = await read_json(request, {"ticket", "level", "reason"})
        except BadRequest as exc:
            return error(exc.status, exc.message)
        ticket_id = body.get("ticket")
        if not isinstance(ticket_id, str) or not TICKET_ID.fullmatch(ticket_id):
            return error(400, "Thiếu mã số thứ tự cần đánh giá (ticket).")
        return await rate(ticket_id, body.get("level"), body.get("reason"), counter=counter)

    async def rate(ticket_id: str, level: Any, reason: Any, *, counter: str | None) -> Response:
        refusal = role.office.check_rating(ticket_id, level, reason, time.time(), counter=counter)
        if refusal is not None:
            status = {RatingRefusal.UNKNOWN_TICKET: 404, RatingRefusal.BAD_LEVEL: 400,
                      RatingRefusal.BAD_REASON: 400, RatingRefusal.NOT_THIS_COUNTER: 403}.get(refusal, 409)
            return error(status, refusal.value)
        try:
            await role.send_rating(ticket_id, level, reason)     # thanked only once it is on disk
        except MotcuaError as exc:
            log.error("rating of %s not kept: %s", ticket_id, exc)
            return error(503, NOT_KEPT)
        return JSONResponse({"ok": True, "message": "Cảm ơn quý công dân đã đánh giá!"},
                            status_code=202, headers=NO_STORE)

    def stream(view: Callable[[], dict[str, Any] | None],
               still: Callable[[], bool] | None = None) -> StreamingResponse:
        """``still``: checked after a token was revoked; False ends the stream (the tablet's
        reconnection is then refused and the page says it is not paired)."""
        async def events() -> AsyncIterator[str]:
            sent = None
            revocations = role.changes.revocations
            yield "retry: 2000\n\n"
            while True:
                if still is not None and revocations != role.changes.revocations:
                    revocations = role.changes.revocations
                    if not still():
                        break
                changed = role.changes.current()
                current = view()
                if current != sent:
                    sent = current
                    yield f"data: {json.dumps(current, ensure_ascii=False)}\n\n"
                elif changed.ping:
                    yield ": ping\n\n"
                await changed.wait()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={**NO_STORE, "X-Accel-Buffering": "no"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return message(404, "Không tìm thấy trang", "Không có tệp này trên hệ thống xếp hàng.")
        return Response(assets[name], media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=3600"})

    async def health(request: Request) -> Response:
        office = role.office
        return JSONResponse({"link": office.link_up, "caller": office.caller_online,
                             "tickets": len(office.tickets)}, headers=NO_STORE)

    async def home(request: Request) -> Response:
        return message(200, settings["office"],
                       "Quét mã QR trên phiếu số thứ tự để theo dõi lượt của quý công dân.")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if request.method != "GET":
            return error(status, "Không tìm thấy địa chỉ này." if status == 404
                         else "Yêu cầu không hợp lệ ở địa chỉ này.")
        if status == 405:
            return message(status, "Yêu cầu không hợp lệ", "Địa chỉ này chỉ nhận đánh giá gửi từ trang.")
        return message(status, "Không tìm thấy trang", "Địa chỉ này không có trên hệ thống xếp hàng.")

    routes = [
        Route("/", home),
        Route("/t/{ticket}", phone_page),
        Route("/t/{ticket}/events", phone_events),
        Route("/t/{ticket}/rating", phone_rating, methods=["POST"]),
        Route("/tablet", tablet_page),
        Route("/tablet/whoami", tablet_whoami),
        Route("/tablet/events", tablet_events),
        Route("/tablet/rating", tablet_rating, methods=["POST"]),
        Route("/static/{name}", asset),
        Route("/health", health),
        *dashboard_routes(role, config),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


NO_STORE = {"Cache-Control": "no-store"}


def error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status, headers=NO_STORE)


async def read_json(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The request's small JSON object, or BadRequest with the reason in Vietnamese."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise BadRequest(415, "Nội dung phải là JSON (Content-Type: application/json).")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadRequest(413, f"Nội dung quá lớn (tối đa {MAX_BODY} byte).")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadRequest(413, f"Nội dung quá lớn (tối đa {MAX_BODY} byte).")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest(400, "Nội dung không phải JSON hợp lệ.") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "Nội dung phải là một đối tượng JSON.")
    unknown = set(data) - allowed
    if unknown:
        raise BadRequest(400, f"Trường không hợp lệ: {', '.join(sorted(unknown))[:80]}.")
    return data
