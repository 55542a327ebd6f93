"""What the web pages show, kept from the caller's messages (pure: no I/O, times passed in).

The web role learns the office only through the protocol: printed tickets (``ticket``), the
counters' retained states (``counter/<id>/state``: the ticket served, the ticket finished
last and whether it is rated), the retained board (day, waiting counts, wait estimates) and
the caller's status. From these it answers two questions: what a ticket's page shows, and
what a counter's tablet shows. Ratings it accepts are held here as pending until the
counter's state says the caller took them, so a second tap is refused at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from motcua.protocol import Board, CounterState, Presence, Status, Ticket


class Stage(enum.Enum):
    """A ticket's life as its page tells it."""

    WAITING = "waiting"
    CALLED = "called"        # being served at a counter
    DONE = "done"
    LEFT = "left"            # called, then skipped or sent to another queue
    OLD = "old"              # of a service day that is over


class RatingRefusal(enum.Enum):
    """Why a rating is refused; each has the page's Vietnamese message."""

    UNKNOWN_TICKET = "Không tìm thấy số thứ tự này."
    NOT_FINISHED = "Số thứ tự này chưa được phục vụ xong, chưa thể đánh giá."
    NOT_THIS_COUNTER = "Số thứ tự này không được phục vụ tại quầy này."
    ALREADY_RATED = "Số thứ tự này đã được đánh giá. Mỗi lượt phục vụ chỉ đánh giá một lần."
    TOO_LATE = "Đã hết thời gian đánh giá cho số thứ tự này."
    BAD_LEVEL = "Mức đánh giá không hợp lệ."
    BAD_REASON = "Lý do không hợp lệ."


@dataclass
class TicketInfo:
    """One ticket, without the citizen's name (the pages never show it)."""

    id: str
    number: str
    service: str
    day: str
    issued_at: str
    seq: int
    priority: bool = False
    stage: Stage = Stage.WAITING
    counter: str | None = None
    finished_at: float | None = None     # when it was finished (wall-clock epoch s; the caller's)
    rated: bool = False                  # the caller says so
    pending: int | None = None           # level this role accepted, not yet seen rated

    @property
    def rating_taken(self) -> bool:
        return self.rated or self.pending is not None

    def key(self) -> tuple[bool, str, int]:
        return (not self.priority, self.issued_at, self.seq)


