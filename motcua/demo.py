"""``motcua demo``: the whole office on one machine, no hardware.

A broker (Mosquitto when installed, else the embedded pure-Python one), the
caller, the board, the kiosk and the counter pads that serve every service of the
kiosk run as separate processes, as on real Pis. Keys typed here press their
buttons (rating keys rate the counter that pressed last); tickets become PNG files;
announcements go to the speakers, or to WAV files when there are none; the board
is a window, or PNG snapshots when there is no screen. Each ticket, call and rating
is printed as it happens. Esc stops it in a few seconds; Ctrl-C reaches only the
demo (its processes have their own session), which stops the daemons, then the broker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import tomllib
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .config import SiteConfig, load_config
from .errors import MotcuaError
from .protocol import Board, Called, Presence, Rating, Received, Status, Ticket, Topics

QUIT_KEYS = {"\x1b", "\x03", "\x04"}   # Esc, Ctrl-C, Ctrl-D
RATING_KEYS = "789"                    # free beside the kiosk's digits and the counters' letters
STOP_S = 2.5                           # daemons get this long to save and stop, together


def find_example() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "examples" / "liem-chung.toml",
                      Path(sys.prefix) / "share" / "motcua" / "examples" / "liem-chung.toml"):
        if candidate.exists():
            return candidate
    raise MotcuaError("the example office config was not found; pass --config FILE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        threading.Event().wait(0.1)
    raise MotcuaError(f"the demo broker did not start on port {port}")


def has_speakers() -> bool:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and (Path(runtime, "pulse", "native").exists()
                    or Path(runtime, "pipewire-0").exists()):
        return True
    return any(Path("/dev/snd").glob("pcmC*D*p"))


def has_web() -> bool:
    """The web pages need the ``web`` extra (Starlette, uvicorn)."""
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("starlette", "uvicorn"))


def web_section(config_path: Path, url: str) -> None:
    """Tickets' QR codes open their pages at ``url`` (when the config has no [web] of its own)."""
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[web]\nurl = "{url}"\n')


def has_screen() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def demo_config(source: Path, out: Path) -> Path:
    """The office config with its state kept under the demo folder."""
    text = source.read_text(encoding="utf-8")
    line = f'state_dir = "{out / "state"}"'
    text, count = re.subn(r"(?m)^state_dir\s*=.*$", line, text)
    if not count:
        text = re.sub(r"(?m)^\[site\]\s*$", f"[site]\n{line}", text, count=1)
    if "rating" not in tomllib.loads(text).get("counter_pad", {}):
        # Rating keys, so the demo can show a rating (a real office has rating buttons).
        text += f'\n[counter_pad.rating]\nkeys = {list(RATING_KEYS)!r}\n'.replace("'", '"')
    path = out / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def demo_counters(config: SiteConfig) -> list[str]:
    """Counters, in config order, until every service of the kiosk's buttons is served."""
    wanted = {b.service for b in config.kiosks[0].buttons}
    chosen: list[str] = []
    covered: set[str] = set()
    for counter in config.counters:
        if wanted <= covered:
            break
        if set(counter.services) & (wanted - covered):
            chosen.append(counter.id)
            covered |= set(counter.services)
    return chosen or [config.counters[0].id]


def served(config: SiteConfig, counters: list[str]) -> set[str]:
    return {s for c in counters for s in config.counter(c).services}


