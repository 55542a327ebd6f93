"""The clocks the service day is decided from (numbering.DayKeeper): wall, monotonic, synchronised."""

from __future__ import annotations

import ctypes
import time

from .numbering import ClockReading

TIME_ERROR = 5    # adjtimex(2): the clock is not synchronised


def kernel_clock_synced() -> bool:
    """Whether the kernel says the wall clock is synchronised (NTP), via adjtimex(2).

    A zeroed ``struct timex`` with ``modes = 0`` only reads; the buffer is larger
    than the struct on any architecture. False when the call is not available.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = ctypes.create_string_buffer(1024)
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return False
    return 0 <= state != TIME_ERROR


def read_clock() -> ClockReading:
    return ClockReading(wall=time.time(), monotonic=time.monotonic(), synced=kernel_clock_synced())
