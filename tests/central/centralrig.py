"""Real parts for the centre's tests: PostgreSQL from Debian's package, hubs with a caller's
event log, a publisher and a centre on threads of the test process."""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rig import eventually, free_port, wait_for_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def pg_bin() -> Path:
    if (PG_BIN / "initdb").exists():
        return PG_BIN
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL is not installed (scripts/system-deps test installs it)")


class PostgreSQL:
    """A real postgres on a free loopback port, in its own temporary cluster."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable          # tests run without fsync; bench/ runs as production would
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="motcua-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            # postgres refuses to run as root: the distribution's postgres user runs it.
            self.user = "postgres"
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.process: subprocess.Popen | None = None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                        "-U", self.user, "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
                       check=True, capture_output=True)
        self.process = subprocess.Popen(
            [*self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             *([] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                        "-c", "full_page_writes=off"])],
            stdout=(self.dir / "postgres.log").open("ab"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=30)
        import psycopg

        def accepts() -> bool:      # the port opens before recovery ends ("starting up")
            try:
                psycopg.connect(self.admin_dsn, connect_timeout=5).close()
                return True
            except psycopg.OperationalError:
                return False

        if not eventually(accepts, timeout=60):
            raise RuntimeError(f"PostgreSQL did not start: see {self.dir / 'postgres.log'}")

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


def ticket_event(n: int, at: datetime, *, name: str | None = None):
    from motcua.caller.engine import Event

    from motcua.protocol import Ticket, new_id

    ticket = Ticket(id=new_id(), service="dat-dai", number=f"{1000 + n}", seq=1000 + n,
                    day=at.date().isoformat(), issued_at=at.isoformat(), kiosk="k1", name=name)
    return Event("ticket", ticket.id, at, ticket=ticket)


def command_event(action: str, at: datetime, counter: str = "1"):
    from motcua.caller.engine import Event

    from motcua.protocol import CounterCommand, new_id

    command = CounterCommand(id=new_id(), action=action)
    return Event("command", command.id, at, counter=counter, command=command)


class Hub:
    """A commune's hub as the centre sees it: the caller's event log (caller/store.py, written
    here as the caller writes it), its broker with the bridge, and the publisher."""

    def __init__(self, site: str, workdir: Path) -> None:
        from motcua.caller.store import EventStore

        self.site = site
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "caller.db"
        self.store = EventStore(self.log_path)
        self.clock = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=7)))
        self.n = 0
        self.thread: threading.Thread | None = None
        self.stop_event = threading.Event()
        self.publisher = None
        self.link = None

    def traffic(self, tickets: int) -> None:
        """``tickets`` tickets, each issued, called and done: three log rows each."""
        self.store.begin()
        for _ in range(tickets):
            self.n += 1
            self.clock += timedelta(seconds=30)
            self.store.append(ticket_event(self.n, self.clock, name="Nguyễn Văn An"))
            self.store.append(command_event("next", self.clock + timedelta(seconds=5)))
            self.store.append(command_event("done", self.clock + timedelta(seconds=20)))
        self.store.commit()

    def replace_log(self) -> None:
        """The caller's database set aside (as the caller does with a damaged one, or a
        technician with a bad one): the caller starts a new, empty log at the same path."""
        from motcua.caller.store import EventStore, set_aside

        self.store.close()
        set_aside(self.log_path)
        self.store = EventStore(self.log_path)

    def log_rows(self) -> list[tuple[int, str, str]]:
        return [tuple(row) for row in self.store.db.execute(
            "SELECT seq, kind, msg_id FROM events ORDER BY seq")]

    def start_publisher(self, broker_url: str) -> None:
        from motcua.central.publisher import PACE as PUBLISHER_PACE
        from motcua.central.publisher import HistoryLog, Publisher, PublisherState

        from motcua.config import BrokerSettings, parse_broker_url
        from motcua.daemon import Systemd, owner_loop
        from motcua.mqtt import Session, ThreadedLink
        from motcua.protocol import HistoryTopics, Topics

        host, port, tls = parse_broker_url(broker_url)
        settings = BrokerSettings(host=host, port=port, tls=tls, username=None, password_file=None,
                                  ca_file=None, keepalive=10)
        inbox: queue.Queue = queue.Queue()
        topics = HistoryTopics(self.site)
        self.link = ThreadedLink(settings, Topics(self.site), role="caller", device="history", inbox=inbox,
                         session=Session.KEPT, report_publishes=True,
                         subscriptions=[(topics.request, 1), (topics.ack, 1)])
        self.history = HistoryLog(self.log_path, self.site)
        self.state = PublisherState(self.workdir / "history.db")
        self.publisher = Publisher(self.history, self.state, self.link, poll_s=0.05)
        self.stop_event = threading.Event()
        self.link.start()
        self.thread = threading.Thread(target=owner_loop, args=(self.publisher,), daemon=True,
                                       kwargs=dict(link=self.link, inbox=inbox, stop=self.stop_event,
                                                   systemd=Systemd(), pace=PUBLISHER_PACE))
        self.thread.start()

    def stop_publisher(self) -> None:
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(10)
            self.link.stop()
            self.history.close()
            self.state.close()
            self.thread = None

    def close(self) -> None:
        self.stop_publisher()
        self.store.close()


class RunningCentre:
    """``motcua central``'s owner on a thread, on the central broker as user ``central``."""

    def __init__(self, broker_url: str, dsn: str, *, password_file: Path | None = None,
                 grace_s: float = 0.5, retry_s: float = 2.0) -> None:
        from motcua.central.centre import PACE as CENTRE_PACE
        from motcua.central.centre import Centre, centre_link
        from motcua.central.store import CentralStore

        from motcua.config import BrokerSettings, parse_broker_url
        from motcua.daemon import Systemd, owner_loop
        from motcua.mqtt import WakingQueue

        host, port, tls = parse_broker_url(broker_url)
        settings = BrokerSettings(host=host, port=port, tls=tls,
                                  username="central" if password_file else None,
                                  password_file=password_file, ca_file=None, keepalive=10)
        self.store = CentralStore(dsn)
        self.store.migrate()
        inbox = WakingQueue()
        self.link = centre_link(settings, inbox)
        self.centre = Centre(self.store, self.link, grace_s=grace_s, retry_s=retry_s)
        self.stop_event = threading.Event()
        self.link.start()
        def run() -> None:        # as run_daemon: the loop, then the clean stop's finish
            owner_loop(self.centre, link=self.link, inbox=inbox, stop=self.stop_event,
                       systemd=Systemd(), pace=CENTRE_PACE)
            self.centre.stop()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        self.link.stop()
        self.store.close()


CENTRAL_CONF = Path(__file__).resolve().parents[2] / "systemd" / "mosquitto" / "central.conf"
# Lines of the central broker's config that name its own files and ports: the rig's Mosquitto
# puts its own listener (and accounts, when asked) in their place.
_CENTRE_ONLY = {"listener", "cafile", "certfile", "keyfile", "tls_version", "max_connections",
                "password_file", "acl_file", "allow_anonymous", "per_listener_settings"}


def central_settings(*, accounts: bool = True) -> str:
    """The central broker's shipped behaviour (systemd/mosquitto/central.conf), as a rig
    Mosquitto's ``extra_config``: tests and benches run what the central server runs.
    Without ``accounts`` (anonymous clients) client ids cannot be user names."""
    leave_out = _CENTRE_ONLY | (set() if accounts else {"use_username_as_clientid"})
    lines = []
    for line in CENTRAL_CONF.read_text(encoding="utf-8").splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() and not line.startswith("#") else ""
        if key and key not in leave_out:
            lines.append(line)
    return "\n".join(lines) + "\n"