class Office:
    """The demo's processes, started and stopped together."""

    def __init__(self, config: SiteConfig, config_path: Path, out: Path, audio: str) -> None:
        self.config = config
        self.config_path = config_path
        self.out = out
        self.audio = audio
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.web_port = free_port()
        self.web_url = config.web.url or f"http://127.0.0.1:{self.web_port}"
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start_broker(self, *, embedded: bool = False) -> str:
        mosquitto = None if embedded else shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if mosquitto:
            conf = self.out / "mosquitto.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "max_queued_messages 0\nset_tcp_nodelay true\n", encoding="utf-8")
            command, name = [mosquitto, "-c", str(conf)], "mosquitto"
        else:
            command = [sys.executable, "-m", "motcua.embedded_broker", "--port", str(self.port)]
            name = "embedded broker (amqtt)"
        self._spawn("broker", command)
        wait_for_port(self.port)
        return name

    def _spawn(self, name: str, command: list[str], *, keys: bool = False,
               env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        # Their own session: Ctrl-C in the terminal reaches the demo only, which stops the
        # daemons first and the broker last (so they can say offline and save in order).
        self.processes[name] = subprocess.Popen(
            command, stdin=subprocess.PIPE if keys else subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True)

    def role(self, name: str, *args: str, keys: bool = False,
             env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "motcua.cli", *args, "--config", str(self.config_path),
                   "--broker", self.url]
        self._spawn(name, command, keys=keys, env=env)

    def start_roles(self, counters: list[str], board_window: bool) -> None:
        self.role("caller", "caller", "--audio", self.audio)
        if has_web():
            self.role("web", "web", "--listen", f"127.0.0.1:{self.web_port}")
        if board_window:
            self.role("display", "display", "--size", "1280x720")
        tickets = self.out / "tickets"
        tickets.mkdir(exist_ok=True)
        kiosk = self.config.kiosks[0].id
        self.role("kiosk", "kiosk", "--kiosk", kiosk, "--printer", f"png:{tickets}", "--keyboard",
                  keys=True)
        for counter in counters:
            self.role(f"counter-{counter}", "counter", "--counter", counter, "--keyboard",
                      keys=True)

    def snapshot(self) -> None:
        """Render the board to out/board.png (used when there is no screen)."""
        command = [sys.executable, "-m", "motcua.cli", "display", "--config",
                   str(self.config_path), "--broker", self.url, "--size", "1280x720",
                   "--snapshot", str(self.out / "board.png"), "--timeout", "5"]
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, check=False)

    def press(self, name: str, key: str) -> None:
        process = self.processes.get(name)
        if process and process.poll() is None and process.stdin:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(key.encode())
                process.stdin.flush()

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        """The daemons together (each saves and says offline), then the broker."""
        daemons = [p for name, p in self.processes.items() if name != "broker"]
        self._stop_all(daemons, STOP_S)
        if "broker" in self.processes:
            self._stop_all([self.processes["broker"]], 2.0)

    @staticmethod
    def _stop_all(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            if process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Watcher:
    """Prints what the office does as it happens (tickets with how many wait, calls with
    their sentence, ratings); follows the daemons' status; asks for board snapshots."""

    def __init__(self, office: Office, topics: Topics, on_board: Callable[[], None]) -> None:
        self.office = office
        self.topics = topics
        self.on_board = on_board
        self.online: set[str] = set()
        self.ready = threading.Condition()
        self.new_tickets: list[Ticket] = []       # printed, not yet confirmed by the caller
        self.board: Board | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(topics.called, 1), (topics.board, 1), (topics.status_all, 1), (topics.ticket_all, 1),
             (topics.counter_rating_all, 1), (topics.received, 1)])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", office.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)   # paho's payload may be a bytearray
        try:
            if message.topic == self.topics.called:
                call = Called.decode(payload)
                counter = self.office.config.counter(call.counter).name
                say(f"🔔 {counter}: {call.number}  «{call.sentence}»")
            elif message.topic == self.topics.board:
                self.board = Board.decode(payload)
                self.on_board()
            elif self.topics.kiosk_of(message.topic) is not None:
                self.new_tickets.append(Ticket.decode(payload))
            elif message.topic == self.topics.received:
                self._tickets_confirmed(set(Received.decode(payload).ids))
            elif message.topic.endswith("/rating"):
                rating = Rating.decode(payload)
                counter = self.office.config.counter(self.topics.counter_of(message.topic)).name
                levels = self.office.config.counter_pad.rating.levels
                word = levels[rating.score - 1] if rating.score <= len(levels) else str(rating.score)
                say(f"⭐ {counter}: {word}")
            else:
                status = Status.decode(payload)
                with self.ready:
                    name = f"{status.role}/{status.device}"
                    (self.online.add if status.state == Presence.ONLINE else self.online.discard)(name)
                    self.ready.notify_all()
        except Exception as exc:  # the demo's watcher must never stop the demo
            say(f"(watcher: {exc})")

    def _tickets_confirmed(self, ids: set[str]) -> None:
        """Print each new ticket once the caller has it: its number and how many wait. The
        caller publishes the board that counts it before it confirms (after its fsync)."""
        config = self.office.config
        still = []
        for ticket in self.new_tickets:
            if ticket.id not in ids:
                still.append(ticket)
                continue
            waiting = self.board.waiting.get(ticket.service, 0) if self.board else 0
            service = config.service(ticket.service).name
            mark = " (ưu tiên)" if ticket.priority else ""
            say(f"🎫 {ticket.number}{mark} — {service}: {waiting} người đang chờ / waiting")
        self.new_tickets = still[-20:]

    def wait_online(self, names: set[str], timeout: float) -> set[str]:
        """Wait until each name is online ("caller/*": any device of that role)."""

        def missing() -> set[str]:
            return {name for name in names if not any(
                seen == name or (name.endswith("/*") and seen.startswith(name[:-1]))
                for seen in self.online)}

        with self.ready:
            self.ready.wait_for(lambda: not missing(), timeout=timeout)
            return missing()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def say(text: str) -> None:
    sys.stdout.write(text.replace("\n", "\r\n") + "\r\n")
    sys.stdout.flush()


