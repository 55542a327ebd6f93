"""The contract between the Pis: topics and JSON payloads (see docs/protocol.md).

Every payload is a JSON object in UTF-8 with ``"v": 1``. Decoders raise
:class:`ProtocolError` for anything off-contract; daemons log and drop such
messages. Messages that change state carry a unique ``id`` so a redelivered
copy is recognised and ignored.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from .errors import ProtocolError

VERSION = 1
MAX_PAYLOAD = 64 * 1024
_CONTROL = re.compile("[\x00-\x1f]")      # one search, not a loop over the characters


class Action(enum.StrEnum):
    """What a counter's press asks of the caller (``action`` of a Command)."""

    NEXT = "next"
    RECALL = "recall"
    SKIP = "skip"
    DONE = "done"
    TRANSFER = "transfer"
    PAUSE = "pause"
    RESUME = "resume"


ACTIONS = tuple(Action)


@dataclass(frozen=True)
class Transfer:
    """A button that transfers to one place: ``transfer:SERVICE`` or ``transfer:counter:ID``."""

    target: str

    def __str__(self) -> str:
        return f"transfer:{self.target}"


@dataclass(frozen=True)
class Rate:
    """A rating button: ``rate:N``, N = 1 for the best level."""

    level: int

    def __str__(self) -> str:
        return f"rate:{self.level}"


# What one button of a pad or one wireless button does; written in the config as ``next``,
# ``transfer`` (to the pad's transfer_to), ``transfer:SERVICE`` or ``rate:N``.
PadAction = Action | Transfer | Rate


def parse_pad_action(text: str) -> PadAction:
    """The one reading of a button's action text; ValueError says what is wrong (the
    config's own checks, such as the rating levels, are the caller's)."""
    kind, colon, argument = text.partition(":")
    if colon and not argument:
        raise ValueError(f"{text!r}: nothing after the colon")
    if kind == "rate":
        if not argument.isdigit():
            raise ValueError(f"{text!r}: a rating is rate:N")
        return Rate(int(argument))
    if kind == Action.TRANSFER and argument:
        return Transfer(argument)
    if kind not in ACTIONS or argument:
        raise ValueError(f"{text!r} is not one of {', '.join(ACTIONS)}, transfer:SERVICE, rate:N")
    return Action(kind)


class Topics:
    """Topic names of one site: everything lives under ``motcua/<site>/``."""

    def __init__(self, site_id: str) -> None:
        self.root = f"motcua/{site_id}"
        self.ticket = f"{self.root}/ticket"              # before issue 18; no account may write it
        self.ticket_all = f"{self.root}/ticket/+"
        self.board = f"{self.root}/board"
        self.called = f"{self.root}/called"
        self.counter_cmd_all = f"{self.root}/counter/+/cmd"
        self.counter_rating_all = f"{self.root}/counter/+/rating"
        self.status_all = f"{self.root}/status/#"
        self.heartbeat = f"{self.root}/heartbeat"
        self.received = f"{self.root}/received"

    def ticket_from(self, kiosk_id: str) -> str:
        """A kiosk's own ticket topic: the broker lets only that kiosk's account write it."""
        return f"{self.root}/ticket/{kiosk_id}"

    def kiosk_of(self, topic: str) -> str | None:
        """The sending kiosk of a ticket topic (None for the old shared ``ticket`` topic)."""
        prefix = f"{self.ticket}/"
        return topic[len(prefix):] if topic.startswith(prefix) and "/" not in topic[len(prefix):] else None

    def counter_cmd(self, counter_id: str) -> str:
        return f"{self.root}/counter/{counter_id}/cmd"

    def counter_state(self, counter_id: str) -> str:
        return f"{self.root}/counter/{counter_id}/state"

    def counter_rating(self, counter_id: str) -> str:
        return f"{self.root}/counter/{counter_id}/rating"

    def status(self, role: str, device: str) -> str:
        return f"{self.root}/status/{role}/{device}"

    def kiosk_issued(self, kiosk_id: str) -> str:
        return f"{self.root}/kiosk/{kiosk_id}/issued"

    def counter_of(self, topic: str) -> str:
        """The counter id in ``.../counter/<id>/...``; ProtocolError otherwise."""
        parts = topic.split("/")
        base = self.root.split("/")
        if len(parts) != len(base) + 3 or parts[: len(base)] != base or parts[len(base)] != "counter":
            raise ProtocolError(f"not a counter topic: {topic!r}")
        return parts[len(base) + 1]


