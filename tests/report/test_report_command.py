"""`motcua report` on a caller database with a known history: text, CSV, PNG, printed slip."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from motcua.caller.store import EventStore
from PIL import Image
from rig import write_site_config

from motcua.cli import main

TZ = "+07:00"


def insert(db: Path, rows: list[dict]) -> None:
    store = EventStore(db)              # the caller's real schema
    store.db.close()
    import sqlite3

    with sqlite3.connect(db) as connection:
        for i, row in enumerate(rows):
            connection.execute(
                "INSERT INTO tickets (id, day, service, number, priority, status, counter, issued_at,"
                " called_at, done_at, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f"t{i}", row["day"], row["service"], str(1001 + i), 0, row["status"],
                 row.get("counter"), row["issued"], row.get("called"), row.get("done"),
                 row.get("rating")))


def at(day: str, hour: int, minute: int) -> str:
    return (datetime.fromisoformat(f"{day}T00:00:00{TZ}") + timedelta(hours=hour, minutes=minute)
            ).isoformat()


DAY1, DAY2 = "2026-11-27", "2026-11-28"
HISTORY = [
    # served: waits 5 and 25 minutes; service 10 and 20 minutes; ratings 1 and 3
    dict(day=DAY1, service="dat-dai", status="done", counter="1", issued=at(DAY1, 8, 0),
         called=at(DAY1, 8, 5), done=at(DAY1, 8, 15), rating=1),
    dict(day=DAY1, service="tu-phap", status="done", counter="2", issued=at(DAY1, 9, 0),
         called=at(DAY1, 9, 25), done=at(DAY1, 9, 45), rating=3),
    # called, skipped, expired at the end of the day: a no-show
    dict(day=DAY1, service="tu-phap", status="expired", counter="2", issued=at(DAY1, 9, 10),
         called=at(DAY1, 9, 40)),
    # never called
    dict(day=DAY1, service="dat-dai", status="expired", issued=at(DAY1, 16, 0)),
    dict(day=DAY2, service="dat-dai", status="done", counter="1", issued=at(DAY2, 8, 0),
         called=at(DAY2, 8, 10), done=at(DAY2, 8, 20), rating=2),
    # outside the period
    dict(day="2026-11-20", service="dat-dai", status="done", counter="1",
         issued=at("2026-11-20", 8, 0), called=at("2026-11-20", 8, 1), done=at("2026-11-20", 8, 2)),
]


@pytest.fixture
def office(tmp_path: Path) -> tuple[Path, Path]:
    config = write_site_config(tmp_path)
    db = tmp_path / "caller.db"
    insert(db, HISTORY)
    return config, db


def test_text_csv_and_charts(office: tuple[Path, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    config, db = office
    out_csv, out_png = tmp_path / "r.csv", tmp_path / "r.png"
    assert main(["report", "--config", str(config), "--db", str(db), "--from", DAY1, "--to", DAY2,
                 "--by", "service", "--csv", str(out_csv), "--png", str(out_png)]) == 0
    text = capsys.readouterr().out
    assert "Báo cáo: 27/11/2026 – 28/11/2026" in text
    assert "Số phiếu đã cấp: 5" in text
    assert "Đã phục vụ: 3   Vắng mặt: 1   Hết hạn: 1" in text
    # called waits: 5, 25, 30, 10 minutes -> mean 17.5, median 17.5
    assert "Thời gian chờ (phút): trung bình 17.5, trung vị 17.5" in text
    assert "Lĩnh vực: Tư pháp – Hộ tịch" in text
    assert "Đánh giá (3): Rất hài lòng: 1, Hài lòng: 1, Không hài lòng: 1; hài lòng 67%" in text

    with out_csv.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["Lĩnh vực"] for row in rows] == ["Đất đai", "Tư pháp – Hộ tịch"]
    dat_dai = rows[0]
    assert (dat_dai["Số phiếu"], dat_dai["Đã phục vụ"], dat_dai["Hết hạn"]) == ("3", "2", "1")
    assert dat_dai["Chờ trung vị (phút)"] == "7.5"
    assert dat_dai["Rất hài lòng"] == "1" and dat_dai["Hài lòng"] == "1"

    chart = Image.open(out_png).convert("L")
    assert chart.size == (1200, 450)
    assert chart.getextrema()[0] < 100, "the chart has dark ink, not a blank page"


def test_end_of_day_slip_on_the_printer(office: tuple[Path, Path], printer) -> None:
    config, db = office
    assert main(["report", "--config", str(config), "--db", str(db), "--from", DAY2,
                 "--print", "--printer", printer.spec]) == 0
    assert printer.wait_for(lambda data: data.endswith(b"\x1dV\x00"), timeout=10)
    data = printer.data()
    assert b"\x1dv0" in data, "Vietnamese lines go as raster strips"


def test_period_mistakes_are_clear(office: tuple[Path, Path], capsys) -> None:
    config, db = office
    assert main(["report", "--config", str(config), "--db", str(db)]) == 2
    assert "--from" in capsys.readouterr().err
    assert main(["report", "--config", str(config), "--db", str(db), "--from", DAY2,
                 "--to", DAY1]) == 2
    assert main(["report", "--config", str(config), "--db", str(db.with_name("nope.db")),
                 "--from", DAY1]) == 2