def legend(config: SiteConfig, counters: list[str]) -> Iterator[str]:
    kiosk = config.kiosks[0]
    offered = served(config, counters)
    yield "Ki-ốt lấy số / ticket kiosk:"
    for button in kiosk.buttons:
        if button.key and button.service in offered:
            yield f"  [{button.key}]  {config.service(button.service).name}"
    if kiosk.priority_key:
        yield f"  [{kiosk.priority_key}] then a service key: ưu tiên / priority ticket"
    for counter_id in counters:
        counter = config.counter(counter_id)
        keys = "  ".join(f"[{key}] {action}" for action, key in counter.keys.items())
        yield f"{counter.name}: {keys}"
    rating = config.counter_pad.rating
    if rating.keys:
        levels = "  ".join(f"[{key}] {level}" for key, level in zip(rating.keys, rating.levels,
                                                                    strict=False))
        yield f"Đánh giá quầy vừa bấm / rate the last counter: {levels}"
    yield "[Esc] or Ctrl-C: thoát / quit"


def web_urls(office: Office, counters: list[str]) -> Iterator[str]:
    """The pages' addresses: a paired tablet per counter, and where a ticket's QR code leads."""
    yield f"Trang web / web pages: {office.web_url}"
    for counter_id in counters:
        result = subprocess.run(
            [sys.executable, "-m", "motcua.cli", "web", "pair", "--counter", counter_id, "--config",
             str(office.config_path), "--url", office.web_url],
            capture_output=True, text=True, check=False)
        url = result.stdout.strip().splitlines()[-1] if result.returncode == 0 else result.stderr.strip()
        yield f"  máy tính bảng / tablet, {office.config.counter(counter_id).name}: {url}"
    yield f"  điện thoại / phone: {office.web_url}/t/<mã phiếu> (mã QR trên phiếu / the ticket's QR code)"


