"""What the board shows at a moment, from the latest Board message and the link (pure).

The keeper keeps the last board for as long as it runs: a lost link or a quiet office
never blanks it (peers' boards froze on "Empty" after idle days, FQM #298). A retained
board is the broker's current snapshot and always wins, so a caller whose seq went
backwards (its clock was reset) can never freeze the board on an old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from motcua.config import SiteConfig
from motcua.delivery import CallerWatch
from motcua.protocol import Board, BoardCall, CounterStatus, Heartbeat
from motcua.service_day import service_day
from motcua.waits import minutes, wait_phrase

BLINK_S = 0.5          # the newest call's highlight is on, then off, this long each
LATE_TOLERANCE_S = 30  # a call older than highlight_s plus this is not "new" on arrival

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")

UNKNOWN = "unknown"       # a counter the board does not list, or with a status of a newer caller

# Every text the board itself writes (the config adds names, services and the ticker).
LABELS = {
    "counter": "Quầy",
    "serving": "Đang phục vụ",
    "calls": "Số vừa gọi",
    "waiting": "Đang chờ",
    "idle": "Đang trống",
    "paused": "Tạm nghỉ",
    "recall": "gọi lại",
    "no_data": "Đang chờ dữ liệu từ máy gọi số…",
    "offline": "MẤT KẾT NỐI",
    "no_hub": "chưa liên lạc được máy gọi số",
    "caller_silent": "MÁY GỌI SỐ KHÔNG PHẢN HỒI",
    "caller_refusing": "MÁY GỌI SỐ TẠM NGỪNG NHẬN SỐ MỚI",
    "last_update": "cập nhật lúc",
    "old_day": "Số liệu ngày",
}


@dataclass(frozen=True)
class CounterRow:
    name: str
    number: str | None
    person: str | None   # masked name
    status: str          # a CounterStatus, or UNKNOWN


@dataclass(frozen=True)
class CallRow:
    number: str
    counter_name: str
    service_name: str
    person: str | None
    recall: bool


@dataclass(frozen=True)
class WaitRow:
    service_name: str
    count: int
    estimate: str        # "~15 phút", or "" when unknown


@dataclass(frozen=True)
class BoardView:
    """Everything one frame draws, except the ticker's scroll offset."""

    title: str
    subtitle: str
    date: str            # "Thứ Hai, 30/11/2026"
    time: str            # "08:15:02"
    counters: tuple[CounterRow, ...]
    calls: tuple[CallRow, ...]
    waiting: tuple[WaitRow, ...]
    highlight: bool      # the newest call (calls[0]) is drawn highlighted now
    notice: str          # offline mark, "waiting for data", or "data of another day"
    offline: bool
    ticker: str