def new_id() -> str:
    return uuid.uuid4().hex


def encode(message: Any) -> bytes:
    """Serialise a message dataclass (or a plain dict) to the wire form."""
    body = {"v": VERSION, **(_shallow(message) if hasattr(message, "__dataclass_fields__")
                             else dict(message))}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                      default=_shallow).encode("utf-8")


def _shallow(value: Any) -> dict[str, Any]:
    # json calls this for nested dataclasses; unlike dataclasses.asdict it copies nothing
    # (asdict deep-copies every field: a third of the caller's time per Next went there).
    if not hasattr(value, "__dataclass_fields__"):
        raise TypeError(f"{type(value).__name__} is not a message")
    kind: type = type(value)
    return {name: getattr(value, name) for name in _field_names(kind)}


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def decode_object(payload: bytes) -> dict[str, Any]:
    """Parse a payload into a JSON object of this protocol version."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("payload is not a JSON object")
    if body.get("v") != VERSION:
        raise ProtocolError(f"unsupported version {body.get('v')!r}")
    return body


class _Fields:
    """Typed access to a decoded object; every failure is a ProtocolError."""

    def __init__(self, body: dict[str, Any], what: str) -> None:
        self.body = body
        self.what = what

    def get(self, name: str, kind: type | tuple[type, ...], *, optional: bool = False,
            default: Any = None) -> Any:
        if name not in self.body or self.body[name] is None:
            if optional:
                return default
            raise ProtocolError(f"{self.what}: '{name}' is missing")
        value = self.body[name]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise ProtocolError(f"{self.what}: '{name}' must be a number")
        if not isinstance(value, kind):
            raise ProtocolError(f"{self.what}: '{name}' has the wrong type")
        return value

    def text(self, name: str, *, optional: bool = False, max_len: int = 200) -> Any:
        value = self.get(name, str, optional=optional)
        if value is None:
            return None
        if not value or len(value) > max_len or _CONTROL.search(value):
            raise ProtocolError(f"{self.what}: '{name}' is empty, too long or has control characters")
        return value

    def day(self, name: str) -> str:
        """A service day, exactly YYYY-MM-DD (days compare as text, so the form matters)."""
        value: str = self.text(name, max_len=40)
        try:
            valid = date.fromisoformat(value).isoformat() == value
        except ValueError:
            valid = False
        if not valid:
            raise ProtocolError(f"{self.what}: '{name}' is not a day (YYYY-MM-DD)")
        return value

    def timestamp(self, name: str, *, optional: bool = False) -> Any:
        value = self.text(name, max_len=40, optional=optional)
        if value is None:
            return None
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise ProtocolError(f"{self.what}: '{name}' is not an ISO 8601 time") from None
        if stamp.tzinfo is None:
            raise ProtocolError(f"{self.what}: '{name}' has no UTC offset")
        return value


@dataclass(frozen=True)
class Ticket:
    """kiosk -> caller, QoS 1: a ticket that was printed."""

    id: str
    service: str
    number: str          # the printed label, e.g. "1012" or "A001"
    seq: int             # the number within the service's range, for ordering
    day: str             # service day, YYYY-MM-DD in the site's time zone
    issued_at: str       # ISO 8601 with offset
    kiosk: str
    priority: bool = False
    name: str | None = None   # citizen's full name when a CCCD was scanned
    doubt: bool = False       # the kiosk stopped while printing it: it may not be on paper

    @classmethod
    def decode(cls, payload: bytes) -> Ticket:
        f = _Fields(decode_object(payload), "ticket")
        return cls(
            id=f.text("id", max_len=64),
            service=f.text("service", max_len=32),
            number=f.text("number", max_len=16),
            seq=f.get("seq", int),
            day=f.day("day"),
            issued_at=f.timestamp("issued_at"),
            kiosk=f.text("kiosk", max_len=32),
            priority=f.get("priority", bool, optional=True, default=False),
            name=f.text("name", optional=True, max_len=100),
            doubt=f.get("doubt", bool, optional=True, default=False),
        )


@dataclass(frozen=True)
class Issued:
    """kiosk -> itself, retained: what it has issued on a day, so that a kiosk whose database
    was lost or damaged never issues a number of that day again."""

    kiosk: str
    day: str
    last: dict[str, int] = field(default_factory=dict)    # service id -> seq of the latest number
    count: dict[str, int] = field(default_factory=dict)   # service id -> numbers issued that day

    @classmethod
    def decode(cls, payload: bytes) -> Issued:
        f = _Fields(decode_object(payload), "issued")
        return cls(kiosk=f.text("kiosk", max_len=32), day=f.day("day"),
                   last=_count_map(f.get("last", dict), "last", "issued"),
                   count=_count_map(f.get("count", dict), "count", "issued"))


@dataclass(frozen=True)
class CounterCommand:
    """counter -> caller, QoS 1, on ``counter/<id>/cmd``.

    The press time is told twice, so that the caller can age a press whatever the pad's
    clock says: ``caller_at`` is the ``at`` of the last caller heartbeat the pad had heard
    and ``after_ms`` how long after hearing it (the pad's monotonic clock) the button was
    pressed; ``pressed_at`` is the pad's own wall clock, used only without a heartbeat.
    """

    id: str
    action: Action
    target: str | None = None   # transfer: a service id or "counter:<id>"; recall: a ticket number
    pressed_at: str | None = None
    caller_at: str | None = None
    after_ms: int | None = None

    def press_time(self) -> datetime | None:
        """When the button was pressed, on the caller's clock where the pad could tell."""
        if self.caller_at is not None:
            return datetime.fromisoformat(self.caller_at) + timedelta(milliseconds=self.after_ms or 0)
        if self.pressed_at is not None:
            return datetime.fromisoformat(self.pressed_at)
        return None

    @classmethod
    def decode(cls, payload: bytes) -> CounterCommand:
        """Accepts the JSON form and a bare word such as ``next`` (simple buttons).

        A bare word has no id of its own, so it gets a fresh one: such presses are
        at-least-once, not deduplicated (docs/protocol.md).
        """
        word = payload.strip().decode("utf-8", "replace").lower()
        if word in ACTIONS and word != Action.TRANSFER:
            return cls(id=new_id(), action=Action(word))
        f = _Fields(decode_object(payload), "command")
        text = f.text("action", max_len=16)
        if text not in ACTIONS:
            raise ProtocolError(f"command: unknown action {text!r}")
        action = Action(text)
        target = f.text("target", optional=True, max_len=32)
        if action == Action.TRANSFER and target is None:
            raise ProtocolError("command: transfer needs a target")
        after_ms = f.get("after_ms", int, optional=True)
        if after_ms is not None and not 0 <= after_ms <= 10 ** 10:
            raise ProtocolError("command: 'after_ms' is out of range")
        return cls(id=f.text("id", max_len=64), action=action, target=target,
                   pressed_at=f.timestamp("pressed_at", optional=True),
                   caller_at=f.timestamp("caller_at", optional=True), after_ms=after_ms)


@dataclass(frozen=True)
class Rating:
    """rating device -> caller, QoS 1, on ``counter/<id>/rating``."""

    id: str
    score: int
    ticket: str | None = None   # the ticket rated (web pages); without it: the counter's last
    reason: str | None = None   # why, on the lowest levels (one of [web].reasons)

    @classmethod
    def decode(cls, payload: bytes) -> Rating:
        f = _Fields(decode_object(payload), "rating")
        score = f.get("score", int)
        if not 1 <= score <= 10:
            raise ProtocolError(f"rating: score {score} is out of range")
        return cls(id=f.text("id", max_len=64), score=score,
                   ticket=f.text("ticket", optional=True, max_len=64),
                   reason=f.text("reason", optional=True, max_len=100))


@dataclass(frozen=True)
class LastTicket:
    """In a CounterState: the ticket the counter finished last, which a rating is for."""

    ticket: str
    number: str
    service: str
    name: str | None = None     # masked
    rated: bool = False

    @classmethod
    def decode_field(cls, body: Any) -> LastTicket:
        if not isinstance(body, dict):
            raise ProtocolError("counter state: 'last' is not an object")
        f = _Fields(body, "counter state last")
        return cls(ticket=f.text("ticket", max_len=64), number=f.text("number", max_len=16),
                   service=f.text("service", max_len=32),
                   name=f.text("name", optional=True, max_len=100),
                   rated=f.get("rated", bool, optional=True, default=False))


class CounterStatus(enum.StrEnum):
    """A counter's state, as the caller tells it (CounterState and the board)."""

    IDLE = "idle"
    SERVING = "serving"
    PAUSED = "paused"


@dataclass(frozen=True)
class CounterState:
    """caller -> counter, retained, on ``counter/<id>/state``."""

    counter: str
    status: CounterStatus
    number: str | None = None   # ticket being served
    service: str | None = None
    name: str | None = None     # masked name, e.g. "Nguyễn V. A."
    waiting: int = 0            # tickets waiting for this counter's services
    seq: int = 0
    ticket: str | None = None   # id of the ticket being served
    last: LastTicket | None = None

    @classmethod
    def decode(cls, payload: bytes) -> CounterState:
        f = _Fields(decode_object(payload), "counter state")
        last = f.body.get("last")
        status = f.text("status", max_len=16)
        if status not in CounterStatus.__members__.values():
            raise ProtocolError(f"counter state: unknown status {status!r}")
        return cls(
            counter=f.text("counter", max_len=32),
            status=CounterStatus(status),
            number=f.text("number", optional=True, max_len=16),
            service=f.text("service", optional=True, max_len=32),
            name=f.text("name", optional=True, max_len=100),
            waiting=f.get("waiting", int, optional=True, default=0),
            seq=f.get("seq", int, optional=True, default=0),
            ticket=f.text("ticket", optional=True, max_len=64),
            last=None if last is None else LastTicket.decode_field(last),
        )


@dataclass(frozen=True)
class BoardCall:
    counter: str
    number: str
    service: str
    at: str                      # ISO 8601 with offset
    name: str | None = None      # masked
    recall: bool = False


@dataclass(frozen=True)
class BoardCounter:
    counter: str
    status: str
    number: str | None = None
    name: str | None = None      # masked


@dataclass(frozen=True)
class Board:
    """caller -> boards and kiosks, retained: the whole board in one message."""

    seq: int
    updated_at: str
    day: str
    calls: list[BoardCall] = field(default_factory=list)        # newest first
    counters: list[BoardCounter] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)       # service id -> count
    wait_estimate_s: dict[str, int] = field(default_factory=dict)  # service id -> seconds
    # service id -> tickets a normal / a priority ticket taken now would find ahead of it
    ahead_normal: dict[str, int] = field(default_factory=dict)
    ahead_priority: dict[str, int] = field(default_factory=dict)

    @classmethod
    def decode(cls, payload: bytes) -> Board:
        f = _Fields(decode_object(payload), "board")
        calls = []
        for item in f.get("calls", list, optional=True, default=[]):
            if not isinstance(item, dict):
                raise ProtocolError("board: a call is not an object")
            c = _Fields(item, "board call")
            calls.append(BoardCall(
                counter=c.text("counter", max_len=32), number=c.text("number", max_len=16),
                service=c.text("service", max_len=32), at=c.timestamp("at"),
                name=c.text("name", optional=True, max_len=100),
                recall=c.get("recall", bool, optional=True, default=False)))
        counters = []
        for item in f.get("counters", list, optional=True, default=[]):
            if not isinstance(item, dict):
                raise ProtocolError("board: a counter is not an object")
            c = _Fields(item, "board counter")
            counters.append(BoardCounter(
                counter=c.text("counter", max_len=32), status=c.text("status", max_len=16),
                number=c.text("number", optional=True, max_len=16),
                name=c.text("name", optional=True, max_len=100)))
        return cls(
            seq=f.get("seq", int),
            updated_at=f.timestamp("updated_at"),
            day=f.day("day"),
            calls=calls,
            counters=counters,
            waiting=_count_map(f.get("waiting", dict, optional=True, default={}), "waiting"),
            wait_estimate_s=_count_map(
                f.get("wait_estimate_s", dict, optional=True, default={}), "wait_estimate_s"),
            ahead_normal=_count_map(
                f.get("ahead_normal", dict, optional=True, default={}), "ahead_normal"),
            ahead_priority=_count_map(
                f.get("ahead_priority", dict, optional=True, default={}), "ahead_priority"),
        )


