"""Hubs bridged to a central broker (real Mosquittos on loopback) and the centre writing into a
real PostgreSQL: outages, a hub restarting during one, a week of traffic, the per-site ACL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from centralrig import Hub, RunningCentre, central_settings
from motcua.central.bridge import bridge_section, write_central_broker_files
from motcua.central.settings import CentralSettings
from paho.mqtt.enums import CallbackAPIVersion
from rig import Mosquitto, eventually

SITES = ("xa-a", "xa-b", "phuong-c")


def central_broker(tmp_path: Path, sites) -> tuple[Mosquitto, dict[str, Path]]:
    files = write_central_broker_files(tmp_path / "central-files", sites)
    broker = Mosquitto(tmp_path / "central", extra_config=(
        "allow_anonymous false\n"
        f"password_file {tmp_path / 'central-files' / 'passwords'}\n"
        f"acl_file {tmp_path / 'central-files' / 'acl'}\n"
        # The central server's shipped settings (systemd/mosquitto/central.conf).
        f"{central_settings()}"))
    broker.start()
    return broker, files


def hub_broker(tmp_path: Path, site: str, central: Mosquitto, secret: Path) -> Mosquitto:
    settings = CentralSettings(url=central.url, host="127.0.0.1", port=central.port, tls=False,
                               username=site, password_file=secret, ca_file=None)
    broker = Mosquitto(tmp_path / f"hub-{site}",
                       extra_config=bridge_section(site, settings, restart_timeout="1 2"))
    broker.start()
    return broker


def central_rows(dsn: str, site: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as db:
        return [tuple(row) for row in db.execute(
            "SELECT seq, kind, id FROM history WHERE site = %s ORDER BY seq", (site,))]


def arrival_order_kept(dsn: str, site: str) -> bool:
    with psycopg.connect(dsn) as db:
        seqs = [row[0] for row in db.execute(
            "SELECT seq FROM history WHERE site = %s ORDER BY arrival", (site,))]
    return seqs == sorted(seqs)


def test_outage_and_a_hub_restart_lose_nothing_and_double_nothing(tmp_path: Path, pg_dsn: str):
    central, secrets = central_broker(tmp_path, SITES)
    hubs = {site: Hub(site, tmp_path / site) for site in SITES}
    brokers = {site: hub_broker(tmp_path, site, central, secrets[site]) for site in SITES}
    centre = RunningCentre(central.url, pg_dsn, password_file=secrets["central"])
    try:
        for site, hub in hubs.items():
            hub.start_publisher(brokers[site].url)
            hub.traffic(10)

        def all_in() -> bool:
            return all(central_rows(pg_dsn, site) == hub.log_rows() for site, hub in hubs.items())

        assert eventually(all_in, timeout=30), "the first traffic did not reach the centre"

        central.stop()                                  # the WAN (or the centre) is down
        for hub in hubs.values():
            hub.traffic(15)
        restarted = hubs["xa-b"]                        # one hub restarts during the outage
        restarted.stop_publisher()
        brokers["xa-b"].stop()
        restarted.traffic(5)                            # the caller went on logging meanwhile
        brokers["xa-b"].start()
        restarted.start_publisher(brokers["xa-b"].url)
        for hub in hubs.values():
            hub.traffic(5)
        # The hubs went on by themselves: everything is with their own brokers.
        assert eventually(lambda: all(h.publisher.sent == h.log_rows()[-1][0] for h in hubs.values()),
                          timeout=30)

        central.start()
        assert eventually(all_in, timeout=60), {
            site: (len(central_rows(pg_dsn, site)), len(hub.log_rows())) for site, hub in hubs.items()}
        for site, hub in hubs.items():
            assert arrival_order_kept(pg_dsn, site), site
            assert eventually(lambda hub=hub: hub.publisher.confirmed == hub.log_rows()[-1][0])
        with psycopg.connect(pg_dsn) as db:
            assert db.execute("SELECT count(*) FROM history").fetchone()[0] == \
                sum(len(hub.log_rows()) for hub in hubs.values())
            # Citizens' names stay in the office.
            assert db.execute("SELECT count(*) FROM history WHERE body::text LIKE '%%Nguyễn%%'"
                              ).fetchone()[0] == 0
            statuses = db.execute("SELECT site, role, device FROM device_status ORDER BY site").fetchall()
        assert ("xa-a", "caller", "history") in statuses
    finally:
        centre.close()
        for hub in hubs.values():
            hub.close()
        for broker in brokers.values():
            broker.stop()
        central.stop()


def test_rows_lost_on_the_way_are_asked_for_and_sent_again(tmp_path: Path, pg_dsn: str):
    """A hub whose broker lost its queue (no persistence left): the centre sees the gap from
    the head and the next event, asks, and the hub answers from its log, oldest first."""
    central, secrets = central_broker(tmp_path, ["xa-a"])
    hub = Hub("xa-a", tmp_path / "xa-a")
    broker = hub_broker(tmp_path, "xa-a", central, secrets["xa-a"])
    centre = RunningCentre(central.url, pg_dsn, password_file=secrets["central"])
    try:
        hub.start_publisher(broker.url)
        hub.traffic(5)
        assert eventually(lambda: central_rows(pg_dsn, "xa-a") == hub.log_rows(), timeout=30)
        central.stop()
        hub.traffic(10)
        assert eventually(lambda: hub.publisher.sent == hub.log_rows()[-1][0], timeout=30)
        broker.stop(kill=True)
        for leftover in broker.workdir.glob("mosquitto.db*"):
            leftover.unlink()                           # the hub's broker lost what it queued
        broker.start()
        central.start()
        hub.traffic(2)
        assert eventually(lambda: central_rows(pg_dsn, "xa-a") == hub.log_rows(), timeout=60)
        assert hub.publisher.answered > 0
        assert arrival_order_kept(pg_dsn, "xa-a")
    finally:
        centre.close()
        hub.close()
        broker.stop()
        central.stop()


def test_a_week_offline_catches_up_by_itself(tmp_path: Path, pg_dsn: str, soak: bool):
    """Default: a small week (7 × 40 tickets); with --soak a busy week (7 × 600 tickets,
    12,600 rows). The catch-up time is printed; docs/central.md states it."""
    per_day = 600 if soak else 40
    central, secrets = central_broker(tmp_path, ["xa-a"])
    hub = Hub("xa-a", tmp_path / "xa-a")
    broker = hub_broker(tmp_path, "xa-a", central, secrets["xa-a"])
    centre = RunningCentre(central.url, pg_dsn, password_file=secrets["central"])
    try:
        hub.start_publisher(broker.url)
        central.stop()
        for _ in range(7):
            hub.traffic(per_day)
        rows = hub.log_rows()
        assert eventually(lambda: hub.publisher.sent == rows[-1][0], timeout=120)
        started = time.monotonic()
        central.start()
        assert eventually(lambda: central_rows(pg_dsn, "xa-a") == rows, timeout=300)
        took = time.monotonic() - started
        print(f"\na week offline ({len(rows)} rows) caught up in {took:.1f} s")
        assert arrival_order_kept(pg_dsn, "xa-a")
    finally:
        centre.close()
        hub.close()
        broker.stop()
        central.stop()


def _client(broker: Mosquitto, username: str, password: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{username}")
    client.username_pw_set(username, password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: (not reason.is_failure) and connected.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert connected.wait(10)
    return client


def test_a_site_may_publish_only_under_its_own_site(tmp_path: Path):
    central, secrets = central_broker(tmp_path, ["xa-a", "xa-b"])
    seen: list[str] = []
    changed = threading.Condition()
    try:
        watcher = _client(central, "central", secrets["central"].read_text().strip())
        subscribed = threading.Event()
        watcher.on_subscribe = lambda *a: subscribed.set()

        def on_message(client, userdata, message) -> None:
            with changed:
                seen.append(message.topic)
                changed.notify_all()

        watcher.on_message = on_message
        watcher.subscribe("motcua/+/history/event", 1)
        assert subscribed.wait(10)
        password = secrets["xa-a"].read_text().strip()
        intruder = _client(central, "xa-a", password)
        denied = intruder.publish("motcua/xa-b/history/event", b"{}", qos=1)
        # Mosquitto 2.0 acknowledges the denied publish (MQTT 3.1.1 cannot refuse one), drops
        # it, and closes the connection.
        assert eventually(lambda: denied.is_published() or not intruder.is_connected())
        intruder.loop_stop()
        own = _client(central, "xa-a", password)
        own.publish("motcua/xa-a/history/event", b"{}", qos=1).wait_for_publish(5)
        with changed:
            assert changed.wait_for(lambda: "motcua/xa-a/history/event" in seen, timeout=10)
        # Its own topic (sent after) arrived; the other site's never did.
        assert "motcua/xa-b/history/event" not in seen
        # Nor may a site read another site's requests.
        got: list[str] = []
        own.on_message = lambda c, u, m: got.append(m.topic)
        granted = threading.Event()
        own.on_subscribe = lambda *a: granted.set()
        own.subscribe([("motcua/xa-b/history/request", 1), ("motcua/xa-a/history/request", 1)])
        assert granted.wait(10)
        watcher.publish("motcua/xa-b/history/request", b"{}", qos=1).wait_for_publish(5)
        watcher.publish("motcua/xa-a/history/request", b"{}", qos=1).wait_for_publish(5)
        assert eventually(lambda: "motcua/xa-a/history/request" in got, timeout=10)
        assert "motcua/xa-b/history/request" not in got
        watcher.disconnect()
        own.disconnect()
    finally:
        central.stop()


@pytest.mark.parametrize("tls", [False, True])
def test_bridge_section_carries_only_history_and_status(tmp_path: Path, tls: bool):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = CentralSettings(url="mqtts://tinh.example.vn" if tls else "mqtt://10.0.0.1",
                               host="tinh.example.vn" if tls else "10.0.0.1",
                               port=8883 if tls else 1883, tls=tls, username="xa-a",
                               password_file=secret, ca_file=tmp_path / "ca.crt" if tls else None)
    text = bridge_section("xa-a", settings)
    topics = [line for line in text.splitlines() if line.startswith("topic ")]
    assert topics == ["topic history/event out 1 motcua/xa-a/ motcua/xa-a/",
                      "topic history/head out 1 motcua/xa-a/ motcua/xa-a/",
                      "topic status/# out 1 motcua/xa-a/ motcua/xa-a/",
                      "topic history/request in 1 motcua/xa-a/ motcua/xa-a/",
                      "topic history/ack in 1 motcua/xa-a/ motcua/xa-a/"]
    assert "cleansession false" in text and "remote_password s3cret" in text
    assert ("bridge_cafile " + str(tmp_path / "ca.crt") in text) == tls


def rows_by_log(dsn: str, site: str) -> dict[str, list[tuple[int, str, str]]]:
    """Each log's rows in the order they were written."""
    logs: dict[str, list[tuple[int, str, str]]] = {}
    with psycopg.connect(dsn) as db:
        for log, seq, kind, id_ in db.execute(
                "SELECT log, seq, kind, id FROM history WHERE site = %s ORDER BY arrival", (site,)):
            logs.setdefault(log, []).append((seq, kind, id_))
    return logs


