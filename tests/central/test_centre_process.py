"""``motcua central`` as its own process, killed with SIGKILL while it writes: nothing lost,
nothing doubled, order kept (manual acks after the commit, a persistent session)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psycopg
from centralrig import Hub
from rig import eventually, start_daemon
from test_central_bridge import arrival_order_kept, central_broker, central_rows, hub_broker


def count(dsn: str) -> int:
    with psycopg.connect(dsn) as db:
        if db.execute("SELECT to_regclass('history')").fetchone()[0] is None:
            return 0            # the centre has not made its tables yet
        return db.execute("SELECT count(*) FROM history").fetchone()[0]


def test_kill_the_centre_while_it_writes(tmp_path: Path, pg_dsn: str, soak: bool):
    central, secrets = central_broker(tmp_path, ["xa-a"])
    hub = Hub("xa-a", tmp_path / "xa-a")
    broker = hub_broker(tmp_path, "xa-a", central, secrets["xa-a"])
    logs = tmp_path / "logs"
    logs.mkdir()
    args = ["central", "--broker", central.url, "--db", pg_dsn,
            "--password-file", str(secrets["central"])]
    process: subprocess.Popen | None = None
    try:
        hub.start_publisher(broker.url)
        process = start_daemon("central-1", args, logs)
        hub.traffic(2)
        assert eventually(lambda: count(pg_dsn) == 6, timeout=30), (logs / "central-1.log").read_text()
        for round in range(3 if soak else 1):
            hub.traffic(3000 if soak else 1000)
            total = len(hub.log_rows())
            assert eventually(lambda total=total: count(pg_dsn) > total - 2900, timeout=60)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            print(f"killed with {count(pg_dsn)} of {total} rows written")
            process = start_daemon(f"central-{round + 2}", args, logs)
            assert eventually(lambda: central_rows(pg_dsn, "xa-a") == hub.log_rows(), timeout=120)
            assert arrival_order_kept(pg_dsn, "xa-a")
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        hub.close()
        broker.stop()
        central.stop()


def test_kill_the_hub_publisher_while_it_sends(tmp_path: Path, pg_dsn: str):
    from centralrig import RunningCentre
    from rig import write_site_config

    central, secrets = central_broker(tmp_path, ["liem-chung"])
    broker = hub_broker(tmp_path, "liem-chung", central, secrets["liem-chung"])
    config = write_site_config(tmp_path / "hub", broker_url=broker.url)
    hub = Hub("liem-chung", tmp_path / "hub-log")
    logs = tmp_path / "logs"
    logs.mkdir()
    args = ["central-publisher", "--config", str(config), "--db", str(hub.log_path)]
    centre = RunningCentre(central.url, pg_dsn, password_file=secrets["central"])
    process: subprocess.Popen | None = None
    try:
        hub.traffic(1000)
        total = len(hub.log_rows())
        process = start_daemon("publisher-1", args, logs)
        assert eventually(lambda: count(pg_dsn) > 100, timeout=60), \
            (logs / "publisher-1.log").read_text()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        print(f"killed with {count(pg_dsn)} of {total} rows in the centre")
        hub.traffic(10)                                 # the caller logs on meanwhile
        process = start_daemon("publisher-2", args, logs)
        assert eventually(lambda: central_rows(pg_dsn, "liem-chung") == hub.log_rows(), timeout=120)
        assert arrival_order_kept(pg_dsn, "liem-chung")
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        centre.close()
        hub.close()
        broker.stop()
        central.stop()
