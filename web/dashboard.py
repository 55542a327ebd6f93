"""The office's pages behind a login: the live view, the reports, the ratings and reasons.

Handlers run on the web role's event loop; a report reads the caller's database read-only
in a worker thread (a year takes a second or two) with the same code as ``motcua report``
(caller/history.py ``read_report``, caller/figures.py, caller/report.py ``write_csv``).
Every POST (log in, log out) carries a CSRF token; cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from motcua.caller.figures import Figures, Spread, satisfied_levels
from motcua.caller.history import Report, read_reasons_by, read_report
from motcua.caller.report import BY_LABEL, write_csv
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from motcua.errors import MotcuaError

from .auth import Session, Sessions, UserRole
from .columns import Columns, join, read_columns, read_columns_apart, report_of_days
from .live import live_view
from .login import NO_STORE, SESSION_COOKIE, login_routes, session_of, to_login
from .login import safe_next as landing

log = logging.getLogger(__name__)

HISTORY_DAYS = 731               # settled days kept as columns for reports: two years, the longest report
SETTLE_DAYS = 2                  # days before the current service day that may still change
MAX_DAYS = 366 * 2
HEAD_ONLY = "Trang này chỉ dành cho lãnh đạo bộ phận một cửa."



def read_period(query: Mapping[str, str], first: date, last: date | None = None) -> tuple[date, date] | str:
    """A report's days from the query (``from``, ``to``), else ``first`` to ``last`` (default:
    ``from`` alone); a sentence for the page when they are not a period."""
    try:
        start = date.fromisoformat(query.get("from") or first.isoformat())
        end = date.fromisoformat(query.get("to") or (last or start).isoformat())
    except ValueError:
        return "Ngày không hợp lệ (viết theo dạng NNNN-TT-NN)."
    if end < start:
        return "Ngày kết thúc trước ngày bắt đầu."
    if (end - start).days > MAX_DAYS:
        return "Khoảng thời gian quá dài (tối đa hai năm)."
    return start, end


def wait_target_s(query: Mapping[str, str]) -> float:
    """The waiting-time target of a report, in seconds (``target`` minutes, 1 to 240; 15)."""
    try:
        minutes = float(query.get("target") or 15)
    except ValueError:
        minutes = 15.0
    return min(max(minutes, 1.0), 240.0) * 60


def dashboard_routes(role: Any, config: Any) -> list[Route]:
    sessions: Sessions = role.sessions
    store = role.store
    db = config.site.state_dir / "caller.db"
    tz = config.site.tz
    office_name = config.site.name
    services = {s.id: s.name for s in config.services}
    counters = {c.id: c.name for c in config.counters}
    levels = tuple(config.counter_pad.rating.levels)
    good_levels = satisfied_levels(levels)
    target_wait_s = config.web.target_wait_min * 60
    cache = ReportCache(db)
    tune_memory()

    def service_day() -> date | None:
        """The caller's current service day (the board's), read once the board came."""
        board = role.office.board
        try:
            return date.fromisoformat(board.day) if board is not None else None
        except ValueError:
            return None

    def page(title: str, body: str, session: Session | None, status: int = 200,
             headers: dict[str, str] | None = None) -> HTMLResponse:
        return HTMLResponse(layout(office_name, title, body, session), status_code=status,
                            headers={**NO_STORE, **(headers or {})})

    def current(request: Request) -> Session | None:
        return session_of(sessions, request)

    def forbidden(session: Session) -> HTMLResponse:
        return page("Không có quyền", f'<p class="notice box">{HEAD_ONLY}</p>', session, 403)

    async def login_failed(name: str, failures: int, locked_until: float) -> None:
        await role.writer.now(store.login_failed, name, failures, locked_until)

    # -- log in and out: web/login.py ----------------------------------------------------
    login = login_routes(sessions=sessions, user_of=store.user, login_failed=login_failed, page=page,
                         home="/office")

    # -- the live view -------------------------------------------------------------------
    async def live_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        today = service_day()
        if today is not None and session.role == UserRole.HEAD and cache.closed is None:
            cache.load_in_background(today)          # the head's report pages will need them
        return page("Tình hình trực tiếp", LIVE_BODY, session)

    async def live_events(request: Request) -> Response:
        # The stream is the page's own traffic, not the person's: it does not keep the session.
        session_id = request.cookies.get(SESSION_COOKIE)
        if sessions.get(session_id, time.time(), touch=False) is None:
            return Response("Chưa đăng nhập.", status_code=401, headers=NO_STORE)

        async def events() -> AsyncIterator[str]:
            sent = None
            yield "retry: 2000\n\n"
            while True:
                session = sessions.get(session_id, time.time(), touch=False)
                if session is None:                    # logged out or expired: the stream ends
                    break
                changed = role.changes.current()
                view = live_view(role.office, time.time(), services=services, counters=counters,
                                 target_wait_s=target_wait_s)
                now = view.pop("now")
                if view != sent:                       # the page ages the times itself
                    sent = dict(view)
                    yield f"data: {json.dumps({**view, 'now': now}, ensure_ascii=False)}\n\n"
                elif changed.ping:
                    yield ": ping\n\n"
                # Woken by a change, or when the session would end (a few office pages: a timer each).
                left = max(0.0, sessions.ends(session) - time.time()) + 0.05
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), left)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={**NO_STORE, "X-Accel-Buffering": "no"})

    # -- reports -------------------------------------------------------------------------
    def period(request: Request) -> tuple[date, date] | str:
        today = service_day() or datetime.now(tz).date()
        return read_period(request.query_params, today)

    def target_of(request: Request) -> float:
        return wait_target_s(request.query_params)

    async def report_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        if session.role != UserRole.HEAD:
            return forbidden(session)
        chosen = period(request)
        if isinstance(chosen, str):
            return page("Báo cáo", report_form(None, None, chosen), session, 400)
        start, end = chosen
        target = target_of(request)
        try:
            report = await asyncio.to_thread(cache.report, start, end, service_day(),
                                             by=page_groupings(start, end), hours=True, target=target,
                                             good_levels=good_levels)
            reasons = await asyncio.to_thread(reasons_of, db, start, end)
        except MotcuaError as exc:
            return page("Báo cáo", report_form(start, end, f"Không đọc được dữ liệu: {exc}"), session, 503)
        body = report_form(start, end, "") + report_body(
            report, reasons, start, end, target, services=services, counters=counters, levels=levels,
            good_levels=good_levels)
        return page(f"Báo cáo {start.strftime('%d/%m/%Y')} – {end.strftime('%d/%m/%Y')}", body, session)

    async def report_csv(request: Request) -> Response:
        session = current(request)
        if session is None:
            return Response("Chưa đăng nhập.", status_code=401, headers=NO_STORE)
        if session.role != UserRole.HEAD:
            return Response(HEAD_ONLY, status_code=403, headers=NO_STORE)
        chosen = period(request)
        by = request.query_params.get("by") or None
        if isinstance(chosen, str) or by not in (None, "day", "service", "counter"):
            return Response("Yêu cầu không hợp lệ.", status_code=400, headers=NO_STORE)
        start, end = chosen
        try:
            report = await asyncio.to_thread(cache.report, start, end, service_day(),
                                             by=(by,) if by else (), hours=False, target=target_of(request),
                                             good_levels=good_levels)
        except MotcuaError as exc:
            return Response(f"Không đọc được dữ liệu: {exc}", status_code=503, headers=NO_STORE)
        data = await asyncio.to_thread(command_csv, report, by, group_names(by, services, counters), levels)
        filename = f"bao-cao-{start}-{end}{'-' + by if by else ''}.csv"
        return Response(data, media_type="text/csv; charset=utf-8", headers={
            **NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'})

    # -- ratings and reasons ---------------------------------------------------------------
    async def ratings_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        chosen = period(request)
        if isinstance(chosen, str):
            return page("Đánh giá", report_form(None, None, chosen, action="/office/ratings"), session, 400)
        start, end = chosen
        only = session.counter if session.role == UserRole.CLERK else None
        try:
            report = await asyncio.to_thread(cache.report, start, end, service_day(),
                                             by=("counter",), hours=False, target=900.0,
                                             good_levels=good_levels)
            reasons = await asyncio.to_thread(reasons_of, db, start, end)
        except MotcuaError as exc:
            return page("Đánh giá", report_form(start, end, f"Không đọc được dữ liệu: {exc}",
                                                action="/office/ratings"), session, 503)
        body = report_form(start, end, "", action="/office/ratings") + ratings_body(
            report, reasons, only, counters=counters, levels=levels, good_levels=good_levels,
            clerk=session.role == UserRole.CLERK)
        return page("Đánh giá và lý do", body, session)

    return [
        *login,
        Route("/office", live_page),
        Route("/office/events", live_events),
        Route("/office/report", report_page),
        Route("/office/report.csv", report_csv),
        Route("/office/ratings", ratings_page),
    ]


def safe_next(target: str | None) -> str:
    """Only our own office pages: never an address elsewhere."""
    return landing(target, "/office")


class ReportCache:
    """Reports without reading a year from SQLite each time.

    The tickets of settled service days no longer change: the role keeps the last
    ``HISTORY_DAYS`` of them as compact columns (web/columns.py, read in a background thread
    when the head first needs them, and extended by the newly settled days after each new
    service day). A day is settled once it is before yesterday (the caller's current service
    day is the board's, not the calendar date; a service day may run past midnight, and a
    rating may still reach yesterday's last tickets). A report of any period takes the kept
    days from memory and reads only the others (today, yesterday, anything older) from the
    caller's database with the same query, then counts them with ``read_report``'s code.
    The last few reports of settled periods are kept too (the page's CSV links). While the
    board's day is not known, or without numpy, a report is read as the command reads it."""

    def __init__(self, db: Path, size: int = 4) -> None:
        self.db = db
        self.size = size
        self.reports: OrderedDict[tuple, Report] = OrderedDict()
        self.closed: Columns | None = None
        self._loading = threading.Lock()
        self._first = threading.Event()     # some history kept (or its reading over): reports go on
        self._kept = threading.Lock()       # reports run in worker threads, side by side

    @staticmethod
    def settled(today: date) -> tuple[date, date]:
        return today - timedelta(days=HISTORY_DAYS), today - timedelta(days=SETTLE_DAYS)

    def load_closed(self, today: date) -> None:
        """Read the settled days' columns (a worker thread); a second call meanwhile returns."""
        if not self._loading.acquire(blocking=False):
            return
        try:
            first, last = self.settled(today)
            old = self.closed
            started = time.monotonic()
            if old is not None and old.first <= first <= old.last + timedelta(days=1) and old.last < last:
                new = read_columns(self.db, old.last + timedelta(days=1), last)
                columns = join([old.between(first, old.last), new]) if new is not None else None
            elif old is not None and (old.first, old.last) == (first, last):
                columns = old
            else:
                # The last year first (what the head looks at most), then the year before it.
                middle = max(first, last - timedelta(days=365))
                recent = read_columns_apart(self.db, middle, last)
                if recent is not None and middle > first:
                    self.closed = recent
                    self._first.set()
                    older = read_columns_apart(self.db, first, middle - timedelta(days=1))
                    columns = join([older, recent]) if older is not None else recent
                    del older, recent
                else:
                    columns = recent
            if columns is not None and columns is not old:
                self.closed = columns
                del old
                release_memory()
                log.info("report history %s..%s kept: %d tickets in %.1f MB, read in %.1f s", first, last,
                         len(columns), columns.nbytes / 1e6, time.monotonic() - started)
        except MotcuaError as exc:
            log.info("report history not kept yet: %s", exc)
        finally:
            self._first.set()
            self._loading.release()

    def load_in_background(self, today: date) -> None:
        threading.Thread(target=self.load_closed, args=(today,), name="report-history", daemon=True).start()

    def report(self, start: date, end: date, today: date | None, *, by: tuple[str, ...], hours: bool,
               target: float, good_levels: int) -> Report:
        """``today``: the caller's current service day (None: not known yet)."""
        options: dict[str, Any] = dict(by=by, hours=hours, target_wait_s=target, satisfied_levels=good_levels)
        if today is None:
            return read_report(self.db, start, end, **options)
        first, last = self.settled(today)
        settled = first <= start and end <= last
        if settled:
            with self._kept:
                for (s, e, t, groupings, with_hours), kept in reversed(self.reports.items()):
                    if (s, e, t) == (start, end, target) and set(by) <= set(groupings) \
                            and (with_hours or not hours):
                        return kept
        if self.closed is None:           # read it (once), and wait for the last year of it
            self.load_in_background(today)
            self._first.wait(600)
        closed = self.closed
        if closed is not None and closed.last < last:
            self.load_in_background(today)
        try:
            report = report_of_days(self.db, closed, start, end, **options)
        finally:
            release_memory()
        if report is None:                # no numpy on this hub
            return read_report(self.db, start, end, **options)
        if settled:
            with self._kept:
                self.reports[(start, end, target, by, hours)] = report
                while len(self.reports) > self.size:
                    self.reports.popitem(last=False)
        return report


def tune_memory() -> None:
    """Big blocks (a report's numpy temporaries: megabytes each) straight from the system and
    back to it when freed. glibc would otherwise raise its threshold after the first big free
    (the 16 MiB of a password check) and keep such blocks in the heap for good."""
    if _LIBC is not None:
        _LIBC.mallopt(M_MMAP_THRESHOLD, 256 * 1024)
        _LIBC.mallopt(M_ARENA_MAX, 1)


def reasons_of(db: Path, start: date, end: date) -> list[tuple[str, str, str, int]]:
    try:
        return read_reasons_by(db, start, end)
    finally:
        release_memory()            # SQLite's sort of a year's rating events


def release_memory() -> None:
    """Give the big temporaries of a report back to the system (glibc keeps freed heap)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> Any:
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8      # glibc's mallopt parameters


def page_groupings(start: date, end: date) -> tuple[str, ...]:
    """By day only for a short period: a year's 250 days add a second to the first look."""
    return ("service", "counter", "day") if (end - start).days <= 62 else ("service", "counter")


def command_csv(report: Report, by: str | None, names: dict[str, str], levels: tuple[str, ...]) -> bytes:
    """The file ``motcua report --csv`` writes for this report: its own ``write_csv``, called
    as its ``main`` calls it (a test holds the two equal byte for byte)."""
    groups = report.groups.get(by, {}) if by else {}
    with tempfile.TemporaryDirectory(prefix="motcua-csv-") as folder:
        path = Path(folder) / "report.csv"
        write_csv(path, groups, names, levels, by or "day", report.total)
        return path.read_bytes()


def group_names(by: str | None, services: dict[str, str], counters: dict[str, str]) -> dict[str, str]:
    if by == "service":
        return dict(services)
    if by == "counter":
        return {**counters, "-": "Chưa gọi"}
    return {}


# -- HTML --------------------------------------------------------------------------------------

def esc(value: object) -> str:
    return html.escape(str(value))


def layout(office: str, title: str, body: str, session: Session | None) -> str:
    nav = ""
    if session is not None:
        links = [("/office", "Trực tiếp")]
        if session.role == UserRole.HEAD:
            links.append(("/office/report", "Báo cáo"))
        links.append(("/office/ratings", "Đánh giá"))
        nav = ('<nav class="no-print">' + "".join(f'<a href="{u}">{t}</a>' for u, t in links)
               + f'<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" '
               f'value="{esc(session.csrf)}"><span class="who">{esc(session.user)}</span>'
               '<button type="submit">Đăng xuất</button></form></nav>')
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} – {esc(office)}</title>
<link rel="stylesheet" href="/static/office.css">
</head>
<body>
<header><h1>{esc(office)}</h1><p>{esc(title)}</p></header>
{nav}
<main>
{body}
</main>
</body>
</html>"""


LIVE_BODY = """<div id="offline" class="banner hidden" role="alert">
Mất kết nối với máy chủ của bộ phận một cửa.</div>
<section id="alerts" class="alerts" aria-live="assertive"></section>
<section class="box"><h2>Bảng gọi số</h2><ol id="calls" class="calls"></ol></section>
<section class="box"><h2>Các quầy</h2><div class="scroll"><table id="counters"><thead><tr><th>Quầy</th>
<th>Trạng thái</th><th>Số đang phục vụ</th><th>Đã phục vụ</th><th>Đã phục vụ hôm nay</th></tr></thead>
<tbody></tbody></table></div></section>
<section class="box"><h2>Đang chờ</h2><div class="scroll"><table id="waiting"><thead><tr><th>Lĩnh vực</th>
<th>Đang chờ</th><th>Thời gian chờ dự kiến</th><th>Chờ lâu nhất</th></tr></thead><tbody></tbody>
</table></div></section>
<section class="box"><h2>Thiết bị</h2><div class="scroll"><table id="devices"><thead><tr><th>Thiết bị</th>
<th>Kết nối</th><th>Máy in</th><th>Cập nhật</th></tr></thead><tbody></tbody></table></div></section>
<script src="/static/common.js"></script>
<script src="/static/office.js"></script>"""


def report_form(start: date | None, end: date | None, error: str, *, action: str = "/office/report") -> str:
    alert = f'<p class="box notice" role="alert">{esc(error)}</p>' if error else ""
    return f"""{alert}<form method="get" action="{action}" class="box range no-print" id="range">
  <label>Từ ngày <input type="date" name="from" value="{start or ''}"></label>
  <label>Đến ngày <input type="date" name="to" value="{end or ''}"></label>
  <button type="submit">Xem</button>
</form>"""


def minutes(value: float | None) -> str:
    return "–" if value is None else f"{value / 60:.1f}".replace(".", ",")


def share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}".replace(".", ",") + "%"


def spread_cells(s: Spread) -> str:
    return "".join(f"<td>{minutes(v)}</td>" for v in (s.mean, s.median, s.p90))


def figures_table(table_id: str, title: str, rows: dict[str, Figures], names: dict[str, str],
                  levels: tuple[str, ...]) -> str:
    head = ("<tr><th>" + esc(title) + "</th><th>Số phiếu</th><th>Đã phục vụ</th><th>Vắng mặt</th>"
            "<th>Hết hạn</th><th>Chờ TB</th><th>Chờ trung vị</th><th>Chờ p90</th><th>Phục vụ TB</th>"
            "<th>Phục vụ trung vị</th><th>Phục vụ p90</th><th>Trong thời gian mục tiêu</th>"
            + "".join(f"<th>{esc(level)}</th>" for level in levels)
            + "<th>Tỷ lệ hài lòng (QĐ 766)</th></tr>")
    body = "".join(
        f'<tr data-key="{esc(key)}"><th>{esc(names.get(key, key))}</th><td>{f.issued}</td><td>{f.served}</td>'
        f"<td>{f.no_shows}</td><td>{f.expired}</td>{spread_cells(f.wait)}{spread_cells(f.service_time)}"
        f"<td>{share(f.within_target)}</td>"
        + "".join(f"<td>{f.ratings.get(level, 0)}</td>" for level in range(1, len(levels) + 1))
        + f'<td class="satisfied">{share(f.satisfied)}</td></tr>' for key, f in rows.items())
    return (f'<div class="scroll"><table id="{table_id}" class="figures"><thead>{head}</thead>'
            f"<tbody>{body}</tbody></table></div><p class=\"note\">Thời gian tính bằng phút.</p>")


def bars_svg(title: str, labels: list[str], series: list[tuple[str, list[float], str]],
             unit: str, svg_id: str) -> str:
    """A grouped bar chart as inline SVG (drawn on the hub: no script, prints as it shows)."""
    width, height, left, bottom, top = 720, 280, 48, 56, 28
    top_value = max([v for _, values, _ in series for v in values] + [0])
    if not top_value:
        return (f'<svg id="{svg_id}" class="chart" viewBox="0 0 {width} 60" role="img" '
                f'aria-label="{esc(title)}"'
                f' xmlns="http://www.w3.org/2000/svg"><text x="{width / 2}" y="18" text-anchor="middle"'
                f' class="title">{esc(title)}</text><text x="{width / 2}" y="44" text-anchor="middle">'
                "Chưa có dữ liệu.</text></svg>")
    ticks = [top_value * i / 4 for i in range(5)]
    digits = next(d for d in (0, 1, 2) if all(abs(t - round(t, d)) < 1e-9 for t in ticks) or d == 2)
    step = (width - left - 10) / max(len(labels), 1)
    bar = step * 0.8 / max(len(series), 1)
    parts = [f'<svg id="{svg_id}" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{width / 2}" y="18" text-anchor="middle" class="title">{esc(title)}</text>']
    plot = height - bottom - top
    for i in range(5):
        y = top + plot - plot * i / 4
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{ticks[i]:.{digits}f}".replace(".", ",") + "</text>")   # 0,25 as Vietnamese write it
    every = max(1, -(-len(labels) // 12))     # at most 12 labels: they must not overlap
    for i, label in enumerate(labels):
        x = left + step * i + step * 0.1
        for j, (name, values, color) in enumerate(series):
            value = values[i]
            h = plot * value / top_value
            parts.append(f'<rect x="{x + bar * j:.1f}" y="{top + plot - h:.1f}" '
                         f'width="{max(bar - 1, 1):.1f}" '
                         f'height="{h:.1f}" fill="{color}"><title>{esc(label)} – {esc(name)}: '
                         f"{value:.1f} {esc(unit)}</title></rect>")
        if i % every == 0:
            parts.append(f'<text x="{x + step * 0.4:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                         f"{esc(label[:14])}</text>")
    for j, (name, _, color) in enumerate(series):
        parts.append(f'<rect x="{left + 150 * j}" y="{height - 22}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{left + 150 * j + 16}" y="{height - 12}">{esc(name)}</text>')
    parts.append(f'<text x="6" y="{top - 8}">{esc(unit)}</text></svg>')
    return "".join(parts)


LEVEL_COLORS = ("#1b5e20", "#0b3d91", "#5d4037", "#8a0000", "#4a0000")


def report_body(report: Any, reasons: list[tuple[str, str, str, int]], start: date, end: date,
                target: float, *, services: dict[str, str], counters: dict[str, str],
                levels: tuple[str, ...], good_levels: int) -> str:
    total: Figures = report.total
    first_bad = levels[good_levels] if good_levels < len(levels) else ""
    query = f"from={start}&amp;to={end}"
    out = [f'<p class="downloads no-print">Tải về: '
           f'<a id="csv-total" href="/office/report.csv?{query}">CSV tổng</a> · '
           f'<a id="csv-service" href="/office/report.csv?{query}&amp;by=service">CSV theo lĩnh vực</a> · '
           f'<a id="csv-counter" href="/office/report.csv?{query}&amp;by=counter">CSV theo quầy</a> · '
           f'<a id="csv-day" href="/office/report.csv?{query}&amp;by=day">CSV theo ngày</a> · '
           '<button type="button" onclick="window.print()">In trang / lưu PDF</button></p>',
           '<section class="box"><h2>Tổng hợp</h2><dl class="totals">',
           f'<dt>Số phiếu đã cấp</dt><dd id="issued">{total.issued}</dd>',
           f'<dt>Đã phục vụ</dt><dd id="served">{total.served}</dd>',
           f'<dt>Vắng mặt</dt><dd id="no-shows">{total.no_shows}</dd>',
           f"<dt>Hết hạn</dt><dd>{total.expired}</dd>",
           f"<dt>Thời gian chờ (phút)</dt><dd>TB {minutes(total.wait.mean)} · trung vị "
           f"{minutes(total.wait.median)} · p90 {minutes(total.wait.p90)}</dd>",
           f"<dt>Thời gian phục vụ (phút)</dt><dd>TB {minutes(total.service_time.mean)} · trung vị "
           f"{minutes(total.service_time.median)} · p90 {minutes(total.service_time.p90)}</dd>",
           f"<dt>Được gọi trong {target / 60:.0f} phút</dt><dd>{share(total.within_target)}</dd>",
           f"<dt>Lượt đánh giá</dt><dd>{total.rated}: " + ", ".join(
               f"{esc(level)} {total.ratings.get(i, 0)}" for i, level in enumerate(levels, 1)) + "</dd>",
           f'<dt>Tỷ lệ hài lòng (QĐ 766/QĐ-TTg)</dt><dd id="satisfied">{share(total.satisfied)}</dd>',
           "</dl>",
           f'<p class="note">Tỷ lệ hài lòng: số lượt không đánh giá “{esc(first_bad)}” '
           "hoặc thấp hơn, trên tổng số lượt đánh giá.</p></section>"]
    hours = report.wait_by_hour
    out.append('<section class="box chart-box"><h2>Biểu đồ</h2>')
    out.append(bars_svg("Thời gian chờ theo giờ lấy số", [f"{h}h" for h in hours],
                        [("trung vị", [(s.median or 0) / 60 for s in hours.values()], "#0b3d91"),
                         ("p90", [(s.p90 or 0) / 60 for s in hours.values()], "#8a0000")],
                        "phút", "chart-wait"))
    by_service = report.groups.get("service", {})
    out.append(bars_svg("Số phiếu theo lĩnh vực", [services.get(k, k) for k in by_service],
                        [("đã cấp", [f.issued for f in by_service.values()], "#0b3d91"),
                         ("đã phục vụ", [f.served for f in by_service.values()], "#1b5e20")], "phiếu",
                        "chart-service"))
    out.append(bars_svg("Đánh giá theo mức", list(levels),
                        [("lượt", [total.ratings.get(i, 0) for i in range(1, len(levels) + 1)], "#5d4037")],
                        "lượt", "chart-ratings"))
    by_day = report.groups.get("day", {})
    if len(by_day) > 1:
        out.append(bars_svg("Số phiếu theo ngày", [k[5:] for k in by_day],
                            [("đã cấp", [f.issued for f in by_day.values()], "#0b3d91")], "phiếu",
                            "chart-day"))
    out.append("</section>")
    out.append('<section class="box"><h2>Theo lĩnh vực</h2>'
               + figures_table("by-service", BY_LABEL["service"], by_service, services, levels)
               + "</section>")
    out.append('<section class="box"><h2>Theo quầy</h2>'
               + figures_table("by-counter", BY_LABEL["counter"], report.groups.get("counter", {}),
                               {**counters, "-": "Chưa gọi"}, levels) + "</section>")
    out.append(reasons_tables(reasons, None, counters))
    if by_day:
        out.append('<section class="box"><details><summary>Theo ngày</summary>'
                   + figures_table("by-day", BY_LABEL["day"], by_day, {}, levels) + "</details></section>")
    out.append('<script src="/static/report.js"></script>')
    return "\n".join(out)


def reasons_tables(reasons: list[tuple[str, str, str, int]], only: str | None,
                   counters: dict[str, str]) -> str:
    """Reasons by counter and by week (``only``: one counter's)."""
    rows = [r for r in reasons if only is None or r[0] == only]
    names = sorted({r[2] for r in rows})
    if not rows:
        return ('<section class="box"><h2>Lý do chưa hài lòng</h2>'
                '<p id="no-reasons">Chưa có lý do nào.</p></section>')

    def table(table_id: str, title: str, key: Callable[[tuple], str], label: Callable[[str], str]) -> str:
        cells: dict[str, dict[str, int]] = {}
        for row in rows:
            cells.setdefault(key(row), {}).setdefault(row[2], 0)
            cells[key(row)][row[2]] += row[3]
        head = (f"<tr><th>{esc(title)}</th>" + "".join(f"<th>{esc(n)}</th>" for n in names)
                + "<th>Cộng</th></tr>")
        body = "".join(f'<tr><th>{esc(label(k))}</th>' + "".join(f"<td>{v.get(n, 0)}</td>" for n in names)
                       + f"<td>{sum(v.values())}</td></tr>" for k, v in sorted(cells.items()))
        return (f'<div class="scroll"><table id="{table_id}"><thead>{head}</thead>'
                f"<tbody>{body}</tbody></table></div>")

    def week(day: str) -> str:
        monday = date.fromisoformat(day)
        return f"Tuần {monday.strftime('%d/%m')} – {(monday + timedelta(days=6)).strftime('%d/%m/%Y')}"

    return ('<section class="box"><h2>Lý do chưa hài lòng</h2>'
            + table("reasons-counter", "Quầy", lambda r: r[0], lambda k: counters.get(k, k))
            + table("reasons-week", "Tuần", lambda r: r[1], week) + "</section>")


def ratings_body(report: Any, reasons: list[tuple[str, str, str, int]], only: str | None, *,
                 counters: dict[str, str], levels: tuple[str, ...], good_levels: int, clerk: bool) -> str:
    groups = report.groups.get("counter", {})
    if only is not None:
        groups = {k: v for k, v in groups.items() if k == only}
    head = ("<tr><th>Quầy</th>" + "".join(f"<th>{esc(level)}</th>" for level in levels)
            + "<th>Tổng lượt</th><th>Tỷ lệ hài lòng (QĐ 766)</th></tr>")
    body = "".join(f'<tr data-key="{esc(k)}"><th>{esc(counters.get(k, k))}</th>'
                   + "".join(f"<td>{f.ratings.get(i, 0)}</td>" for i in range(1, len(levels) + 1))
                   + f'<td>{f.rated}</td><td class="satisfied">{share(f.satisfied)}</td></tr>'
                   for k, f in groups.items() if k != "-")
    scope = f"<p>Chỉ hiển thị {esc(counters.get(only or '', only))} của anh/chị.</p>" if clerk else ""
    return (f'<section class="box"><h2>Đánh giá theo quầy</h2>{scope}<div class="scroll"><table id="ratings">'
            f"<thead>{head}</thead><tbody>{body}</tbody></table></div></section>"
            + reasons_tables(reasons, only, counters))

