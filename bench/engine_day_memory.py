"""The queue engine's memory over a busy day: bytes per ticket served, traced.

A day of tickets, each called and finished at once, with the engine keeping every closed
ticket whole, then with its default (the latest 512 whole, older ones by id only:
docs/caller.md). Python objects only (tracemalloc), no process overhead.

    .venv/bin/python bench/engine_day_memory.py [--tickets 4000]
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from datetime import datetime, timedelta, timezone

from motcua.caller.engine import CLOSED_KEPT, Engine

from motcua.protocol import CounterCommand, Ticket, new_id

T0 = datetime(2026, 11, 28, 7, 30, tzinfo=timezone(timedelta(hours=7)))


def traced_bytes(tickets: int, closed_kept: int) -> tuple[int, int, int]:
    engine = Engine({"1": ("dat-dai",), "2": ("dat-dai",)}, closed_kept=closed_kept)
    engine.start_day("2026-11-28", T0)
    day = [Ticket(id=new_id(), service="dat-dai", number=str(1001 + i), seq=1001 + i,
                  day="2026-11-28", issued_at=(T0 + timedelta(seconds=i)).isoformat(), kiosk="k1")
           for i in range(tickets)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, ticket in enumerate(day):
        at = T0 + timedelta(seconds=i)
        engine.add_ticket(ticket, at)
        for action in ("next", "done"):
            engine.command("1", CounterCommand(id=new_id(), action=action), at)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown, len(engine.tickets), len(engine.forgotten)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=4000)
    tickets = parser.parse_args().tickets
    for label, kept in (("every closed ticket kept whole", tickets), ("default", CLOSED_KEPT)):
        grown, whole, forgotten = traced_bytes(tickets, kept)
        print(f"{tickets:,} tickets served, {label}: {grown / tickets:.0f} B per ticket "
              f"({grown / 1e6:.2f} MB; {whole} whole, {forgotten} by id; includes the "
              f"{2 * tickets:,} commands' id window)")


if __name__ == "__main__":
    main()
