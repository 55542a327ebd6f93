"""``motcua web --central``: the district's or province's dashboard over the centre's PostgreSQL.

Every commune side by side for a date range (central/report.py ``province``), sortable in the
page; one commune's page is its hub's own report page (web/dashboard.py ``report_body``) drawn
from the same figures computed at the centre (central/report.py ``commune_report``). The login
is the hub's (web/login.py: web/auth.py's scrypt hashes, sessions, CSRF tokens and lockout),
with the users in the centre's own file (``--users``, web/store.py's ``users`` table), set by
``motcua web passwd USER --central``. Before each report the communes' new history rows are replayed
(``refresh``), in a worker thread: the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import time
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from motcua.caller.engine import Engine
from motcua.central.report import (
    Commune,
    SiteRow,
    commune_report,
    load_communes,
    province,
    reasons_by,
    refresh,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from motcua.errors import ConfigError, MotcuaError, require

from .auth import Session, Sessions
from .dashboard import (
    command_csv,
    esc,
    group_names,
    minutes,
    page_groupings,
    read_period,
    report_body,
    report_form,
    share,
    wait_target_s,
)
from .login import NO_STORE, login_routes, session_of, to_login
from .settings import parse_listen
from .store import WebStore

log = logging.getLogger(__name__)

DEFAULT_SITES = "/etc/motcua/sites"        # each commune's site.toml (scripts/install's list is communes)
DEFAULT_USERS = "/var/lib/motcua/central-web.db"
DEFAULT_LISTEN = "0.0.0.0:8080"
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TITLE = "Bộ phận một cửa các xã, phường"
KEEP_UP_S = 30.0            # the background count of new history
BACKLOG_ROWS = 5000         # a count this large is logged (a hub catching up, the first start)
BUSY = ("Trung tâm đang cập nhật số liệu mới nhận từ các xã; số liệu đang hiển thị có thể chưa đủ. "
        "Vui lòng tải lại trang sau ít phút.")
PAGES = Path(__file__).parent / "pages"
ASSETS = {"office.css": "text/css; charset=utf-8", "central.js": "text/javascript; charset=utf-8"}


class Centre:
    """The dashboard's state: the communes' configs, the database, the sessions."""

    def __init__(self, dsn: str, communes: dict[str, Commune], users: WebStore) -> None:
        self.dsn = dsn
        self.communes = communes
        self.store = users
        self.sessions = Sessions()
        self.page_wait_s = 5.0      # a page waits this long for a count at work, then shows the rest
        self._refreshing = threading.Lock()
        self.engines: dict[str, tuple[str, int, Engine]] = {}     # each commune's engine where counted

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise MotcuaError(f"PostgreSQL: {exc}") from None

    def refreshed(self, db: Any, *, wait_s: float | None = None) -> bool:
        """Replay what arrived since the last count, for every commune with a config. False if
        another refresh (the background one catching up a backlog) still runs after ``wait_s``:
        the page then shows what is counted so far, and says so."""
        if not self._refreshing.acquire(timeout=self.page_wait_s if wait_s is None else wait_s):
            return False
        try:
            behind = [row[0] for row in db.execute(
                "SELECT DISTINCT l.site FROM site_logs l LEFT JOIN report_position p "
                "ON p.site = l.site AND p.log = l.log WHERE l.upto > coalesce(p.upto, 0)")]
            for site in behind:
                commune = self.communes.get(site)
                if commune is not None:
                    started = time.monotonic()
                    rows = refresh(db, commune, self.engines)
                    log.log(logging.INFO if rows >= BACKLOG_ROWS else logging.DEBUG,
                            "%s: %d history rows counted in %.2f s", site, rows, time.monotonic() - started)
            return True
        finally:
            self._refreshing.release()

    def keep_up(self, stop: threading.Event, every_s: float = KEEP_UP_S) -> None:
        """A thread: count new history every ``every_s``, so that a page has little left to
        replay (and a backlog, e.g. at the first start, is worked off without a page waiting)."""
        import psycopg

        while True:
            try:
                with self.connect() as db:
                    self.refreshed(db, wait_s=every_s)
            except (MotcuaError, psycopg.Error) as exc:
                log.warning("history not counted now: %s", exc)
            if stop.wait(every_s):
                return

    def province(self, start: date, end: date) -> tuple[list[SiteRow], bool]:
        """Every commune's line, and whether all history that arrived is counted in it."""
        import psycopg

        with self.connect() as db:
            try:
                complete = self.refreshed(db)
                return province(db, start, end, self.communes), complete
            except psycopg.Error as exc:
                raise MotcuaError(f"PostgreSQL: {exc}") from None

    def commune(self, commune: Commune, start: date, end: date, *, by: tuple[str, ...], hours: bool,
                target: float, reasons: bool) -> tuple[Any, list[tuple[str, str, str, int]]]:
        import psycopg

        with self.connect() as db:
            try:
                if not self.refreshed(db):
                    raise MotcuaError(BUSY)
                report = commune_report(db, commune, start, end, by=by, hours=hours, target_wait_s=target)
                return report, (reasons_by(db, commune.site, start, end) if reasons else [])
            except psycopg.Error as exc:
                raise MotcuaError(f"PostgreSQL: {exc}") from None


