"""The centre's figures (central/report.py, from PostgreSQL) equal the hub's own report
(caller/history.py on its caller.db) for the same history and range."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, timedelta

import psycopg
import pytest
from hub_office import SimulatedCaller, carry_to_centre
from motcua.caller.history import read_reasons_by, read_report
from motcua.central.report import Commune, commune_report, province, reasons_by, refresh
from rig import write_site_config

from motcua.config import load_config

# Across month ends: the province's whole months (report_months) and odd days (report_days).
DAYS = [date(2026, 10, 29), date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 2), date(2026, 11, 3),
        date(2026, 12, 1)]
FIRST = DAYS[0]
TARGET = 15 * 60.0


def without_means(report):
    """Means are sums in another order (numpy's bincount vs Python's sum): compared apart."""
    def strip(f):
        return replace(f, wait=replace(f.wait, mean=None), service_time=replace(f.service_time, mean=None))
    return (strip(report.total),
            {g: {k: strip(f) for k, f in rows.items()} for g, rows in report.groups.items()},
            {h: replace(s, mean=None) for h, s in report.wait_by_hour.items()})


def means(report):
    figures = [report.total, *[f for rows in report.groups.values() for f in rows.values()]]
    return [m for f in figures for m in (f.wait.mean, f.service_time.mean)] + \
        [s.mean for s in report.wait_by_hour.values()]


@pytest.fixture
def office(tmp_path, pg_dsn):
    config = load_config(write_site_config(tmp_path))
    hub = SimulatedCaller(tmp_path / "caller.db", config)
    hub.traffic(DAYS, 70, random.Random(17))
    yield config, hub, pg_dsn
    hub.close()


def test_commune_figures_equal_the_hubs_report(office, tmp_path):
    config, hub, dsn = office
    db_path = tmp_path / "caller.db"
    # Half the history first, the rest later: the second refresh starts from a day marker.
    markers = hub.store.db.execute("SELECT seq FROM events WHERE kind = 'day' ORDER BY seq").fetchall()
    half = markers[3][0] + 40
    carry_to_centre(db_path, config.site.id, dsn, upto=half)
    commune = Commune.of(config)
    with psycopg.connect(dsn, autocommit=True) as db:
        assert refresh(db, commune) == half
        carry_to_centre(db_path, config.site.id, dsn)
        assert refresh(db, commune) > 0
        assert refresh(db, commune) == 0                 # nothing new: nothing replayed
        hub_tickets = hub.store.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
        assert db.execute("SELECT count(*) FROM report_tickets").fetchone()[0] == hub_tickets
        outcomes = {row[0] for row in db.execute("SELECT DISTINCT outcome FROM report_tickets")}
        assert outcomes == {0, 1, 2, 3, 4}, "the history covers every outcome"
        assert db.execute("SELECT count(*) FROM report_tickets WHERE reason IS NOT NULL").fetchone()[0]
        for start, end in [(DAYS[0], DAYS[-1]), (DAYS[1], DAYS[3]), (DAYS[-1], DAYS[-1]),
                           (date(2026, 10, 1), date(2026, 12, 31)), (date(2026, 10, 30), date(2026, 11, 30)),
                           (date(2026, 11, 1), date(2026, 12, 1)), (date(2026, 11, 1), date(2026, 11, 30)),
                           (DAYS[0] - timedelta(days=5), DAYS[0] - timedelta(days=1))]:
            expected = read_report(db_path, start, end, by=("service", "counter", "day"), hours=True,
                                   target_wait_s=TARGET, satisfied_levels=commune.good_levels)
            got = commune_report(db, commune, start, end, by=("service", "counter", "day"), hours=True,
                                 target_wait_s=TARGET)
            assert without_means(got) == without_means(expected), (start, end)
            assert [m is None for m in means(got)] == [m is None for m in means(expected)]
            assert [m for m in means(got) if m is not None] == \
                pytest.approx([m for m in means(expected) if m is not None], rel=1e-12, abs=1e-9)
            assert reasons_by(db, config.site.id, start, end) == read_reasons_by(db_path, start, end)

            # The province table's line of this commune: the same figures, from the day rollups.
            row = next(r for r in province(db, start, end, {commune.site: commune}) if r.site == commune.site)
            total = expected.total
            assert (row.issued, row.served, row.no_shows, row.called) == \
                (total.issued, total.served, total.no_shows, total.wait.count)
            assert (row.median_wait, row.p90_wait, row.satisfied) == \
                (total.wait.median, total.wait.p90, total.satisfied)
            assert sum(row.ratings) == total.rated


def test_a_replay_from_scratch_gives_the_same_rows(office, tmp_path):
    """Refreshing bit by bit (as rows arrive, the engine kept between refreshes as the dashboard
    keeps it) or at once gives the same tickets, days and months."""
    config, hub, dsn = office
    commune = Commune.of(config)
    marks = [row[0] for row in hub.store.db.execute("SELECT seq FROM events ORDER BY seq")]
    rng = random.Random(3)
    with psycopg.connect(dsn, autocommit=True) as db:
        engines: dict = {}
        for upto in [*sorted(rng.sample(marks, 12)), marks[-1]]:
            carry_to_centre(tmp_path / "caller.db", config.site.id, dsn, upto=upto)
            refresh(db, commune, engines)
            assert engines[commune.site][1] == upto
        tables = ("report_tickets ORDER BY site, id", "report_days ORDER BY site, day",
                  "report_months ORDER BY site, month")
        bit_by_bit = [db.execute(f"SELECT * FROM {t}").fetchall() for t in tables]
        db.execute("TRUNCATE report_tickets, report_days, report_months, report_position")
        refresh(db, commune)
        assert [db.execute(f"SELECT * FROM {t}").fetchall() for t in tables] == bit_by_bit


def test_province_lists_devices_and_sites_without_config(pg_dsn):
    from datetime import datetime

    from motcua.central.store import CentralStore

    from motcua.protocol import Status

    store = CentralStore(pg_dsn)
    store.migrate()
    now = datetime.now(UTC).isoformat()
    store.write([], {("xa-b", ""): (0, 0)}, current={"xa-b": ""}, statuses=[
        ("xa-b", Status("kiosk", "k1", "online", now, {"printer": "paper_out"})),
        ("xa-b", Status("kiosk", "k2", "online", now, {"printer": "ok"})),
        ("xa-b", Status("counter", "2", "offline", now)),
        ("xa-b", Status("caller", "hub", "online", now)),
        ("centre", Status("central", "centre", "online", now))])
    store.close()
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        rows = province(db, FIRST, FIRST, {})
    assert [r.site for r in rows] == ["xa-b"]           # the centre's own status is not a commune
    row = rows[0]
    assert (row.issued, row.median_wait, row.satisfied) == (0, None, None)
    assert (row.devices_offline, row.paper_out) == (1, 1)
    assert row.heard_at is not None


def test_a_page_does_not_wait_for_a_long_count(office, tmp_path):
    """While the dashboard's background count works off a backlog, a page shows what is counted
    so far and says so; once it is done, the page counts what is left and is complete."""
    from motcua.web.central_web import Centre
    from motcua.web.store import WebStore

    config, _, dsn = office
    carry_to_centre(tmp_path / "caller.db", config.site.id, dsn)
    users = WebStore(tmp_path / "users.db")
    centre = Centre(dsn, {config.site.id: Commune.of(config)}, users)
    centre.page_wait_s = 0.2
    centre._refreshing.acquire()             # the background count, busy
    try:
        rows, complete = centre.province(DAYS[0], DAYS[-1])
        assert not complete and rows[0].issued == 0
    finally:
        centre._refreshing.release()
    rows, complete = centre.province(DAYS[0], DAYS[-1])
    assert complete and rows[0].issued > 0
    users.close()


def test_a_replaced_caller_db_is_counted_as_a_second_log(tmp_path, pg_dsn):
    """A hub whose caller.db was replaced (a new log, rows numbered from 1 again: migration
    003) is counted from both logs: each day equals the hub's report from the log that holds it."""
    from motcua.caller.store import set_aside

    config = load_config(write_site_config(tmp_path))
    db_path = tmp_path / "caller.db"
    first = SimulatedCaller(db_path, config)
    first.traffic(DAYS[:3], 40, random.Random(5))
    first.close()
    carry_to_centre(db_path, config.site.id, pg_dsn)
    old_path = set_aside(db_path)
    second = SimulatedCaller(db_path, config)
    second.traffic(DAYS[3:], 40, random.Random(6))
    second.close()
    carry_to_centre(db_path, config.site.id, pg_dsn)
    commune = Commune.of(config)
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM site_logs WHERE site = %s",
                          (config.site.id,)).fetchone()[0] == 2
        assert refresh(db, commune) > 0
        for path, start, end in [(old_path, DAYS[0], DAYS[2]), (db_path, DAYS[3], DAYS[-1])]:
            expected = read_report(path, start, end, by=("service", "counter"), hours=True,
                                   target_wait_s=TARGET, satisfied_levels=commune.good_levels)
            got = commune_report(db, commune, start, end, by=("service", "counter"), hours=True,
                                 target_wait_s=TARGET)
            assert expected.total.issued > 0
            assert without_means(got) == without_means(expected), (start, end)