@dataclass
class Office:
    """The office as the pages see it; every method runs on the web role's owner."""

    levels: int
    reason_levels: int
    reasons: tuple[str, ...]
    window_s: float
    tickets: dict[str, TicketInfo] = field(default_factory=dict)
    counters: dict[str, CounterState] = field(default_factory=dict)
    board: Board | None = None
    caller_online: bool = False
    link_up: bool = False
    devices: dict[tuple[str, str], Status] = field(default_factory=dict)  # (role, device) -> status
    serving_since: dict[str, float] = field(default_factory=dict)  # counter -> wall time of its call
    version: int = 0                      # bumped on every change the pages may show
    _ahead: dict[str, int] | None = None  # ticket id -> tickets before it (cached per version)

    # -- what comes in ---------------------------------------------------------------
    def changed(self) -> None:
        self.version += 1
        self._ahead = None

    def add_ticket(self, ticket: Ticket) -> TicketInfo | None:
        if ticket.id in self.tickets:
            return None
        info = TicketInfo(id=ticket.id, number=ticket.number, service=ticket.service,
                          day=ticket.day, issued_at=ticket.issued_at, seq=ticket.seq,
                          priority=ticket.priority)
        if self.board is not None and ticket.day < self.board.day:
            info.stage = Stage.OLD
        self.tickets[ticket.id] = info
        self.changed()
        return info

    def counter_state(self, state: CounterState, now: float, wall: float | None = None) -> list[TicketInfo]:
        """A counter's new state; returns the tickets whose stage changed. ``now``: wall-clock
        epoch seconds (a ticket it finishes gets it as its finish time, unless the role knows
        the caller's); ``wall``: the same, for how long a ticket has been served (None: not shown)."""
        previous = self.counters.get(state.counter)
        if previous is not None and state.seq < previous.seq:
            return []                      # an older retained copy
        if state.ticket is None:
            self.serving_since.pop(state.counter, None)
        elif wall is not None and (previous is None or previous.ticket != state.ticket
                                   or state.counter not in self.serving_since):
            self.serving_since[state.counter] = wall
        self.counters[state.counter] = state
        touched: list[TicketInfo] = []
        serving = self.tickets.get(state.ticket) if state.ticket else None
        if serving is not None and (serving.stage, serving.counter) != (Stage.CALLED, state.counter):
            serving.stage, serving.counter = Stage.CALLED, state.counter
            touched.append(serving)
        last = state.last
        done = self.tickets.get(last.ticket) if last is not None else None
        if last is not None and done is not None and (done.stage != Stage.DONE or done.rated != last.rated):
            if done.stage != Stage.DONE:
                done.finished_at = now
            done.stage, done.counter, done.rated = Stage.DONE, state.counter, last.rated
            touched.append(done)
        if previous is not None and previous.ticket and previous.ticket not in (
                state.ticket, last.ticket if last else None):
            info = self.tickets.get(previous.ticket)
            if info is not None and info.stage == Stage.CALLED and info.counter == state.counter:
                info.stage = Stage.LEFT        # skipped or transferred
                touched.append(info)
        self.changed()
        return touched

    def new_board(self, board: Board) -> list[TicketInfo]:
        """The board; a new service day makes earlier tickets old (returned, to be dropped)."""
        if self.board is not None and board.seq < self.board.seq:
            return []
        new_day = self.board is None or board.day != self.board.day
        self.board = board
        old: list[TicketInfo] = []
        if new_day:
            for info in list(self.tickets.values()):
                if info.day < board.day:
                    info.stage = Stage.OLD
                    old.append(self.tickets.pop(info.id))
        self.changed()
        return old

    def device_status(self, status: Status) -> None:
        """A daemon's retained status (``status/<role>/<device>``)."""
        self.devices[(status.role, status.device)] = status
        if status.role == "caller":
            self.caller_online = status.state == Presence.ONLINE
        self.changed()

    def set_online(self, *, link_up: bool | None = None, caller: bool | None = None) -> None:
        if link_up is not None:
            self.link_up = link_up
        if caller is not None:
            self.caller_online = caller
        self.changed()

    # -- ratings ---------------------------------------------------------------------
    def check_rating(self, ticket_id: str, level: Any, reason: Any, now: float, *,
                     counter: str | None = None) -> RatingRefusal | None:
        """Why this rating cannot be taken, or None. ``counter``: the tablet's counter."""
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= self.levels:
            return RatingRefusal.BAD_LEVEL
        if reason is not None and (not isinstance(reason, str) or reason not in self.reasons
                                   or level <= self.levels - self.reason_levels):
            return RatingRefusal.BAD_REASON
        info = self.tickets.get(ticket_id)
        if info is None:
            return RatingRefusal.UNKNOWN_TICKET
        if counter is not None and info.counter != counter:
            return RatingRefusal.NOT_THIS_COUNTER
        if info.rating_taken:
            return RatingRefusal.ALREADY_RATED
        if info.stage != Stage.DONE or info.counter is None:
            return RatingRefusal.NOT_FINISHED
        if info.finished_at is None or now - info.finished_at > self.window_s:
            return RatingRefusal.TOO_LATE
        return None

    def rating_sent(self, ticket_id: str, level: int) -> None:
        self.tickets[ticket_id].pending = level
        self.changed()

    def rating_failed(self, ticket_id: str) -> None:
        """The rating could not be kept: it may be given again."""
        info = self.tickets.get(ticket_id)
        if info is not None:
            info.pending = None
        self.changed()

    # -- what goes out ---------------------------------------------------------------
    @property
    def online(self) -> bool:
        return self.link_up and self.caller_online

    def ahead(self, ticket_id: str) -> int:
        """Tickets of the same service before this one (priority first, then by issue)."""
        if self._ahead is None:
            queues: dict[str, list[TicketInfo]] = {}
            for info in self.tickets.values():
                if info.stage == Stage.WAITING:
                    queues.setdefault(info.service, []).append(info)
            self._ahead = {}
            for waiting in queues.values():
                waiting.sort(key=TicketInfo.key)
                self._ahead.update((info.id, n) for n, info in enumerate(waiting))
        return self._ahead.get(ticket_id, 0)

    def phone_view(self, ticket_id: str, now: float) -> dict[str, Any] | None:
        """What the citizen's page shows (never a name); None for an unknown ticket."""
        info = self.tickets.get(ticket_id)
        if info is None:
            return None
        view: dict[str, Any] = {"stage": info.stage.value, "number": info.number,
                                "service": info.service, "online": self.online}
        if info.stage == Stage.WAITING:
            ahead = self.ahead(ticket_id)
            view["ahead"] = ahead
            view["wait_min"] = self._wait_minutes(info.service, ahead)
        elif info.stage in (Stage.CALLED, Stage.DONE):
            view["counter"] = info.counter
        if info.stage == Stage.DONE:
            view["rated"] = info.rating_taken
            view["can_rate"] = self.check_rating(ticket_id, 1, None, now) is None
        return view

    def _wait_minutes(self, service: str, ahead: int) -> int | None:
        if self.board is None or service not in self.board.wait_estimate_s:
            return None
        # The board's estimate is for a ticket taken now, behind everyone waiting.
        per_ticket = self.board.wait_estimate_s[service] / max(1, self.board.waiting.get(service, 0))
        return round(ahead * per_ticket / 60)

    def tablet_view(self, counter: str, now: float) -> dict[str, Any]:
        """What a counter's tablet shows: the ticket to rate, if any, without the full name."""
        view: dict[str, Any] = {"online": self.online, "prompt": None, "rated": None}
        state = self.counters.get(counter)
        last = state.last if state is not None else None
        if last is not None:
            info = self.tickets.get(last.ticket)
            if info is not None and info.rating_taken:
                view["rated"] = last.ticket
            elif self.check_rating(last.ticket, 1, None, now, counter=counter) is None:
                view["prompt"] = {"ticket": last.ticket, "number": last.number,
                                  "service": last.service, "name": last.name}
        return view