def build_central_app(centre: Centre) -> Starlette:
    sessions = centre.sessions
    store = centre.store
    assets = {name: (PAGES / name).read_bytes() for name in ASSETS}

    def page(title: str, body: str, session: Session | None, status: int = 200,
             headers: dict[str, str] | None = None) -> HTMLResponse:
        return HTMLResponse(layout(title, body, session), status_code=status,
                            headers={**NO_STORE, **(headers or {})})

    def current(request: Request) -> Session | None:
        return session_of(sessions, request)

    async def login_failed(name: str, failures: int, locked_until: float) -> None:
        # No writer thread here: the login's turn is the only writer of the users file.
        await asyncio.to_thread(store.login_failed, name, failures, locked_until)

    async def home(request: Request) -> Response:
        return RedirectResponse("/centre", status_code=303, headers=NO_STORE)

    async def province_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        chosen = period(request)
        if isinstance(chosen, str):
            return page("Các xã, phường", report_form(None, None, chosen, action="/centre"), session, 400)
        start, end = chosen
        try:
            rows, complete = await asyncio.to_thread(centre.province, start, end)
        except MotcuaError as exc:
            return page("Các xã, phường", report_form(start, end, f"Không đọc được dữ liệu: {exc}",
                                                     action="/centre"), session, 503)
        note = "" if complete else f'<p class="box notice" role="status" id="catching-up">{esc(BUSY)}</p>'
        body = note + report_form(start, end, "", action="/centre") + province_table(
            rows, centre.communes, start, end, datetime.now(TIMEZONE))
        return page(f"Các xã, phường {start.strftime('%d/%m/%Y')} – {end.strftime('%d/%m/%Y')}", body,
                    session)

    def commune_of(request: Request) -> Commune | None:
        return centre.communes.get(request.path_params["site"])

    async def commune_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        commune = commune_of(request)
        if commune is None:
            return page("Không tìm thấy", '<p class="box notice">Không có xã, phường này (hoặc trung tâm '
                        "chưa có tệp cấu hình của xã).</p>", session, 404)
        chosen = period(request)
        action = f"/centre/xa/{quote(commune.site)}"
        if isinstance(chosen, str):
            return page(commune.name, report_form(None, None, chosen, action=action), session, 400)
        start, end = chosen
        target = target_of(request)
        try:
            report, reasons = await asyncio.to_thread(centre.commune, commune, start, end,
                                                      by=page_groupings(start, end), hours=True,
                                                      target=target, reasons=True)
        except MotcuaError as exc:
            return page(commune.name, report_form(start, end, f"Không đọc được dữ liệu: {exc}",
                                                  action=action), session, 503)
        body = report_body(report, reasons, start, end, target, services=commune.services,
                           counters=commune.counter_names, levels=commune.levels,
                           good_levels=commune.good_levels)
        # The hub's page links its CSV files at /office/…; here they are the commune's.
        body = body.replace('href="/office/report.csv?', f'href="{action}/report.csv?')
        back = (f'<p class="no-print"><a href="/centre?from={start}&amp;to={end}">'
                "← Tất cả các xã, phường</a></p>")
        return page(f"{commune.name}: {start.strftime('%d/%m/%Y')} – {end.strftime('%d/%m/%Y')}",
                    back + report_form(start, end, "", action=action) + body, session)

    async def commune_csv(request: Request) -> Response:
        session = current(request)
        if session is None:
            return Response("Chưa đăng nhập.", status_code=401, headers=NO_STORE)
        commune = commune_of(request)
        chosen = period(request)
        by = request.query_params.get("by") or None
        if commune is None or isinstance(chosen, str) or by not in (None, "day", "service", "counter"):
            return Response("Yêu cầu không hợp lệ.", status_code=400, headers=NO_STORE)
        start, end = chosen
        try:
            report, _ = await asyncio.to_thread(centre.commune, commune, start, end, by=(by,) if by else (),
                                                hours=False, target=target_of(request), reasons=False)
        except MotcuaError as exc:
            return Response(f"Không đọc được dữ liệu: {exc}", status_code=503, headers=NO_STORE)
        names = group_names(by, commune.services, commune.counter_names)
        data = await asyncio.to_thread(command_csv, report, by, names, commune.levels)
        filename = f"bao-cao-{commune.site}-{start}-{end}{'-' + by if by else ''}.csv"
        return Response(data, media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return Response("Không tìm thấy.", status_code=404)
        return Response(assets[name], media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})

    async def health(request: Request) -> Response:
        return JSONResponse({"communes": len(centre.communes)}, headers=NO_STORE)

    return Starlette(routes=[
        Route("/", home),
        *login_routes(sessions=sessions, user_of=store.user, login_failed=login_failed, page=page,
                      home="/centre"),
        Route("/centre", province_page),
        Route("/centre/xa/{site}", commune_page),
        Route("/centre/xa/{site}/report.csv", commune_csv),
        Route("/static/{name}", asset),
        Route("/health", health),
    ])


