"""A printer's states and what each means, in the same words in the kiosk's log, on its
status topic (its health's ``printer``) and in `motcua doctor` (pure; kiosk/printer.py
reads the states from the printer)."""

from __future__ import annotations

import enum


class PrinterState(enum.StrEnum):
    OK = "ok"
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    ERROR = "error"
    UNKNOWN = "unknown"          # the printer does not answer status requests


# No ticket goes to a printer in one of these states.
FAULT_STATES = (PrinterState.OFFLINE, PrinterState.PAPER_OUT, PrinterState.COVER_OPEN,
                PrinterState.ERROR)

PRINTER_WORDS: dict[str, str] = {
    PrinterState.OK: "ready",
    PrinterState.OFFLINE: "not found, switched off or unplugged",
    PrinterState.PAPER_OUT: "out of paper",
    PrinterState.COVER_OPEN: "cover open",
    PrinterState.ERROR: "printer error (paper jam, cutter or overheating)",
    PrinterState.UNKNOWN: "does not report paper or cover",
}


def printer_says(state: str) -> str:
    """The words for a printer state ("paper_out" -> "out of paper")."""
    return PRINTER_WORDS.get(state, state)
