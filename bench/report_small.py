"""What an office head waits for: `motcua report` on a small office's day (the demo's few
tickets), as a whole command in its own process, import time included. Target: <= 1 s.

Prints the wall time of each form of the command, best and worst of five runs:

    .venv/bin/python bench/report_small.py
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from motcua.caller.store import EventStore

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-11-30"
ICT = timezone(timedelta(hours=7))


def build(directory: Path) -> tuple[Path, Path]:
    text = (ROOT / "examples" / "liem-chung.toml").read_text(encoding="utf-8")
    text = text.replace('state_dir = "/var/lib/motcua"', f'state_dir = "{directory}"')
    config = directory / "site.toml"
    config.write_text(text, encoding="utf-8")
    db = directory / "caller.db"
    EventStore(db).db.close()
    start = datetime(2026, 11, 30, 8, 0, tzinfo=ICT)
    statuses = ["done"] * 3 + ["skipped"] * 2 + ["waiting"] * 2 + ["serving"]
    with sqlite3.connect(db) as connection:
        for i, status in enumerate(statuses):
            issued = start + timedelta(minutes=7 * i)
            called = issued + timedelta(minutes=4) if status != "waiting" else None
            done = called + timedelta(minutes=6) if status == "done" else None
            connection.execute(
                "INSERT INTO tickets (id, day, service, number, priority, status, counter, issued_at,"
                " called_at, done_at, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f"t{i}", DAY, "dat-dai", str(1001 + i), 0, status, "1" if called else None,
                 issued.isoformat(), called and called.isoformat(), done and done.isoformat(),
                 1 if status == "done" else None))
    return config, db


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config, db = build(directory)
        base = [sys.executable, "-m", "motcua.cli", "report", "--config", str(config),
                "--db", str(db), "--from", DAY]
        forms = {
            "text only": [],
            "--by service": ["--by", "service"],
            "--by service --csv --png": ["--by", "service", "--csv", str(directory / "r.csv"),
                                         "--png", str(directory / "r.png")],
        }
        print(f"motcua report on 8 tickets of one day, 5 runs each (Python {sys.version.split()[0]})")
        for name, extra in forms.items():
            times = []
            for _ in range(5):
                began = time.perf_counter()
                subprocess.run(base + extra, check=True, capture_output=True)
                times.append(time.perf_counter() - began)
            print(f"  {name:28s} best {min(times):.2f} s, worst {max(times):.2f} s")


if __name__ == "__main__":
    main()