def _count_map(value: dict[str, Any], what: str, message: str = "board") -> dict[str, int]:
    for key, count in value.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ProtocolError(f"{message}: {what}[{key!r}] is not a count")
    return dict(value)


@dataclass(frozen=True)
class Called:
    """caller -> anyone, QoS 1, not retained: one call with its spoken sentence."""

    id: str
    counter: str
    number: str
    service: str
    sentence: str
    at: str
    recall: bool = False

    @classmethod
    def decode(cls, payload: bytes) -> Called:
        f = _Fields(decode_object(payload), "called")
        return cls(id=f.text("id", max_len=64), counter=f.text("counter", max_len=32),
                   number=f.text("number", max_len=16), service=f.text("service", max_len=32),
                   sentence=f.text("sentence", max_len=400), at=f.timestamp("at"),
                   recall=f.get("recall", bool, optional=True, default=False))


class Presence(enum.StrEnum):
    """A daemon's ``state`` in its Status."""

    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Status:
    """every daemon -> anyone, retained, with a Last Will saying offline."""

    role: str
    device: str
    state: str                  # a Presence (the link still writes it as text)
    at: str | None = None
    health: dict[str, Any] = field(default_factory=dict)
    instance: str | None = None     # this run of the daemon (a second device with one identity)
    started: str | None = None      # when this run started (the newer of two stops)
    duplicate: str | None = None    # why a second device with this identity was stopped

    @classmethod
    def decode(cls, payload: bytes) -> Status:
        f = _Fields(decode_object(payload), "status")
        state = f.text("state", max_len=16)
        if state not in Presence.__members__.values():
            raise ProtocolError(f"status: unknown state {state!r}")
        return cls(role=f.text("role", max_len=16), device=f.text("device", max_len=32),
                   state=Presence(state), at=f.get("at", str, optional=True),
                   health=f.get("health", dict, optional=True, default={}),
                   instance=f.text("instance", optional=True, max_len=64),
                   started=f.timestamp("started") if f.body.get("started") is not None else None,
                   duplicate=f.text("duplicate", optional=True, max_len=300))