def period(request: Request) -> tuple[date, date] | str:
    """From the query, else this month so far (the centre's calendar)."""
    today = datetime.now(TIMEZONE).date()
    return read_period(request.query_params, today.replace(day=1), today)


def target_of(request: Request) -> float:
    return wait_target_s(request.query_params)


# -- HTML --------------------------------------------------------------------------------------

def layout(title: str, body: str, session: Session | None) -> str:
    nav = ""
    if session is not None:
        nav = ('<nav class="no-print"><a href="/centre">Các xã, phường</a>'
               f'<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" '
               f'value="{esc(session.csrf)}"><span class="who">{esc(session.user)}</span>'
               '<button type="submit">Đăng xuất</button></form></nav>')
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} – {TITLE}</title>
<link rel="stylesheet" href="/static/office.css">
</head>
<body>
<header><h1>{TITLE}</h1><p>{esc(title)}</p></header>
{nav}
<main>
{body}
</main>
<script src="/static/central.js"></script>
</body>
</html>"""


COLUMNS = ("Xã, phường", "Số phiếu", "Đã phục vụ", "Vắng mặt", "Chờ trung vị (phút)", "Chờ p90 (phút)",
           "Tỷ lệ hài lòng (QĐ 766)", "Lượt đánh giá", "Thiết bị mất kết nối", "Máy in hết giấy",
           "Lần cuối nhận tin")


def heard_text(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "chưa bao giờ"
    seconds = max(0.0, (now - at).total_seconds())
    local = at.astimezone(TIMEZONE).strftime("%H:%M %d/%m/%Y")
    if seconds < 120:
        ago = "vừa xong"
    elif seconds < 2 * 3600:
        ago = f"{seconds / 60:.0f} phút trước"
    elif seconds < 2 * 86400:
        ago = f"{seconds / 3600:.0f} giờ trước"
    else:
        ago = f"{seconds / 86400:.0f} ngày trước"
    return f"{ago} ({local})"


def province_table(rows: list[SiteRow], communes: dict[str, Commune], start: date, end: date,
                   now: datetime) -> str:
    """The communes side by side. Each cell carries its sort key (``data-v``): the page sorts
    by any column without asking the server (central.js)."""
    query = f"from={start}&amp;to={end}"
    text_column = ' data-type="text"'
    head = "".join(f'<th scope="col" aria-sort="none"{text_column if i == 0 else ""}>'
                   f'<button type="button" class="sort" data-col="{i}">'
                   f"{esc(name)}</button></th>" for i, name in enumerate(COLUMNS))
    lines = []
    for row in rows:
        commune = communes.get(row.site)
        name = commune.name if commune else row.site
        label = (f'<a href="/centre/xa/{quote(row.site)}?{query}">{esc(name)}</a>' if commune
                 else f'{esc(name)} <span class="note">(chưa có tệp cấu hình)</span>')
        heard = row.heard_at.timestamp() if row.heard_at else -1
        cells = [
            (name, label, "th"),
            (row.issued, str(row.issued), "td"),
            (row.served, str(row.served), "td"),
            (row.no_shows, str(row.no_shows), "td"),
            (_key(row.median_wait), minutes(row.median_wait), "td"),
            (_key(row.p90_wait), minutes(row.p90_wait), "td"),
            (_key(row.satisfied), share(row.satisfied), "td"),
            (sum(row.ratings), str(sum(row.ratings)), "td"),
            (row.devices_offline, str(row.devices_offline), "td"),
            (row.paper_out, str(row.paper_out), "td"),
            (heard, heard_text(row.heard_at, now), "td"),
        ]
        alert = [8, 9]
        lines.append(f'<tr data-site="{esc(row.site)}">' + "".join(
            f'<{tag} data-v="{esc(key)}"'
            + (' class="offline-cell"' if i in alert and key else "")
            + (' scope="row"' if tag == "th" else "") + f">{text}</{tag}>"
            for i, (key, text, tag) in enumerate(cells)) + "</tr>")
    total_issued = sum(r.issued for r in rows)
    return (f'<section class="box"><h2>{len(rows)} xã, phường · {total_issued} phiếu</h2>'
            '<p class="note no-print">Bấm vào tên cột để sắp xếp (bấm lần nữa để đảo chiều). '
            "Thời gian chờ: từ lúc lấy số đến lúc được gọi; trung vị: một nửa số công dân chờ ít hơn; "
            "p90: 90 % công dân chờ ít hơn. Tỷ lệ hài lòng: số lượt không đánh giá “không hài lòng” "
            "hoặc thấp hơn, trên tổng số lượt đánh giá (QĐ 766/QĐ-TTg). Thiết bị và máy in: tình trạng "
            "hiện tại.</p>"
            '<div class="scroll"><table id="province" class="figures sortable">'
            f'<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(lines)}</tbody></table></div></section>')


def _key(value: float | None) -> float:
    """Sort key of a figure that may be missing: missing ones sort first (ascending)."""
    return -1.0 if value is None else round(value, 6)


# -- the command -------------------------------------------------------------------------------

def main(options: argparse.Namespace) -> int:
    """``motcua web --central``: serve, or ``passwd USER`` for the centre's own users."""
    users = Path(options.users or DEFAULT_USERS)
    action = options.action or "serve"
    if action == "passwd":
        from .daemon import set_password

        if options.role != "head":
            raise ConfigError("command line", "--role", "the centre's pages have one role: head")
        store = WebStore(users)
        try:
            set_password(cast(Any, SimpleNamespace(counters=())), store, options)
        finally:
            store.close()
        return 0
    if action != "serve":
        raise ConfigError("command line", "action", f"{action!r} is for a hub's web role, not --central")
    if not options.db:
        raise ConfigError("command line", "--db", "the centre's database: --db postgresql://…")
    return serve_central(options, users)


