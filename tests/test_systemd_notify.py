"""systemd's notify protocol, spoken to a real datagram socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from motcua.daemon import Systemd


def test_notify_reaches_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    systemd = Systemd()
    assert systemd.watchdog_interval == 10.0
    systemd.ready("serving")
    systemd.watchdog()
    systemd.stopping()
    assert server.recv(100) == b"READY=1\nSTATUS=serving"
    assert server.recv(100) == b"WATCHDOG=1"
    assert server.recv(100) == b"STOPPING=1"
    server.close()


def test_without_systemd_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    systemd = Systemd()
    assert systemd.watchdog_interval is None
    systemd.ready()   # must not raise
