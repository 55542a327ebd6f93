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

from .figures import Figures, Spread, number_vi, satisfied_levels

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
                         hours=bool(options.png) and not options.by, target_wait_s=options.target_wait * 60,
                         satisfied_levels=satisfied_levels(levels))
    names = _names(config, options.by)
    total = report.total
    groups = report.groups.get(options.by, {})
    lines = list(summary_lines(config.site.name, start, end, total, groups, names, levels,
                               options.by, options.target_wait * 60))
    reasons = read_reasons(db, start, end)
    if reasons:      # after the period's own figures (three heading lines, then its figures)
        lines.insert(3 + len(list(_figure_lines(total, levels, options.target_wait * 60))),
                     "  Lý do chưa hài lòng: " + ", ".join(f"{r}: {n}" for r, n in reasons.items()))
    print("\n".join(lines))
    if options.csv:
        write_csv(options.csv, groups, names, levels, options.by or "day", total)
    if options.png:
        from .charts import draw_charts

        period = day_vi(start) if start == end else f"{day_vi(start)} – {day_vi(end)}"
        if options.by:
            waits = {(day_vi(k) if options.by == "day" else names.get(k, k)): f.wait
                     for k, f in groups.items()}
            wait_title = f"Thời gian chờ theo {BY_LABEL[options.by].lower()}"
        else:
            waits = {f"{hour}h": spread for hour, spread in report.wait_by_hour.items()}
            wait_title = "Thời gian chờ theo giờ lấy số"
        draw_charts(options.png, waits, wait_title, total, levels,
                    f"{config.site.name}: {period}", options.target_wait * 60)
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
    return "–" if value is None else f"{number_vi(value / 60)} phút"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def day_vi(day: date | str) -> str:
    """The report's one date format, dd/mm/yyyy."""
    return (date.fromisoformat(day) if isinstance(day, str) else day).strftime("%d/%m/%Y")


def summary_lines(office: str, start: date, end: date, total: Figures,
                  groups: dict[str, Figures], names: dict[str, str], levels: Sequence[str],
                  by: str | None, target_wait_s: float = 15 * 60) -> Iterable[str]:
    period = day_vi(start) if start == end else f"{day_vi(start)} – {day_vi(end)}"
    yield f"{office}"
    yield f"Báo cáo: {period}"
    yield f"Thời gian chờ mục tiêu: {number_vi(target_wait_s / 60, 0)} phút"
    yield from _figure_lines(total, levels, target_wait_s)
    for key, group in groups.items():
        yield ""
        label = day_vi(key) if by == "day" else names.get(key, key)
        yield f"{BY_LABEL[by or 'day']}: {label}"
        yield from _figure_lines(group, levels, target_wait_s)


def _figure_lines(f: Figures, levels: Sequence[str], target_wait_s: float) -> Iterable[str]:
    yield f"  Số phiếu đã cấp: {f.issued}"
    labels = ("đã phục vụ", "vắng mặt", "hết ngày chưa được gọi", "đang chờ", "đang được phục vụ")
    yield "    = " + " + ".join(f"{label} {n}" for label, n in zip(labels, f.outcomes(), strict=True))
    if f.wait.count:
        yield (f"  Thời gian chờ: trung bình {_minutes(f.wait.mean)}; một nửa số công dân chờ "
               f"dưới {_minutes(f.wait.median)}; 90 % công dân chờ dưới {_minutes(f.wait.p90)}")
        called = round(f.within_target * f.wait.count) if f.within_target is not None else 0
        yield (f"  Được gọi trong {number_vi(target_wait_s / 60, 0)} phút: {_share(f.within_target)}"
               f" ({called} trong {f.wait.count} công dân đã được gọi)")
    else:
        yield "  Thời gian chờ: chưa có công dân nào được gọi"
    if f.service_time.count:
        yield (f"  Thời gian phục vụ: trung bình {_minutes(f.service_time.mean)}; "
               f"90 % xong trong {_minutes(f.service_time.p90)}")
    if f.rated:
        counts = ", ".join(f"{levels[level - 1] if level <= len(levels) else level}: {n}"
                           for level, n in f.ratings.items())
        yield f"  Đánh giá ({f.rated} lượt): {counts}; hài lòng {_share(f.satisfied)}"
    else:
        yield "  Đánh giá: chưa có đánh giá"


TOTAL_ROW = "Tổng cộng"


def write_csv(path: Path, groups: dict[str, Figures], names: dict[str, str],
              levels: Sequence[str], by: str, total: Figures | None = None) -> None:
    """One row per group, then the total; UTF-8 with BOM so that spreadsheet programs show
    Vietnamese right. Numbers keep a dot for decimals so that any program reads them."""
    header = [BY_LABEL[by], "Số phiếu", "Đã phục vụ", "Vắng mặt", "Hết hạn", "Đang chờ",
              "Đang phục vụ",
              "Chờ TB (phút)", "Chờ trung vị (phút)", "90% chờ dưới (phút)",
              "Phục vụ TB (phút)", "Phục vụ trung vị (phút)", "90% phục vụ xong trong (phút)",
              "Trong thời gian mục tiêu (%)", *levels, "Hài lòng (%)"]
    rows = [(day_vi(key) if by == "day" and key[:1].isdigit() else names.get(key, key), f)
            for key, f in groups.items()]
    if total is not None:
        rows.append((TOTAL_ROW, total))
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for name, f in rows:
            writer.writerow([
                name, f.issued, f.served, f.no_shows, f.expired, f.waiting_now, f.serving_now,
                *_spread_cells(f.wait), *_spread_cells(f.service_time),
                _percent_cell(f.within_target),
                *(f.ratings.get(level, 0) for level in range(1, len(levels) + 1)),
                _percent_cell(f.satisfied)])


def _spread_cells(spread: Spread) -> list[str]:
    return ["" if v is None else f"{v / 60:.1f}" for v in (spread.mean, spread.median, spread.p90)]


def _percent_cell(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


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
