"""What counting who is ahead costs the caller on each board: `board_message` with and without
the counts ahead and the estimates, at 100 counters and 2,000 waiting tickets (one in ten a
priority ticket), under `priority = "strict"` and `"every"`.

    .venv/bin/python bench/board_ahead.py
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from motcua.caller.board import ahead_of_new, board_message, wait_estimates
from motcua.caller.engine import Engine

from motcua.protocol import Ticket, new_id

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=7)))
DAY = "2026-11-30"
ROUNDS = 200


def office(mode: str) -> Engine:
    engine = Engine({str(i): ("a", "b", "c", "d") for i in range(100)}, priority=mode,
                    priority_every=3)
    engine.start_day(DAY, T0)
    for n in range(2000):
        engine.add_ticket(Ticket(id=new_id(), service="abcd"[n % 4], number=str(1000 + n), seq=n,
                                 day=DAY, issued_at=(T0 + timedelta(seconds=n)).isoformat(),
                                 kiosk="k1", priority=n % 10 == 0), T0)
    return engine


def per_call_ms(work) -> float:
    began = time.perf_counter()
    for _ in range(ROUNDS):
        work()
    return (time.perf_counter() - began) / ROUNDS * 1000


def main() -> None:
    print(f"100 counters, 2,000 waiting, {ROUNDS} rounds each")
    for mode in ("strict", "every"):
        engine = office(mode)
        board = per_call_ms(lambda e=engine: board_message(e, seq=1, now=T0, day=DAY))
        counts = per_call_ms(lambda e=engine: (ahead_of_new(e, priority=True),
                                               ahead_of_new(e, priority=False), wait_estimates(e)))
        print(f"  {mode:6s}  board_message {board:.2f} ms, of which counts ahead and estimates "
              f"{counts:.2f} ms")


if __name__ == "__main__":
    main()