def serve_central(options: argparse.Namespace, users: Path) -> int:
    from motcua.daemon import Systemd, setup_logging, stop_on_signals

    setup_logging("web-central", "centre", verbose=getattr(options, "verbose", False))
    communes = load_communes(Path(options.sites or DEFAULT_SITES))
    try:
        host, port = parse_listen(options.listen or DEFAULT_LISTEN)
    except ValueError as exc:
        raise ConfigError("command line", "--listen", str(exc)) from None
    store = WebStore(users)
    centre = Centre(options.db, communes, store)
    from motcua.central.store import CentralStore

    migrator = CentralStore(options.db)    # a clear error now rather than at the first page
    try:
        migrator.migrate()     # the report tables, if the centre was not started since they came
    finally:
        migrator.close()
    stop = stop_on_signals()
    counting = threading.Thread(target=centre.keep_up, args=(stop,), name="history-count", daemon=True)
    counting.start()
    try:
        asyncio.run(_serve(centre, host, port, Systemd(), stop))
    finally:
        stop.set()
        store.close()
    return 0


async def _serve(centre: Centre, host: str, port: int, systemd: Any, stop: threading.Event) -> None:
    uvicorn = require("uvicorn", "web", "python3-uvicorn")
    server = uvicorn.Server(uvicorn.Config(
        build_central_app(centre), host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_graceful_shutdown=2, proxy_headers=False, server_header=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise MotcuaError(f"the web server could not listen on {host}:{port}")
        await asyncio.sleep(0.05)
    log.info("centre's pages at http://%s:%d/centre (%d communes configured)", host, port,
             len(centre.communes))
    systemd.ready(f"listening on {host}:{port}")
    while not serving.done():
        if stop.is_set():
            server.should_exit = True
        systemd.watchdog()
        await asyncio.wait({serving}, timeout=min(1.0, systemd.watchdog_interval or 1.0))
    systemd.stopping()