@contextlib.contextmanager
def keyboard() -> Iterator[Iterator[str]]:
    """Characters from the terminal as they are typed (or from a pipe until its end).

    The terminal leaves line mode from the start, so a key typed while the office comes up
    is neither echoed nor held back until Enter: it is read once the keys are shown.
    """
    stdin = sys.stdin
    if not stdin.isatty():
        yield iter(lambda: stdin.read(1), "")
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield iter(lambda: os.read(fd, 1).decode(errors="ignore"), "")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_demo(options: argparse.Namespace) -> int:
    # Ctrl-C quits the demo even when it was started from a script in the background, whose
    # shell makes it inherit SIGINT ignored (POSIX, for asynchronous commands): Python then
    # keeps it ignored and Ctrl-C in the terminal would do nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    out = Path(options.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = Path(options.config) if options.config else find_example()
    config_path = demo_config(source, out)
    config = load_config(config_path)
    if not config.kiosks:
        raise MotcuaError(f"{source}: the demo needs a [[kiosks]] entry")
    counters = demo_counters(config)
    audio = options.audio or ("speaker" if has_speakers() else f"wav:{out / 'sounds'}")
    board_window = has_screen()
    office = Office(config, config_path, out, audio)
    if has_web() and not config.web.url:
        web_section(config_path, office.web_url)
    topics = Topics(config.site.id)
    snapshot_wanted = threading.Event()
    watcher = None
    with keyboard() as keys:
        try:
            broker_name = office.start_broker(embedded=options.embedded_broker)
            office.start_roles(counters, board_window)
            watcher = Watcher(office, topics, snapshot_wanted.set)
            expected = {"caller/*", f"kiosk/{config.kiosks[0].id}"} | {f"counter/{c}" for c in counters}
            expected |= {"web/*"} if has_web() else set()
            missing = watcher.wait_online(expected, timeout=30)
            say(f"motcua demo: {config.site.name} — broker: {broker_name} at {office.url}")
            if missing or office.dead():
                say(f"not started: {', '.join(sorted(missing | set(office.dead())))}; "
                    f"see the logs in {office.logs}")
                return 1
            say(f"tickets: {out / 'tickets'}   voice: {audio}   board: "
                f"{'window' if board_window else out / 'board.png'}")
            for line in legend(config, counters):
                say(line)
            if has_web():
                for line in web_urls(office, counters):
                    say(line)
            if not board_window:
                threading.Thread(target=_snapshots, args=(office, snapshot_wanted), daemon=True).start()
            routes = _routes(config, counters)
            last_counter = f"counter-{counters[0]}"
            for key in keys:
                if key in QUIT_KEYS:
                    break
                target = routes.get(key)
                if target == RATE:
                    office.press(last_counter, key)        # the counter that pressed last is rated
                elif target:
                    office.press(target, key)
                    last_counter = target if target.startswith("counter-") else last_counter
            if not sys.stdin.isatty():
                # Piped keys end at once: let the last presses travel, and leave a picture.
                threading.Event().wait(3)
                if not board_window and not (out / "board.png").exists():
                    office.snapshot()
            return 0
        finally:
            say("motcua demo: đang lưu và dừng… / saving and stopping…")
            if watcher:
                watcher.close()
            office.stop()
            say(f"motcua demo: stopped. Chạy lại để tiếp tục; xóa {out} để bắt đầu lại từ đầu / "
                f"run again to go on; delete {out} to start over")


RATE = "rate"      # a rating key: goes to the counter that pressed last


def _routes(config: SiteConfig, counters: list[str]) -> dict[str, str]:
    """Key -> the process that gets it: only services a running counter serves."""
    kiosk = config.kiosks[0]
    offered = served(config, counters)
    routes = {b.key: "kiosk" for b in kiosk.buttons if b.key and b.service in offered}
    if kiosk.priority_key:
        routes[kiosk.priority_key] = "kiosk"
    for counter_id in counters:
        for key in config.counter(counter_id).keys.values():
            routes[key] = f"counter-{counter_id}"
    for key in config.counter_pad.rating.keys:
        routes.setdefault(key, RATE)
    return routes


def _snapshots(office: Office, wanted: threading.Event) -> None:
    while True:
        wanted.wait()
        threading.Event().wait(0.5)   # let a burst of board updates settle
        wanted.clear()
        office.snapshot()
