"""``motcua demo``: the whole office on one machine, no hardware.

A broker (Mosquitto when installed, else the embedded pure-Python one), the
caller, the board, the kiosk and two counter pads run as separate processes, as
on real Pis. Keys typed here press their buttons; tickets become PNG files;
announcements go to the speakers, or to WAV files when there are none; the board
is a window, or PNG snapshots when there is no screen.
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
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .config import SiteConfig, load_config
from .errors import MotcuaError
from .protocol import Board, Called, Status, Topics

QUIT_KEYS = {"\x1b", "\x03", "\x04"}   # Esc, Ctrl-C, Ctrl-D


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
        return sock.getsockname()[1]


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
    path = out / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Office:
    """The demo's processes, started and stopped together."""

    def __init__(self, config: SiteConfig, config_path: Path, out: Path, audio: str) -> None:
        self.config = config
        self.config_path = config_path
        self.out = out
        self.audio = audio
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
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
        self.processes[name] = subprocess.Popen(
            command, stdin=subprocess.PIPE if keys else subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

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
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            if process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _ = name


class Watcher:
    """Prints what the office does: calls, status changes; asks for board snapshots."""

    def __init__(self, office: Office, topics: Topics, on_board: Callable[[], None]) -> None:
        self.office = office
        self.topics = topics
        self.on_board = on_board
        self.online: set[str] = set()
        self.ready = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(topics.called, 1), (topics.board, 1), (topics.status_all, 1)])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", office.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == self.topics.called:
                call = Called.decode(message.payload)
                counter = self.office.config.counter(call.counter).name
                say(f"🔔 {counter}: {call.number}  «{call.sentence}»")
            elif message.topic == self.topics.board:
                Board.decode(message.payload)
                self.on_board()
            else:
                status = Status.decode(message.payload)
                with self.ready:
                    name = f"{status.role}/{status.device}"
                    (self.online.add if status.state == "online" else self.online.discard)(name)
                    self.ready.notify_all()
        except Exception as exc:  # the demo's watcher must never stop the demo
            say(f"(watcher: {exc})")

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
    yield "Ki-ốt lấy số / ticket kiosk:"
    for button in kiosk.buttons:
        yield f"  [{button.key}]  {config.service(button.service).name}"
    if kiosk.priority_key:
        yield f"  [{kiosk.priority_key}] then a service key: ưu tiên / priority ticket"
    for counter_id in counters:
        counter = config.counter(counter_id)
        keys = "  ".join(f"[{key}] {action}" for action, key in counter.keys.items())
        yield f"{counter.name}: {keys}"
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


def read_keys() -> Iterator[str]:
    """Characters from the terminal as they are typed (or from a pipe until its end)."""
    stdin = sys.stdin
    if not stdin.isatty():
        while char := stdin.read(1):
            yield char
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        while char := os.read(fd, 1).decode(errors="ignore"):
            yield char
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_demo(options: argparse.Namespace) -> int:
    out = Path(options.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = Path(options.config) if options.config else find_example()
    config_path = demo_config(source, out)
    config = load_config(config_path)
    if not config.kiosks:
        raise MotcuaError(f"{source}: the demo needs a [[kiosks]] entry")
    counters = [c.id for c in config.counters[:2]]
    audio = options.audio or ("speaker" if has_speakers() else f"wav:{out / 'sounds'}")
    board_window = has_screen()
    office = Office(config, config_path, out, audio)
    if has_web() and not config.web.url:
        web_section(config_path, office.web_url)
    topics = Topics(config.site.id)
    snapshot_wanted = threading.Event()
    watcher = None
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
        for key in read_keys():
            if key in QUIT_KEYS:
                break
            if key in routes:
                office.press(routes[key], key)
        # Let the last presses travel before stopping (pipes end at once).
        threading.Event().wait(3 if not sys.stdin.isatty() else 0)
        if not board_window:
            office.snapshot()
        return 0
    finally:
        if watcher:
            watcher.close()
        office.stop()
        say("motcua demo: stopped")


def _routes(config: SiteConfig, counters: list[str]) -> dict[str, str]:
    kiosk = config.kiosks[0]
    routes = {b.key: "kiosk" for b in kiosk.buttons if b.key}
    if kiosk.priority_key:
        routes[kiosk.priority_key] = "kiosk"
    for counter_id in counters:
        for key in config.counter(counter_id).keys.values():
            routes[key] = f"counter-{counter_id}"
    return routes


def _snapshots(office: Office, wanted: threading.Event) -> None:
    while True:
        wanted.wait()
        threading.Event().wait(0.5)   # let a burst of board updates settle
        wanted.clear()
        office.snapshot()