@dataclass(frozen=True)
class Heartbeat:
    """caller -> anyone, QoS 0, not retained, every second from the caller's owner loop.

    A receiver that hears none for a few seconds knows the caller is gone or frozen (its
    retained status may still say online). ``accepting`` is false while the caller refuses
    new work (its event log cannot be written), with the reason in ``reason``.
    """

    at: str                      # the caller's clock, ISO 8601 with offset
    seq: int
    day: str | None = None
    accepting: bool = True
    reason: str | None = None

    @classmethod
    def decode(cls, payload: bytes) -> Heartbeat:
        f = _Fields(decode_object(payload), "heartbeat")
        day = f.day("day") if f.body.get("day") is not None else None
        return cls(at=f.timestamp("at"), seq=f.get("seq", int), day=day,
                   accepting=f.get("accepting", bool, optional=True, default=True),
                   reason=f.text("reason", optional=True, max_len=200))


class Refusal(enum.StrEnum):
    """Why the caller changed nothing for a message it lists as refused in Received."""

    STALE = "stale"                          # a press older than caller.max_press_age_s
    REFUSED = "refused"                      # it did not apply, or its id does not decode
    EXPIRED = "expired"                      # a ticket of a day that has passed
    DUPLICATE_NUMBER = "duplicate_number"    # a second ticket with a number already queued
    FORGED = "forged"                        # no kiosk could have printed this ticket


