"""`motcua report` on a caller database with a known history: text, CSV, PNG, printed slip."""

from __future__ import annotations

import csv
import re
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
    assert ("= đã phục vụ 3 + vắng mặt 1 + hết ngày chưa được gọi 1 + đang chờ 0"
            " + đang được phục vụ 0") in text
    # called waits: 5, 25, 30, 10 minutes -> mean 17.5, median 17.5, p90 28.5
    assert ("Thời gian chờ: trung bình 17,5 phút; một nửa số công dân chờ dưới 17,5 phút; "
            "90 % công dân chờ dưới 28,5 phút") in text
    assert "Lĩnh vực: Tư pháp – Hộ tịch" in text
    assert "Đánh giá (3 lượt): Rất hài lòng: 1, Hài lòng: 1, Không hài lòng: 1; hài lòng 67 %" in text

    with out_csv.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["Lĩnh vực"] for row in rows] == ["Đất đai", "Tư pháp – Hộ tịch", "Tổng cộng"]
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


# --- The report an office head reads (issue 15, item 6) -----------------------------------

DEMO_DAY = "2026-11-30"
DEMO = [   # 8 tickets: 3 served, 2 absent, 2 waiting, 1 at a counter; nobody rated
    *(dict(day=DEMO_DAY, service="dat-dai", status="done", counter="1", issued=at(DEMO_DAY, 8, i),
           called=at(DEMO_DAY, 8, i + 2), done=at(DEMO_DAY, 8, i + 5)) for i in range(3)),
    *(dict(day=DEMO_DAY, service="tu-phap", status="skipped", counter="2",
           issued=at(DEMO_DAY, 9, i), called=at(DEMO_DAY, 9, i + 1)) for i in range(2)),
    *(dict(day=DEMO_DAY, service="tu-phap", status="waiting", issued=at(DEMO_DAY, 9, 10 + i))
      for i in range(2)),
    dict(day=DEMO_DAY, service="dat-dai", status="serving", counter="1", issued=at(DEMO_DAY, 9, 20),
         called=at(DEMO_DAY, 9, 21)),
]


def test_the_outcomes_add_up_to_the_tickets_issued(tmp_path: Path, capsys) -> None:
    """Issue 15: "8 issued, 3 served + 2 absent + 0 expired"; the 3 others were only in the CSV."""
    config, db = write_site_config(tmp_path), tmp_path / "caller.db"
    insert(db, DEMO)
    out_csv = tmp_path / "r.csv"
    assert main(["report", "--config", str(config), "--db", str(db), "--from", DEMO_DAY,
                 "--by", "service", "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    issued = [int(line.split(":")[1]) for line in text.splitlines() if "Số phiếu đã cấp" in line]
    parts = [[int(word) for word in line.split() if word.isdigit()]
             for line in text.splitlines() if line.strip().startswith("= ")]
    assert issued[0] == 8 and parts[0] == [3, 2, 0, 2, 1]
    assert len(issued) == len(parts) == 3                      # the total and two services
    assert all(sum(p) == n for p, n in zip(parts, issued, strict=True))
    with out_csv.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    outcome_columns = ["Đã phục vụ", "Vắng mặt", "Hết hạn", "Đang chờ", "Đang phục vụ"]
    for row in rows:
        assert sum(int(row[c]) for c in outcome_columns) == int(row["Số phiếu"])
    assert rows[-1]["Lĩnh vực"] == "Tổng cộng" and rows[-1]["Số phiếu"] == "8"
    assert sum(int(row["Số phiếu"]) for row in rows[:-1]) == 8


def test_plain_vietnamese_labels_numbers_and_dates(tmp_path: Path, capsys) -> None:
    config, db = write_site_config(tmp_path), tmp_path / "caller.db"
    insert(db, DEMO + HISTORY)
    out_csv = tmp_path / "r.csv"
    assert main(["report", "--config", str(config), "--db", str(db), "--from", DAY1,
                 "--to", DEMO_DAY, "--by", "day", "--target-wait", "10", "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    assert "p90" not in text and "p90" not in out_csv.read_text(encoding="utf-8-sig")
    assert "Thời gian chờ mục tiêu: 10 phút" in text
    assert "Được gọi trong 10 phút:" in text
    assert "Ngày: 27/11/2026" in text and "2026-11" not in text        # one date format
    assert "Đánh giá: chưa có đánh giá" in text                         # the demo day: nobody rated
    assert re.search(r"\d,\d phút", text) and not re.search(r"\d\.\d", text)   # 17,5 not 17.5
    with out_csv.open(encoding="utf-8-sig") as handle:
        days = [row["Ngày"] for row in csv.DictReader(handle)]
    assert days == ["27/11/2026", "28/11/2026", "30/11/2026", "Tổng cộng"]


def test_numbers_in_vietnamese_format() -> None:
    from motcua.caller.figures import number_vi

    assert [number_vi(1.7), number_vi(1234.5), number_vi(15, 0), number_vi(1234567, 0)] == [
        "1,7", "1.234,5", "15", "1.234.567"]


def test_the_chart_follows_by_and_says_when_nobody_rated(tmp_path: Path) -> None:
    from motcua.caller.charts import NO_RATINGS, draw_charts
    from motcua.caller.figures import Spread, figures

    levels = ("Rất hài lòng", "Hài lòng", "Không hài lòng")
    total = figures([], target_wait_s=900, satisfied_levels=2)
    waits = {"Đất đai": Spread(4, 300.0, 240.0, 600.0), "Tư pháp – Hộ tịch": Spread(2, 900.0, 720.0, 1200.0)}
    path = tmp_path / "c.png"
    drawn = draw_charts(path, waits, "Thời gian chờ theo lĩnh vực", total, levels, "x", 900)
    assert list(drawn.wait_bars) == ["Đất đai", "Tư pháp – Hộ tịch"]
    assert drawn.notes == [NO_RATINGS] and not drawn.rating_bars
    image = Image.open(path).convert("RGB")
    for label, median_min in (("Đất đai", 4), ("Tư pháp – Hộ tịch", 12)):
        left, top, right, bottom = drawn.wait_bars[label]
        assert abs((bottom - top) - median_min * drawn.wait_scale) <= 1
        # The picture itself: the bar's middle is the bar colour, just above it is not.
        middle = ((left + right) // 2, (top + bottom) // 2)
        assert image.getpixel(middle) == (31, 111, 235)
        assert image.getpixel((middle[0], top - 8)) != (31, 111, 235)
    # The ratings half holds the words, not an empty axis: dark ink near its centre.
    crop = image.crop((860, 200, 1070, 250)).convert("L")
    assert crop.getextrema()[0] < 100


def test_report_in_a_clone_finds_the_demos_config(tmp_path: Path, monkeypatch, capsys) -> None:
    """Issue 15: `motcua report` after the demo, without guessing --config motcua-demo/site.toml."""
    from motcua.cli import DEFAULT_CONFIG

    if Path(DEFAULT_CONFIG).exists():
        pytest.skip(f"{DEFAULT_CONFIG} exists on this machine: it is the one used")
    demo = tmp_path / "motcua-demo"
    demo.mkdir()
    config = write_site_config(demo)
    insert(demo / "state" / "caller.db", DEMO)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--from", DEMO_DAY]) == 0
    captured = capsys.readouterr()
    assert "using the demo's motcua-demo/site.toml" in captured.err
    assert "Số phiếu đã cấp: 8" in captured.out
    assert config == demo / "site.toml"
