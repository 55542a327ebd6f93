"""``motcua report``: the office's figures for a period, as text, CSV and charts.

    motcua report --config site.toml --from 2026-11-01 --to 2026-11-30 --by service --csv f.csv --png f.png
    motcua report --config site.toml --today --print      # the end-of-day slip on the kiosk printer
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from motcua.errors import MotcuaError

if TYPE_CHECKING:
    from motcua.config import SiteConfig

from .figures import Figures, Spread, satisfied_levels

BY_LABEL = {"day": "Ngày", "service": "Lĩnh vực", "counter": "Quầy"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="/etc/motcua/site.toml", help="site config (TOML)")
    parser.add_argument("--db", help="the caller's database (default: STATE_DIR/caller.db)")
    parser.add_argument("--from", dest="start", type=_day, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_day, help="last day, YYYY-MM-DD")
    parser.add_argument("--today", action="store_true", help="today's figures")
    parser.add_argument("--by", choices=("day", "service", "counter"), help="one row per group")
    parser.add_argument("--csv", type=Path, help="write the table as CSV (UTF-8)")
    parser.add_argument("--png", type=Path, help="draw the charts to this PNG file")
    parser.add_argument("--print", dest="print_slip", action="store_true",
                        help="print the summary on the kiosk printer")
    parser.add_argument("--printer", metavar="SPEC", help="printer for --print (default: the kiosk's)")
    parser.add_argument("--target-wait", type=float, default=15.0, metavar="MIN",
                        help="the wait citizens should not exceed, minutes (default 15)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD") from None


def main(options: argparse.Namespace) -> int:
    from motcua.config import load_config

    from .history import read_reasons, read_report

    config = load_config(options.config)
    start, end = _period(options, config)
    db = Path(options.db) if options.db else config.site.state_dir / "caller.db"
    levels = config.counter_pad.rating.levels
    report = read_report(db, start, end, by=[options.by] if options.by else [],
                         hours=bool(options.png), target_wait_s=options.target_wait * 60,
                         satisfied_levels=satisfied_levels(levels))
    names = _names(config, options.by)
    total = report.total
    groups = report.groups.get(options.by, {})
    lines = list(summary_lines(config.site.name, start, end, total, groups, names, levels,
                               options.by))
    reasons = read_reasons(db, start, end)
    if reasons:      # after the period's own figures (office, period, then its lines)
        lines.insert(2 + len(list(_figure_lines(total, levels))),
                     "  Lý do chưa hài lòng: " + ", ".join(f"{r}: {n}" for r, n in reasons.items()))
    print("\n".join(lines))
    if options.csv:
        write_csv(options.csv, groups or {"Tổng": total}, names, levels, options.by or "day")
    if options.png:
        draw_charts(options.png, report.wait_by_hour, total, levels, f"{config.site.name}: {start} – {end}")
    if options.print_slip:
        _print_slip(config, options.printer, lines)
    return 0


def _period(options: argparse.Namespace, config: SiteConfig) -> tuple[date, date]:
    if options.today:
        today = datetime.now(config.site.tz).date()
        return today, today
    if not options.start:
        raise MotcuaError("say which days: --from YYYY-MM-DD [--to YYYY-MM-DD], or --today")
    end = options.end or options.start
    if end < options.start:
        raise MotcuaError(f"--to {end} is before --from {options.start}")
    return options.start, end


def _names(config: SiteConfig, by: str | None) -> dict[str, str]:
    if by == "service":
        return {s.id: s.name for s in config.services}
    if by == "counter":
        return {c.id: c.name for c in config.counters} | {"-": "Chưa gọi"}
    return {}


def _minutes(value: float | None) -> str:
    return "–" if value is None else f"{value / 60:.1f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def summary_lines(office: str, start: date, end: date, total: Figures,
                  groups: dict[str, Figures], names: dict[str, str], levels: Sequence[str],
                  by: str | None) -> Iterable[str]:
    period = start.strftime("%d/%m/%Y") if start == end else \
        f"{start.strftime('%d/%m/%Y')} – {end.strftime('%d/%m/%Y')}"
    yield f"{office}"
    yield f"Báo cáo: {period}"
    yield from _figure_lines(total, levels)
    for key, group in groups.items():
        yield ""
        yield f"{BY_LABEL[by or 'day']}: {names.get(key, key)}"
        yield from _figure_lines(group, levels)


def _figure_lines(f: Figures, levels: Sequence[str]) -> Iterable[str]:
    yield f"  Số phiếu đã cấp: {f.issued}"
    yield f"  Đã phục vụ: {f.served}   Vắng mặt: {f.no_shows}   Hết hạn: {f.expired}"
    yield (f"  Thời gian chờ (phút): trung bình {_minutes(f.wait.mean)}, "
           f"trung vị {_minutes(f.wait.median)}, p90 {_minutes(f.wait.p90)}")
    yield (f"  Thời gian phục vụ (phút): trung bình {_minutes(f.service_time.mean)}, "
           f"trung vị {_minutes(f.service_time.median)}, p90 {_minutes(f.service_time.p90)}")
    yield f"  Được gọi trong thời gian chờ mục tiêu: {_share(f.within_target)}"
    if f.rated:
        counts = ", ".join(f"{levels[level - 1] if level <= len(levels) else level}: {n}"
                           for level, n in f.ratings.items())
        yield f"  Đánh giá ({f.rated}): {counts}; hài lòng {_share(f.satisfied)}"


def write_csv(path: Path, groups: dict[str, Figures], names: dict[str, str],
              levels: Sequence[str], by: str) -> None:
    """One row per group; UTF-8 with BOM so that spreadsheet programs show Vietnamese right."""
    header = [BY_LABEL[by], "Số phiếu", "Đã phục vụ", "Vắng mặt", "Hết hạn", "Đang chờ",
              "Chờ TB (phút)", "Chờ trung vị (phút)", "Chờ p90 (phút)",
              "Phục vụ TB (phút)", "Phục vụ trung vị (phút)", "Phục vụ p90 (phút)",
              "Trong thời gian mục tiêu (%)", *levels, "Hài lòng (%)"]
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for key, f in groups.items():
            writer.writerow([
                names.get(key, key), f.issued, f.served, f.no_shows, f.expired, f.waiting_now,
                *_spread_cells(f.wait), *_spread_cells(f.service_time),
                _percent_cell(f.within_target),
                *(f.ratings.get(level, 0) for level in range(1, len(levels) + 1)),
                _percent_cell(f.satisfied)])


def _spread_cells(spread: Spread) -> list[str]:
    return ["" if v is None else f"{v / 60:.1f}" for v in (spread.mean, spread.median, spread.p90)]


def _percent_cell(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def draw_charts(path: Path, hours: dict[int, Spread], total: Figures,
                levels: Sequence[str], title: str) -> None:
    """Waiting time by hour of day, and the ratings, labelled in Vietnamese."""
    from motcua.errors import require

    matplotlib = require("matplotlib", "report", "python3-matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    figure.suptitle(title)
    left.bar([f"{h}h" for h in hours], [s.median / 60 if s.median else 0 for s in hours.values()],
             color="#1f6feb", label="trung vị")
    left.plot([f"{h}h" for h in hours], [s.p90 / 60 if s.p90 else 0 for s in hours.values()],
              color="#d1242f", marker="o", label="p90")
    left.set_title("Thời gian chờ theo giờ lấy số")
    left.set_xlabel("Giờ trong ngày")
    left.set_ylabel("Phút")
    left.legend()
    counts = [total.ratings.get(level, 0) for level in range(1, len(levels) + 1)]
    right.bar(list(levels), counts, color=["#2da44e", "#79c0ff", "#d1242f"][: len(levels)])
    right.set_title(f"Đánh giá mức độ hài lòng ({sum(counts)} lượt)")
    right.set_ylabel("Số lượt")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _print_slip(config: SiteConfig, spec: str | None, lines: list[str]) -> None:
    from motcua.kiosk.printer import open_printer

    if spec is None:
        if not config.kiosks:
            raise MotcuaError("no [[kiosks]] in the config: say --printer SPEC")
        spec = config.kiosks[0].printer
    paper = config.kiosks[0].paper if config.kiosks else "80mm"
    printer = open_printer(spec, paper)
    try:
        printer.print_slip(lines)
    finally:
        printer.close()