REFUSALS = tuple(Refusal)


@dataclass(frozen=True)
class Received:
    """caller -> senders, QoS 1, not retained: these message ids are in the caller's event log
    (on disk). A sender keeps a ticket, press or rating until its id is listed here, and sends
    it again while the caller is alive and has not listed it. ``refused`` maps an id to why it
    changed nothing (one of REFUSALS), so that a pad can show a refused press."""

    ids: list[str]
    refused: dict[str, Refusal] = field(default_factory=dict)

    @classmethod
    def decode(cls, payload: bytes) -> Received:
        f = _Fields(decode_object(payload), "received")
        ids = f.get("ids", list)
        if not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids):
            raise ProtocolError("received: 'ids' must be message ids")
        refused = f.get("refused", dict, optional=True, default={})
        if not all(code in REFUSALS for code in refused.values()):
            raise ProtocolError("received: unknown refusal")
        return cls(ids=list(ids), refused={key: Refusal(code) for key, code in refused.items()})


def message_id(payload: bytes) -> str | None:
    """The ``id`` of a payload this protocol sends (None for bare words or garbage)."""
    try:
        value = decode_object(payload).get("id")
    except ProtocolError:
        return None
    return value if isinstance(value, str) else None


# -- A hub's history, for the centre of a district or province (docs/central.md) ----------

