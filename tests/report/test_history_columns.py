"""The closed days' columns (what the office's web pages keep) give ``read_report``'s figures
for any days within them: the same rows through the same code."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from motcua.caller.history import read_columns, read_report, report_of_columns
from test_history_readers import DAYS, OPTIONS, same, tickets, write_history


@settings(max_examples=60, deadline=None)
@given(st.lists(tickets(), max_size=60), st.sampled_from([(0, 2), (1, 1), (2, 2), (0, 1), (1, 2)]), OPTIONS)
def test_columns_give_the_readers_figures(rows: list[dict], period: tuple[int, int], options: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "caller.db"
        write_history(db, rows)
        columns = read_columns(db, DAYS[0], DAYS[2], chunk_days=period[0] + 1)   # read by 1-3 days
        assert columns is not None
        start, end = DAYS[period[0]], DAYS[period[1]]
        same(report_of_columns(columns, start, end, **options), read_report(db, start, end, **options))


def test_days_outside_the_columns_are_empty(tmp_path: Path) -> None:
    db = tmp_path / "caller.db"
    write_history(db, [])
    columns = read_columns(db, DAYS[0], DAYS[2])
    assert columns is not None and columns.days == []
    report = report_of_columns(columns, DAYS[0], DAYS[2], by=("service",), hours=True, target_wait_s=900,
                               satisfied_levels=2)
    assert report.total.issued == 0 and report.groups == {"service": {}}
