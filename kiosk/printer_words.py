"""What a printer state means, in the same words in the kiosk's log, on its status topic and
in `motcua doctor` (pure; the states come from kiosk/printer.py)."""

from __future__ import annotations

PRINTER_WORDS = {
    "ok": "ready",
    "offline": "not found, switched off or unplugged",
    "paper_out": "out of paper",
    "cover_open": "cover open",
    "error": "printer error (paper jam, cutter or overheating)",
    "unknown": "does not report paper or cover",
}


def printer_says(state: str) -> str:
    """The words for a printer state ("paper_out" -> "out of paper")."""
    return PRINTER_WORDS.get(state, state)
