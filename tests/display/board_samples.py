"""Sample boards and hand-moved clocks for the board tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from motcua.protocol import Board, BoardCall, BoardCounter


class Clocks:
    """A monotonic and a wall clock the test moves by hand (the board's only time sources)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.seconds = 1000.0

    def mono(self) -> float:
        return self.seconds

    def wall(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)


def make_board(now: datetime, *, seq: int = 10, serving: dict[str, str] | None = None,
               calls: list[tuple[str, str, str]] | None = None, waiting: dict[str, int] | None = None,
               call_age_s: float = 1.0, day: str | None = None) -> Board:
    """A board at ``now``: counters serving numbers, calls (counter, number, service), newest first."""
    serving = {"1": "1012", "2": "C007", "3": "3017"} if serving is None else serving
    calls = [("3", "3017", "ldtbxh"), ("1", "1012", "dat-dai"), ("2", "C007", "chung-thuc")] \
        if calls is None else calls
    names = {"3017": "Nguyễn V. A.", "C007": "Trần T. B."}
    return Board(
        seq=seq, updated_at=now.isoformat(), day=day or now.strftime("%Y-%m-%d"),
        calls=[BoardCall(counter=c, number=n, service=s, name=names.get(n),
                         at=(now - timedelta(seconds=call_age_s + 60 * i)).isoformat(timespec="seconds"))
               for i, (c, n, s) in enumerate(calls)],
        counters=[BoardCounter(counter=cid, status="serving" if cid in serving else "idle",
                               number=serving.get(cid), name=names.get(serving.get(cid, "")))
                  for cid in ("1", "2", "3", "4")],
        waiting={"dat-dai": 7, "tu-phap": 3, "ldtbxh": 0, "chung-thuc": 12} if waiting is None else waiting,
        wait_estimate_s={"dat-dai": 1260},
    )