def test_a_replaced_caller_db_is_a_new_log_and_copies_are_still_dropped(tmp_path: Path,
                                                                         pg_dsn: str):
    """The hub's caller.db is set aside while its publisher runs; the new log numbers its rows
    from 1 again: they reach PostgreSQL as a new log of the site; copies of either log change
    nothing."""
    from motcua.central.publisher import HistoryLog

    from motcua.protocol import encode

    central, secrets = central_broker(tmp_path, ["xa-a"])
    hub = Hub("xa-a", tmp_path / "xa-a")
    broker = hub_broker(tmp_path, "xa-a", central, secrets["xa-a"])
    centre = RunningCentre(central.url, pg_dsn, password_file=secrets["central"])
    try:
        hub.start_publisher(broker.url)
        hub.traffic(5)
        old_rows = hub.log_rows()
        old = HistoryLog(hub.log_path, "xa-a")
        old_events = old.after(0, 100)
        assert eventually(lambda: rows_by_log(pg_dsn, "xa-a") == {old.identity: old_rows},
                          timeout=30), rows_by_log(pg_dsn, "xa-a")

        hub.replace_log()
        hub.traffic(4)
        new_rows = hub.log_rows()
        assert [seq for seq, _, _ in new_rows] == list(range(1, 13))     # numbered from 1 again
        new = HistoryLog(hub.log_path, "xa-a")
        assert new.identity != old.identity
        assert eventually(lambda: rows_by_log(pg_dsn, "xa-a") == {old.identity: old_rows,
                                                                   new.identity: new_rows},
                          timeout=30), rows_by_log(pg_dsn, "xa-a")
        with psycopg.connect(pg_dsn) as db:
            assert db.execute("SELECT log, upto FROM sites").fetchall() == [(new.identity, 12)]
        assert eventually(lambda: hub.publisher.confirmed == 12, timeout=30)

        # Copies of both logs, as a bridge resends after a lost acknowledgement.
        copies_before = centre.centre.sequencer.copies
        resend = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="resend")
        resend.connect("127.0.0.1", broker.port)
        resend.loop_start()
        for event in [*old_events, *new.after(0, 100)]:
            resend.publish("motcua/xa-a/history/event", encode(event), qos=1).wait_for_publish(10)
        resend.disconnect()
        resend.loop_stop()
        assert eventually(lambda: centre.centre.sequencer.copies - copies_before == 27,
                          timeout=30), centre.centre.sequencer.copies - copies_before
        assert rows_by_log(pg_dsn, "xa-a") == {old.identity: old_rows, new.identity: new_rows}
        old.close()
        new.close()
    finally:
        centre.close()
        hub.close()
        broker.stop()
        central.stop()
