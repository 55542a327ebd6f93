"""The office head's live view, from the web role's :class:`~motcua.web.state.Office` (pure).

The board as citizens see it, each counter (status, ticket, since when, served today), the
waiting per service with the estimate, every daemon's retained status with its time, and
the alerts a person must act on now: a kiosk printer out of paper (or offline, cover open,
in error), a device offline (a counter's pad, a kiosk, the caller, a board), a citizen
waiting longer than the target.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from motcua.kiosk.printer_words import PrinterState

from motcua.protocol import CounterStatus, Presence

from .state import Office, Stage

PRINTER_PROBLEMS: dict[str, str] = {
    PrinterState.PAPER_OUT: "máy in hết giấy", PrinterState.OFFLINE: "máy in mất kết nối",
    PrinterState.COVER_OPEN: "nắp máy in đang mở", PrinterState.ERROR: "máy in báo lỗi"}
ROLE_NAMES = {"kiosk": "Ki-ốt", "counter": "Bàn phím quầy", "caller": "Máy gọi số",
              "display": "Bảng hiển thị", "web": "Trang web", "rooms": "Phòng"}
STATUS_NAMES = {CounterStatus.SERVING: "Đang phục vụ", CounterStatus.IDLE: "Đang chờ gọi số",
                CounterStatus.PAUSED: "Tạm nghỉ"}


class AlertKind(enum.Enum):
    PRINTER = "printer"
    OFFLINE = "offline"
    WAIT = "wait"


def epoch(stamp: str | None) -> float | None:
    """An ISO 8601 time with offset as epoch seconds; None if absent or unreadable."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def live_view(office: Office, now: float, *, services: dict[str, str], counters: dict[str, str],
              target_wait_s: float) -> dict[str, Any]:
    """What the office's live page shows; ``now``: wall-clock epoch seconds."""
    board = office.board
    served_today: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for info in office.tickets.values():
        if info.stage == Stage.DONE and info.counter:
            served_today[info.counter] = served_today.get(info.counter, 0) + 1
        elif info.stage == Stage.WAITING:
            issued = epoch(info.issued_at)
            if issued is not None:
                oldest[info.service] = min(oldest.get(info.service, issued), issued)
    counter_rows = []
    for counter_id, name in counters.items():
        state = office.counters.get(counter_id)
        counter_rows.append({
            "id": counter_id, "name": name,
            "status": state.status if state else None,
            "status_text": STATUS_NAMES.get(state.status, state.status) if state else "Chưa có tin",
            "number": state.number if state else None,
            "service": services.get(state.service or "", state.service) if state else None,
            "since": office.serving_since.get(counter_id) if state and state.ticket else None,
            "served_today": served_today.get(counter_id, 0)})
    waiting = []
    for service_id, name in services.items():
        count = board.waiting.get(service_id, 0) if board else 0
        estimate = board.wait_estimate_s.get(service_id) if board else None
        waiting.append({"id": service_id, "name": name, "waiting": count,
                        "estimate_min": None if estimate is None else round(estimate / 60),
                        "oldest": oldest.get(service_id)})
    devices = []
    alerts: list[dict[str, Any]] = []
    for (role, device), status in sorted(office.devices.items()):
        online = status.state == Presence.ONLINE
        printer = status.health.get("printer") if role == "kiosk" and online else None
        name = counters.get(device, device) if role == "counter" else device
        label = f"{ROLE_NAMES.get(role, role)} {name}"
        devices.append({"role": role, "device": device, "label": label, "online": online,
                        "at": epoch(status.at), "printer": printer,
                        "printer_text": PRINTER_PROBLEMS.get(printer or "", "máy in bình thường"
                                                             if printer == PrinterState.OK else printer)})
        if not online:
            alerts.append({"kind": AlertKind.OFFLINE.value, "key": f"offline:{role}/{device}",
                           "text": f"{label} mất kết nối", "since": epoch(status.at)})
        elif printer in PRINTER_PROBLEMS:
            alerts.append({"kind": AlertKind.PRINTER.value, "key": f"printer:{device}",
                           "text": f"{label}: {PRINTER_PROBLEMS[printer]}", "since": epoch(status.at)})
    for row in waiting:
        since = row["oldest"]
        if isinstance(since, int | float) and now - since > target_wait_s:
            alerts.append({"kind": AlertKind.WAIT.value, "key": f"wait:{row['id']}", "since": since,
                           "text": f"{row['name']}: có công dân chờ quá {round(target_wait_s / 60)} phút"})
    return {
        "now": now, "online": office.online, "day": board.day if board else None,
        "board": {"calls": [{"counter": counters.get(c.counter, c.counter), "number": c.number,
                             "service": services.get(c.service, c.service)}
                            for c in (board.calls[:6] if board else [])]},
        "counters": counter_rows, "waiting": waiting, "devices": devices, "alerts": alerts}
