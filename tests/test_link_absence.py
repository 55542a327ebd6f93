"""Never silent when the hub is away (issue 15, item 1).

`motcua counter --broker mqtt://127.0.0.1:1` printed "connecting to …" and then nothing for
67 s. Now the link warns within 5 s naming the broker and the reason, again with a growing
interval, and tells the daemon (LinkDown) even when it never connected, so the kiosk's LED
and the board show that the hub is missing.
"""

from __future__ import annotations

import itertools
import logging
import queue
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rig import eventually, free_port, next_of, write_site_config

from motcua.config import BrokerSettings
from motcua.mqtt import (
    AbsenceWarnings,
    Link,
    LinkDown,
    LinkUp,
    OwnerPolledLink,
    ThreadedLink,
    WakingQueue,
    diagnose,
)
from motcua.protocol import Topics

TOPICS = Topics("test-site")


def settings(host: str, port: int) -> BrokerSettings:
    return BrokerSettings(host=host, port=port, tls=False, username=None, password_file=None,
                          ca_file=None, keepalive=30)


def warnings_of(caplog: pytest.LogCaptureFixture, url: str) -> list[logging.LogRecord]:
    """This link's warnings (links of other tests may still be warning about their brokers)."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "motcua.mqtt"
            and url in r.getMessage()]


@pytest.mark.parametrize("owner_polls", [False, True])
def test_a_refused_broker_is_named_with_the_reason_within_5_s(caplog, owner_polls) -> None:
    caplog.set_level(logging.INFO, logger="motcua.mqtt")
    port = free_port()                                   # nothing listens there
    url = f"mqtt://127.0.0.1:{port}"
    inbox: queue.Queue = WakingQueue()
    link: Link = (OwnerPolledLink if owner_polls else ThreadedLink)(
        settings("127.0.0.1", port), TOPICS, role="counter", device="1", inbox=inbox)
    began = time.monotonic()
    link.start()
    try:
        def warned() -> bool:
            if isinstance(link, OwnerPolledLink):
                link.poll(0.05)
            return bool(warnings_of(caplog, url))

        assert eventually(warned, timeout=10)
        elapsed = time.monotonic() - began
        message = warnings_of(caplog, url)[0].getMessage()
        assert f"mqtt://127.0.0.1:{port}" in message and "connection refused" in message.lower(), message
        assert elapsed <= 5.0, f"the first warning came after {elapsed:.1f} s"
        down = next_of(inbox, LinkDown, timeout=5)
        assert "connection refused" in down.reason
    finally:
        link.stop()


def test_an_unknown_host_is_said_so(caplog) -> None:
    caplog.set_level(logging.INFO, logger="motcua.mqtt")
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(settings("motcua-hub.invalid", 1883), TOPICS, role="kiosk", device="k1", inbox=inbox)
    link.start()
    try:
        url = "mqtt://motcua-hub.invalid:1883"
        assert eventually(lambda: bool(warnings_of(caplog, url)), timeout=10)
        assert "cannot find the host" in warnings_of(caplog, url)[0].getMessage()
    finally:
        link.stop()


def test_warnings_repeat_with_a_growing_interval() -> None:
    schedule, now = [], 0.0
    warnings = AbsenceWarnings(now)
    while now < 900:
        now += 0.25
        if warnings.due(now):
            schedule.append(round(now))
            warnings.warned(now)
    assert schedule[:6] == [3, 9, 21, 45, 93, 189]
    gaps = [b - a for a, b in itertools.pairwise(schedule)]
    assert max(gaps) <= 300 and gaps == sorted(gaps)
    warnings.reset(now)
    assert not warnings.due(now + 2.9) and warnings.due(now + 3.0)


def test_the_diagnosis_names_what_is_wrong() -> None:
    port = free_port()
    assert "connection refused" in diagnose("127.0.0.1", port, tls=False)
    assert "cannot find the host" in diagnose("nowhere.invalid", port, tls=False)
    assert "refused the connection: Not authorized" in diagnose(
        "127.0.0.1", port, tls=False, refusal="Not authorized")


def test_the_broker_coming_back_is_said_and_the_daemon_hears_it(caplog, tmp_path: Path) -> None:
    from rig import Mosquitto

    caplog.set_level(logging.INFO, logger="motcua.mqtt")
    server = Mosquitto(tmp_path / "mosquitto")
    inbox: queue.Queue = queue.Queue()
    link = ThreadedLink(settings("127.0.0.1", server.port), TOPICS, role="display", device="tv",
                inbox=inbox, subscriptions=[(TOPICS.board, 1)])
    link.start()
    try:
        next_of(inbox, LinkDown, timeout=10)
        server.start()
        next_of(inbox, LinkUp, timeout=30)
        url = f"mqtt://127.0.0.1:{server.port}"
        assert eventually(lambda: any("reachable again" in r.getMessage()
                                      for r in warnings_of(caplog, url)), timeout=10)
    finally:
        link.stop()
        server.stop()


def test_a_counter_pad_started_without_a_hub_says_so_on_stderr(tmp_path: Path) -> None:
    """The issue's own command: `motcua counter --broker mqtt://127.0.0.1:<nothing>`."""
    port = free_port()
    config = write_site_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "motcua.cli", "counter", "--config", str(config), "--counter", "1",
         "--keyboard", "--broker", f"mqtt://127.0.0.1:{port}"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lines: list[tuple[float, str]] = []
        deadline = time.monotonic() + 30
        assert process.stderr is not None
        while time.monotonic() < deadline and not any("no broker at" in text for _, text in lines):
            ready, _, _ = select.select([process.stderr], [], [], 1)
            if ready:
                line = process.stderr.readline().decode("utf-8", "replace")
                if not line:
                    break
                lines.append((time.monotonic(), line))
        connecting = [at for at, text in lines if "connecting to" in text]
        warned = [(at, text) for at, text in lines if "no broker at" in text]
        assert connecting and warned, [text for _, text in lines]
        assert warned[0][0] - connecting[0] <= 5.0
        assert f"mqtt://127.0.0.1:{port}" in warned[0][1] and "connection refused" in warned[0][1]
    finally:
        process.terminate()
        process.wait(timeout=10)