class BoardKeeper:
    """The latest board, the link's state and the newest call's highlight timer."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.board: Board | None = None
        self.updated_wall: datetime | None = None   # when the last board arrived (site time)
        self.connected = False
        self.lost = False            # the link said LinkDown (not merely still connecting)
        self.highlight_start = 0.0
        self.highlight_until = 0.0
        self.stale = 0
        self.watch = CallerWatch()       # the caller's heartbeat: a frozen caller sends none

    # -- events ------------------------------------------------------------------
    def offer(self, board: Board, *, retained: bool, mono: float, wall: datetime) -> bool:
        """Keep ``board`` unless it is a live copy or an older live one; True if kept."""
        current = self.board
        if current is not None and not retained and board.seq <= current.seq:
            self.stale += 1
            return False
        newest = board.calls[0] if board.calls else None
        shown = current.calls[0] if current and current.calls else None
        if (newest is not None and (shown is None or _call_key(newest) != _call_key(shown))
                and _age_s(newest, wall) <= self.config.board.highlight_s + LATE_TOLERANCE_S):
            self.highlight_start = mono
            self.highlight_until = mono + self.config.board.highlight_s
        self.board = board
        self.updated_wall = wall
        return True

    def link_up(self, mono: float) -> None:
        self.connected = True
        self.lost = False
        self.watch.link_up(mono)

    def link_down(self) -> None:
        self.connected = False
        self.lost = True
        self.watch.link_down()

    def heartbeat(self, beat: Heartbeat, mono: float) -> None:
        self.watch.offer(beat, mono)

    def caller_trouble(self, mono: float) -> str:
        """"" while the caller beats and takes work; else what the board says about it."""
        if not self.connected:
            return ""                    # the offline mark says more
        if self.watch.lost(mono):
            return LABELS["caller_silent"]
        if self.watch.alive(mono) and not self.watch.accepting(mono):
            return LABELS["caller_refusing"]
        return ""

    # -- the picture ---------------------------------------------------------------
    def highlight_on(self, mono: float) -> bool:
        """The newest call's highlight: blinking while its time lasts."""
        if not self.board or not self.board.calls or mono >= self.highlight_until:
            return False
        return int((mono - self.highlight_start) / BLINK_S) % 2 == 0

    def next_change(self, mono: float) -> float | None:
        """When the highlight next toggles or ends (monotonic), or None if it is over."""
        if mono >= self.highlight_until:
            return None
        step = self.highlight_start + (int((mono - self.highlight_start) / BLINK_S) + 1) * BLINK_S
        return min(step, self.highlight_until)

    def view(self, wall: datetime, mono: float, *, force_highlight: bool = False) -> BoardView:
        config = self.config
        local = wall.astimezone(config.site.tz)
        board = self.board
        counters = tuple(self._counter_row(c.id) for c in config.counters)
        calls: tuple[CallRow, ...] = ()
        waiting: tuple[WaitRow, ...] = ()
        if board is not None:
            calls = tuple(self._call_row(call) for call in board.calls[: config.board.recent_calls])
            waiting = tuple(
                WaitRow(service_name=s.name, count=board.waiting.get(s.id, 0),
                        estimate=_estimate(board.waiting.get(s.id, 0),
                                           board.wait_estimate_s.get(s.id)))
                for s in config.services)
        highlight = bool(calls) and (force_highlight or self.highlight_on(mono))
        return BoardView(
            title=config.board.title or config.site.name,
            subtitle=config.site.unit,
            date=f"{WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y}",
            time=f"{local:%H:%M:%S}",
            counters=counters, calls=calls, waiting=waiting, highlight=highlight,
            notice=self.notice(wall, mono), offline=not self.connected or bool(self.caller_trouble(mono)),
            ticker=config.board.ticker,
        )

    def notice(self, wall: datetime, mono: float | None = None) -> str:
        """One line about the data: offline since when, a caller that does not answer (no
        heartbeat for a few seconds) or refuses work, none yet, or of another day."""
        tz = self.config.site.tz
        trouble = self.caller_trouble(mono) if mono is not None else ""
        if self.board is None:
            if self.lost:
                return f"{LABELS['offline']} · {LABELS['no_hub']}"
            return trouble or LABELS["no_data"]
        if not self.connected or trouble:
            stamp = self.updated_wall.astimezone(tz) if self.updated_wall else None
            when = f"{stamp:%H:%M:%S %d/%m/%Y}" if stamp else "?"
            return f"{trouble or LABELS['offline']} · {LABELS['last_update']} {when}"
        if self.board.day != service_day(wall, tz, self.config.site.day_starts_at).isoformat():
            try:
                shown = datetime.strptime(self.board.day, "%Y-%m-%d").strftime("%d/%m/%Y")
            except ValueError:
                shown = self.board.day
            return f"{LABELS['old_day']} {shown}"
        return ""

    def counter_view(self, counter_id: str) -> CounterRow:
        return self._counter_row(counter_id)

    def _counter_row(self, counter_id: str) -> CounterRow:
        name = self.config.counter(counter_id).name
        state = None
        if self.board is not None:
            state = next((c for c in self.board.counters if c.counter == counter_id), None)
        if state is None:
            return CounterRow(name=name, number=None, person=None, status=UNKNOWN)
        status = state.status if state.status in CounterStatus.__members__.values() else UNKNOWN
        number = state.number if status == CounterStatus.SERVING else None
        return CounterRow(name=name, number=number, person=state.name if number else None,
                          status=status)

    def _call_row(self, call: BoardCall) -> CallRow:
        try:
            counter_name = self.config.counter(call.counter).name
        except KeyError:
            counter_name = f"{LABELS['counter']} {call.counter}"
        try:
            service_name = self.config.service(call.service).name
        except KeyError:
            service_name = ""
        return CallRow(number=call.number, counter_name=counter_name, service_name=service_name,
                       person=call.name, recall=call.recall)


def _call_key(call: BoardCall) -> tuple[str, str, str]:
    return call.counter, call.number, call.at


def _age_s(call: BoardCall, wall: datetime) -> float:
    return (wall - datetime.fromisoformat(call.at)).total_seconds()


def _estimate(waiting: int, seconds: int | None) -> str:
    """The ticket's words for the wait of a ticket taken now; nothing for an empty queue."""
    if seconds is None or waiting <= 0:
        return ""
    return wait_phrase(minutes(seconds))
