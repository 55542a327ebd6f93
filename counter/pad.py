"""The counter pad's rules, without I/O: presses to messages, the state to LEDs and a line of text.

An *action* is a :data:`motcua.protocol.PadAction`: a pad action (``next``, ``recall``,
``skip``, ``done``, ``pause``, ``resume``, ``transfer`` to the pad's ``transfer_to``),
``Transfer(SERVICE)`` or ``Rate(N)`` (a rating, N = 1 for the best level), read once from
the config's text by :func:`parse_action`. GPIO buttons, keys and MQTT buttons all produce actions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from motcua.protocol import (
    Action,
    CounterCommand,
    CounterState,
    CounterStatus,
    PadAction,
    Rate,
    Rating,
    Refusal,
    Transfer,
    new_id,
    parse_pad_action,
)

ACTION_LABELS = {
    Action.NEXT: "Gọi số tiếp theo",
    Action.RECALL: "Gọi lại",
    Action.SKIP: "Bỏ qua (vắng mặt)",
    Action.DONE: "Xong",
    Action.TRANSFER: "Chuyển",
    Action.PAUSE: "Tạm nghỉ",
    Action.RESUME: "Tiếp tục",
}
RATE_LABEL = "Đánh giá"


class LedMode(enum.StrEnum):
    """What the pad's LED does."""

    OFF = "off"
    ON = "on"
    SLOW_BLINK = "slow_blink"      # paused
    FAST_BLINK = "fast_blink"      # presses the caller has not confirmed yet

# LED modes: None is steady (on or off), a pair is (on seconds, off seconds) blinking.
LED_MODES: dict[LedMode, tuple[float, float] | None] = {
    LedMode.OFF: None,
    LedMode.ON: None,
    LedMode.SLOW_BLINK: (1.0, 1.0),
    LedMode.FAST_BLINK: (0.1, 0.1),
}
ACK_FLASH_S = 0.3


@dataclass(frozen=True)
class Press:
    """A button or key was pressed: put on the owner's inbox by the input adapters."""

    action: PadAction
    at: float          # time.monotonic() of the press
    source: str        # "gpio", "keyboard" or "mqtt"


def parse_action(text: str, *, levels: int, services: set[str] | frozenset[str] = frozenset()) -> PadAction:
    """Check an action written in the config; ValueError says what is wrong."""
    try:
        action = parse_pad_action(text)
    except ValueError:
        kind = text.partition(":")[0]
        if kind == "rate":
            action = Rate(0)        # not a number: the message below says what a rating is
        elif kind == Action.TRANSFER:
            action = Action.TRANSFER    # "transfer:" with no place: the message below says what one is
        else:
            raise
    if isinstance(action, Rate):
        if not 1 <= action.level <= levels:
            raise ValueError(f"{text!r}: a rating is rate:1 (the best) to rate:{levels}")
        return action
    if action == Action.TRANSFER or (isinstance(action, Transfer) and action.target not in services):
        raise ValueError(f"{text!r}: write transfer:SERVICE with a service some counter "
                             "serves, or transfer:counter:ID")
    return action


def as_action(action: PadAction | str) -> PadAction:
    """An action, from its config text where it is still text (keys, tests)."""
    return parse_pad_action(action) if type(action) is str else action   # type: ignore[return-value]


def resolve(action: Action, status: CounterStatus | None) -> Action:
    """One Pause/Resume button will do: pausing a paused counter resumes it."""
    return Action.RESUME if action == Action.PAUSE and status == CounterStatus.PAUSED else action


def message_for(action: PadAction | str, *, status: CounterStatus | None = None,
                transfer_to: str | None = None, pressed_at: str | None = None,
                caller_at: str | None = None, after_ms: int | None = None) -> CounterCommand | Rating:
    """The message one press sends, with a fresh id (kept through every resend of it) and
    the press time (docs/protocol.md, Command), so that the caller can refuse a stale one."""
    action = as_action(action)
    if isinstance(action, Rate):
        return Rating(id=new_id(), score=action.level)
    if isinstance(action, Transfer) or action == Action.TRANSFER:
        target = action.target if isinstance(action, Transfer) else transfer_to
        if not target:
            raise ValueError("transfer needs a target service")
        return CounterCommand(id=new_id(), action=Action.TRANSFER, target=target,
                              pressed_at=pressed_at, caller_at=caller_at, after_ms=after_ms)
    return CounterCommand(id=new_id(), action=resolve(action, status), pressed_at=pressed_at,
                          caller_at=caller_at, after_ms=after_ms)