class HistoryKind(enum.StrEnum):
    """What a history event carries: the caller's event log's kinds."""

    TICKET = "ticket"       # a printed ticket arrived (issued)
    COMMAND = "command"     # a counter's press: next (called), recall, skip, transfer, done, ...
    RATING = "rating"       # a citizen's rating
    DAY = "day"             # a service day began (the open tickets it carried over)


class HistoryTopics:
    """``motcua/<site>/history/...``: what the bridge carries between a hub and the centre."""

    def __init__(self, site_id: str) -> None:
        root = f"motcua/{site_id}/history"
        self.event = f"{root}/event"        # hub -> centre
        self.head = f"{root}/head"          # hub -> centre, retained
        self.request = f"{root}/request"    # centre -> hub
        self.ack = f"{root}/ack"            # centre -> hub, retained

    @staticmethod
    def site_of(topic: str) -> str:
        """The site in ``motcua/<site>/...``; ProtocolError otherwise."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != "motcua" or not parts[1]:
            raise ProtocolError(f"not a motcua topic: {topic!r}")
        return parts[1]


_HISTORY_KINDS = {kind.value: kind for kind in HistoryKind}
LOG_ID_LEN = 16           # hex digits of a log's identity (64 bits)
LOG_ID_MAX = 64


def _aware(stamp: str) -> bool:
    """An ISO 8601 time with its UTC offset (as _Fields.timestamp wants)."""
    try:
        return datetime.fromisoformat(stamp).tzinfo is not None
    except ValueError:
        return False


@dataclass(frozen=True)
class HistoryEvent:
    """hub -> centre, QoS 1, on ``history/event``: one row of the caller's event log.

    ``seq`` is the row's number in the hub's log (increasing, never reused); ``prev`` the
    number of the row before it (0 for the first), so the centre sees a gap even where the
    log skipped numbers. ``id`` is the logged message's own id, unique per site, log and kind.
    ``log`` is the identity of the hub's log (``log_identity``): a replaced log numbers its
    rows from 1 again under a new identity; "" from a hub older than log identities.
    """

    site: str
    seq: int
    prev: int
    id: str
    kind: HistoryKind
    at: str
    body: dict[str, Any]
    counter: str | None = None
    log: str = ""

    @classmethod
    def decode(cls, payload: bytes) -> HistoryEvent:
        raw = decode_object(payload)
        # The centre decodes thousands a second: the usual well-formed event is checked here
        # in a few comparisons; anything else takes the field-by-field path for its error.
        site, seq, prev, id_, kind, at, body, counter, log = (
            raw.get("site"), raw.get("seq"), raw.get("prev"), raw.get("id"), raw.get("kind"),
            raw.get("at"), raw.get("body"), raw.get("counter"), raw.get("log", ""))
        if (type(seq) is int and type(prev) is int and 0 <= prev < seq
                and type(site) is str and 0 < len(site) <= 32
                and type(id_) is str and 0 < len(id_) <= 64 and kind in _HISTORY_KINDS
                and type(at) is str and 0 < len(at) <= 40 and type(body) is dict
                and (counter is None or (type(counter) is str and 0 < len(counter) <= 32))
                and type(log) is str and len(log) <= LOG_ID_MAX
                and not _CONTROL.search(f"{site}{id_}{at}{counter or ''}{log}")
                and _aware(at)):
            return cls(site=site, seq=seq, prev=prev, id=id_, kind=_HISTORY_KINDS[kind], at=at,
                       body=body, counter=counter, log=log)
        return cls._checked(raw)

    @classmethod
    def _checked(cls, raw: dict[str, Any]) -> HistoryEvent:
        f = _Fields(raw, "history event")
        seq, prev = f.get("seq", int), f.get("prev", int)
        if not 0 <= prev < seq:
            raise ProtocolError(f"history event: prev {prev} is not below seq {seq}")
        kind = f.text("kind", max_len=16)
        if kind not in HistoryKind.__members__.values():
            raise ProtocolError(f"history event: unknown kind {kind!r}")
        return cls(site=f.text("site", max_len=32), seq=seq, prev=prev, id=f.text("id", max_len=64),
                   kind=HistoryKind(kind), at=f.timestamp("at"), body=f.get("body", dict),
                   counter=f.text("counter", optional=True, max_len=32), log=_log_of(f))


@dataclass(frozen=True)
class HistoryHead:
    """hub -> centre, retained, on ``history/head``: the newest row of the hub's log, and
    which log that is (the hub's current one: a centre stops asking for rows of another)."""

    site: str
    last: int
    log: str = ""

    @classmethod
    def decode(cls, payload: bytes) -> HistoryHead:
        f = _Fields(decode_object(payload), "history head")
        last = f.get("last", int)
        if last < 0:
            raise ProtocolError("history head: last is negative")
        return cls(site=f.text("site", max_len=32), last=last, log=_log_of(f))


@dataclass(frozen=True)
class HistoryRequest:
    """centre -> hub, QoS 1, on ``history/request``: send the rows ``first``..``last`` of the
    log ``log`` again (a hub whose log is another one has not got them)."""

    id: str
    first: int
    last: int
    log: str = ""

    @classmethod
    def decode(cls, payload: bytes) -> HistoryRequest:
        f = _Fields(decode_object(payload), "history request")
        first, last = f.get("first", int), f.get("last", int)
        if not 0 < first <= last:
            raise ProtocolError(f"history request: bad range {first}..{last}")
        return cls(id=f.text("id", max_len=64), first=first, last=last, log=_log_of(f))


@dataclass(frozen=True)
class HistoryAck:
    """centre -> hub, retained, on ``history/ack``: every row up to ``upto`` of the log ``log``
    is in the centre."""

    upto: int
    log: str = ""

    @classmethod
    def decode(cls, payload: bytes) -> HistoryAck:
        f = _Fields(decode_object(payload), "history ack")
        upto = f.get("upto", int)
        if upto < 0:
            raise ProtocolError("history ack: upto is negative")
        return cls(upto=upto, log=_log_of(f))


def log_identity(seq: int, kind: str, msg_id: str, at: str) -> str:
    """A hub's event log's identity, from the log's first row: a log keeps it for ever (rows
    are never deleted), a new log (the file replaced or set aside) has another. Made from the
    log itself, so the caller writes nothing for it and an existing log has it already."""
    import hashlib

    first = "\x1f".join((str(seq), kind, msg_id, at)).encode("utf-8")
    return hashlib.sha256(first).hexdigest()[:LOG_ID_LEN]


def _log_of(f: _Fields) -> str:
    """The optional ``log`` field: "" (absent) from a hub or centre before log identities."""
    value: str = f.get("log", str, optional=True, default="")
    if len(value) > LOG_ID_MAX or _CONTROL.search(value):
        raise ProtocolError(f"{f.what}: 'log' is too long or has control characters")
    return value
