"""The counter pad's rules, without I/O: presses to messages, the state to LEDs and a line of text.

An *action* is a string: a pad action (``next``, ``recall``, ``skip``, ``done``,
``pause``, ``resume``), ``transfer:SERVICE`` or ``rate:N`` (a rating, N = 1 for
the best level). GPIO buttons, keys and MQTT buttons all produce actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from motcua.protocol import ACTIONS, CounterCommand, CounterState, Rating, new_id

PAD_ACTIONS = ACTIONS

ACTION_LABELS = {
    "next": "Gọi số tiếp theo",
    "recall": "Gọi lại",
    "skip": "Bỏ qua (vắng mặt)",
    "done": "Xong",
    "transfer": "Chuyển",
    "pause": "Tạm nghỉ",
    "resume": "Tiếp tục",
    "rate": "Đánh giá",
}

# LED modes: None is steady (on or off), a pair is (on seconds, off seconds) blinking.
LED_MODES: dict[str, tuple[float, float] | None] = {
    "off": None,
    "on": None,
    "slow_blink": (1.0, 1.0),      # paused
    "fast_blink": (0.1, 0.1),      # presses the caller has not confirmed yet
}
ACK_FLASH_S = 0.3


@dataclass(frozen=True)
class Press:
    """A button or key was pressed: put on the owner's inbox by the input adapters."""

    action: str
    at: float          # time.monotonic() of the press
    source: str        # "gpio", "keyboard" or "mqtt"


def parse_action(text: str, *, levels: int, services: set[str] | frozenset[str] = frozenset()) -> str:
    """Check an action written in the config; ValueError says what is wrong."""
    kind, _, argument = text.partition(":")
    if kind == "rate":
        if not argument.isdigit() or not 1 <= int(argument) <= levels:
            raise ValueError(f"{text!r}: a rating is rate:1 (the best) to rate:{levels}")
        return f"rate:{int(argument)}"
    if kind == "transfer":
        if argument not in services:
            raise ValueError(f"{text!r}: write transfer:SERVICE with a service some counter "
                             "serves, or transfer:counter:ID")
        return text
    if kind not in PAD_ACTIONS or argument:
        raise ValueError(f"{text!r} is not one of {', '.join(PAD_ACTIONS)}, transfer:SERVICE, rate:N")
    return kind


def resolve(action: str, status: str | None) -> str:
    """One Pause/Resume button will do: pausing a paused counter resumes it."""
    return "resume" if action == "pause" and status == "paused" else action


def message_for(action: str, *, status: str | None = None, transfer_to: str | None = None,
                pressed_at: str | None = None, caller_at: str | None = None,
                after_ms: int | None = None) -> CounterCommand | Rating:
    """The message one press sends, with a fresh id (kept through every resend of it) and
    the press time (docs/protocol.md, Command), so that the caller can refuse a stale one."""
    kind, _, argument = action.partition(":")
    if kind == "rate":
        return Rating(id=new_id(), score=int(argument))
    if kind == "transfer":
        target = argument or transfer_to
        if not target:
            raise ValueError("transfer needs a target service")
        return CounterCommand(id=new_id(), action="transfer", target=target, pressed_at=pressed_at,
                              caller_at=caller_at, after_ms=after_ms)
    return CounterCommand(id=new_id(), action=resolve(kind, status), pressed_at=pressed_at,
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
    def status(self) -> str | None:
        return self.state.status if self.state else None


def pad_led(status: str | None, *, pending: int, flash: bool) -> str:
    """The pad LED: blinks fast while presses wait for the caller, flashes once on its confirmation,
    otherwise on while serving, slow blink while paused, off when idle or unknown."""
    if pending:
        return "fast_blink"
    steady = {"serving": "on", "paused": "slow_blink"}.get(status or "", "off")
    if flash:
        return "off" if steady == "on" else "on"
    return steady


LOST = "mất kết nối với máy gọi số"
REFUSING = "máy gọi số tạm ngừng nhận lệnh"      # alive, but its event log cannot be written
# While the pad cannot see the caller, this many unconfirmed presses are kept (the first
# ones); later presses are refused on the pad: on reconnect they would be a burst of calls.
KEPT_WHILE_LOST = 1

REFUSAL_TEXTS = {
    "stale": "quá cũ, máy gọi số nhận được quá muộn",
    "refused": "không thực hiện được",
    "expired": "thuộc ngày đã qua",
    "duplicate_number": "trùng số",
}


def refused_line(label: str, code: str) -> str:
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
    if state.status == "paused":
        return f"{counter_name}: tạm nghỉ{waiting}"
    if state.status == "serving" and state.number:
        service = service_names.get(state.service or "", state.service or "")
        parts = [f"đang phục vụ số {state.number}"]
        if service:
            parts.append(f"({service})")
        if state.name:
            parts.append(f"– {state.name}")
        return f"{counter_name}: {' '.join(parts)}{waiting}"
    return f"{counter_name}: sẵn sàng{waiting}"


def describe(action: str, levels: tuple[str, ...]) -> str:
    """What a press does, for the log and the terminal."""
    kind, _, argument = action.partition(":")
    if kind == "rate":
        return f"{ACTION_LABELS['rate']}: {levels[int(argument) - 1]}"
    if kind == "transfer" and argument:
        where = argument.removeprefix("counter:")
        return f"{ACTION_LABELS['transfer']} → {'quầy ' + where if where != argument else argument}"
    return ACTION_LABELS.get(kind, action)


def key_map(pad_keys: dict[str, str], rating_keys: tuple[str, ...]) -> dict[str, str]:
    """Keyboard character -> action, from ``[[counters]].keys`` and ``[counter_pad.rating].keys``."""
    keys = {key: action for action, key in pad_keys.items()}
    keys.update({key: f"rate:{n}" for n, key in enumerate(rating_keys, start=1)})
    return keys