class StateKeeper:
    """The counter's latest state: retained snapshots and newer seqs win; older ones are stale."""

    def __init__(self) -> None:
        self.state: CounterState | None = None

    def offer(self, state: CounterState, *, retained: bool) -> bool:
        """Keep ``state`` if it is news; a retained one is the broker's current snapshot."""
        if self.state is not None and not retained and state.seq < self.state.seq:
            return False
        changed = state != self.state
        self.state = state
        return changed

    @property
    def status(self) -> CounterStatus | None:
        return self.state.status if self.state else None


def pad_led(status: CounterStatus | None, *, pending: int, flash: bool) -> LedMode:
    """The pad LED: blinks fast while presses wait for the caller, flashes once on its confirmation,
    otherwise on while serving, slow blink while paused, off when idle or unknown."""
    if pending:
        return LedMode.FAST_BLINK
    steady = {CounterStatus.SERVING: LedMode.ON, CounterStatus.PAUSED: LedMode.SLOW_BLINK}.get(
        status or CounterStatus.IDLE, LedMode.OFF)
    if flash:
        return LedMode.OFF if steady == LedMode.ON else LedMode.ON
    return steady


LOST = "mất kết nối với máy gọi số"
REFUSING = "máy gọi số tạm ngừng nhận lệnh"      # alive, but its event log cannot be written
# While the pad cannot see the caller, this many unconfirmed presses are kept (the first
# ones); later presses are refused on the pad: on reconnect they would be a burst of calls.
KEPT_WHILE_LOST = 1

REFUSAL_TEXTS = {
    Refusal.STALE: "quá cũ, máy gọi số nhận được quá muộn",
    Refusal.REFUSED: "không thực hiện được",
    Refusal.EXPIRED: "thuộc ngày đã qua",
    Refusal.DUPLICATE_NUMBER: "trùng số",
}


def refused_line(label: str, code: Refusal) -> str:
    """What the pad shows when the caller refused one of its presses."""
    return f"✗ {label}: bị từ chối ({REFUSAL_TEXTS.get(code, code)})"


def state_line(counter_name: str, state: CounterState | None, service_names: dict[str, str], *,
               lost: bool = False, refusing: bool = False) -> str:
    """One line for a small screen or the terminal, in Vietnamese. ``lost``: the caller is not
    heard (no link, or no heartbeat); ``refusing``: it says it takes no work now. Either way
    the last state is shown as old, never as current."""
    if lost or refusing:
        trouble = LOST if lost else REFUSING
        last = state_line(counter_name, state, service_names).removeprefix(f"{counter_name}: ")
        return f"{counter_name}: {trouble} (lần cuối: {last})" if state else f"{counter_name}: {trouble}"
    if state is None:
        return f"{counter_name}: chưa có trạng thái từ máy gọi số"
    waiting = f" · đang chờ: {state.waiting}"
    if state.status == CounterStatus.PAUSED:
        return f"{counter_name}: tạm nghỉ{waiting}"
    if state.status == CounterStatus.SERVING and state.number:
        service = service_names.get(state.service or "", state.service or "")
        parts = [f"đang phục vụ số {state.number}"]
        if service:
            parts.append(f"({service})")
        if state.name:
            parts.append(f"– {state.name}")
        return f"{counter_name}: {' '.join(parts)}{waiting}"
    return f"{counter_name}: sẵn sàng{waiting}"


def describe(action: PadAction | str, levels: tuple[str, ...]) -> str:
    """What a press does, for the log and the terminal."""
    action = as_action(action)
    if isinstance(action, Rate):
        return f"{RATE_LABEL}: {levels[action.level - 1]}"
    if isinstance(action, Transfer):
        where = action.target.removeprefix("counter:")
        return f"{ACTION_LABELS[Action.TRANSFER]} → {'quầy ' + where if where != action.target else where}"
    return ACTION_LABELS[action]


def key_map(pad_keys: dict[Action, str], rating_keys: tuple[str, ...]) -> dict[str, PadAction]:
    """Keyboard character -> action, from ``[[counters]].keys`` and ``[counter_pad.rating].keys``."""
    keys: dict[str, PadAction] = {key: Action(action) for action, key in pad_keys.items()}
    keys.update({key: Rate(n) for n, key in enumerate(rating_keys, start=1)})
    return keys
