"""Kiosk test helpers shared by the conftest, the tests and the bench scripts."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

from motcua.kiosk.daemon import Kiosk, pick_kiosk, serve

from motcua.config import SiteConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"


def kiosk_config(directory: Path, broker_url: str, printer: str, kiosk_keys: str = "") -> Path:
    """The example config for the test broker and printer, with extra lines in [[kiosks]]."""
    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{state}"', text)
    text = re.sub(r'(?m)^url = .*$', f'url = "{broker_url}"', text)
    text = re.sub(r'(?m)^printer = .*$', f'printer = "{printer}"', text)
    text = re.sub(r'(?m)^(paper = "80mm")$', lambda m: f"{m.group(1)}\n{kiosk_keys}", text, count=1)
    path = directory / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


class RunningKiosk:
    """The real kiosk wiring (serve) in a thread, on mock GPIO; stop() ends it like SIGTERM."""

    def __init__(self, config: SiteConfig, mock_factory, **serve_options) -> None:
        self.config = config
        self.settings = pick_kiosk(config, None)
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.kiosk: Kiosk | None = None
        self.error: BaseException | None = None
        self.mock_factory = mock_factory
        self.thread = threading.Thread(target=self._serve, args=(serve_options,), daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise TimeoutError(f"kiosk did not start: {self.error!r}")

    def _serve(self, options: dict) -> None:
        def started(kiosk: Kiosk) -> None:
            self.kiosk = kiosk
            self.ready.set()

        try:
            serve(self.config, self.settings, self.stop_event, printer_spec=self.settings.printer,
                  pin_factory=self.mock_factory, started=started, **options)
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            raise

    def press(self, pin: int) -> None:
        self.mock_factory.pin(pin).drive_low()
        self.mock_factory.pin(pin).drive_high()

    @property
    def db_path(self) -> Path:
        return self.config.site.state_dir / f"kiosk-{self.settings.id}.db"

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(sql).fetchall()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
