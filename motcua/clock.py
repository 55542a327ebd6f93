"""The clocks the service day is decided from (service_day.DayKeeper): wall, monotonic, synchronised."""

from __future__ import annotations

import ctypes
import time

from .service_day import ClockReading

TIME_ERROR = 5       # adjtimex(2) state: the clock is not synchronised
STA_UNSYNC = 0x0040  # adjtimex(2) status bit: nobody disciplines the clock


class _Timex(ctypes.Structure):
    # The head of struct timex; ``rest`` pads past its end on every architecture.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_byte * 256)]


def clock_state_synchronized(state: int, status: int) -> bool:
    return state not in (-1, TIME_ERROR) and not status & STA_UNSYNC


def kernel_clock_synchronized() -> tuple[bool, str]:
    """Whether the kernel says the wall clock is synchronised (NTP), via adjtimex(2).

    A zeroed ``struct timex`` with ``modes = 0`` only reads. False when the call is not
    available. The second value says what was read, for the doctor's checklist.
    """
    timex = _Timex()
    try:
        state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return False, "adjtimex not available"
    return clock_state_synchronized(state, timex.status), f"adjtimex state {state}"


def read_clock() -> ClockReading:
    return ClockReading(wall=time.time(), monotonic=time.monotonic(),
                        synced=kernel_clock_synchronized()[0])
