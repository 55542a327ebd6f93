"""``motcua doctor``: check this Pi's set-up and print a checklist in Vietnamese and English.

Each check is a small function of the site config and an :class:`Environment` (where to
look for fonts, GPIO chips, sound cards, espeak-ng, the clock), so tests run the same
checks on a healthy and on a broken set-up. The exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from motcua.clock import kernel_clock_synchronized
from motcua.errors import MotcuaError
from motcua.fonts import BOLD_FONTS, REGULAR_FONTS

if TYPE_CHECKING:
    from paho.mqtt.reasoncodes import ReasonCode

    from motcua.config import SiteConfig
    from motcua.kiosk.printer_spec import Network, Usb
    from motcua.kiosk.settings import KioskSettings

ROLES = ("kiosk", "counter", "caller", "display", "web")
# Letters a Vietnamese text needs beyond ASCII: a font without them prints boxes.
VIETNAMESE_SAMPLE = ("ĂÂĐÊÔƠƯăâđêôơưÀẢÃÁẠẰẲẴẮẶẦẨẪẤẬỀỂỄẾỆỒỔỖỐỘỜỞỠỚỢỪỬỮỨỰỲỶỸÝỴ"
                     "àảãáạằẳẵắặầẩẫấậềểễếệồổỗốộờởỡớợừửữứựỳỷỹýỵ")
FONT_CANDIDATES = REGULAR_FONTS + BOLD_FONTS


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    title: str          # "Vietnamese / English"
    ok: bool
    detail: str
    hint: str = ""      # what the technician does about a failure (VI / EN)


def _system_clock() -> tuple[bool, str]:
    """Whether the clock is synchronised: systemd's view, else the kernel's (adjtimex)."""
    try:
        result = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                                capture_output=True, text=True, timeout=5)
        if result.returncode == 0 and result.stdout.strip() in ("yes", "no"):
            return result.stdout.strip() == "yes", "timedatectl NTPSynchronized=" + result.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return kernel_clock_synchronized()


@dataclass
class Environment:
    """Where the checks look; tests point it at their own set-up."""

    font_paths: Sequence[str] = FONT_CANDIDATES
    gpio_chips: str = "/dev"                      # folder holding gpiochip* devices
    sound_cards: Path = Path("/proc/asound/cards")
    espeak: str = "espeak-ng"
    usb_devices: Path = Path("/sys/bus/usb/devices")
    clock: Callable[[], tuple[bool, str]] = _system_clock
    timeout: float = 3.0
    kiosk: str | None = None                     # which kiosk's printer (default: from the username)


# -- checks ------------------------------------------------------------------------------------

def check_config(path: str) -> tuple[Check, SiteConfig | None]:
    from motcua.checks import check_site
    from motcua.config import load_config

    title = "Tệp cấu hình / Site config"
    try:
        config = load_config(path)
        problems = list(check_site(config))
    except MotcuaError as exc:
        if not Path(path).exists():
            from motcua.config import example_config

            example = example_config()
            return Check(title, False, f"{path}: file not found",
                         f"chép tệp mẫu rồi sửa / copy the example and edit it: sudo install -D -m 644 "
                         f"{example} {path} (docs/config.md)"), None
        return Check(title, False, str(exc),
                     "sửa tệp theo thông báo / fix the file as the message says (docs/config.md)"), None
    if problems:
        return Check(title, False, "; ".join(str(p) for p in problems),
                     "sửa tệp theo thông báo / fix the file as the message says"), config
    return Check(title, True, f"{path}: {len(config.services)} services, {len(config.counters)} "
                              f"counters, {len(config.kiosks)} kiosks"), config


def check_broker(config: SiteConfig, env: Environment) -> Check:
    """The broker answers, and takes this Pi's user name and password."""
    broker = config.broker
    title = "Máy chủ MQTT / Broker"
    where = f"{broker.host}:{broker.port}"
    try:
        socket.create_connection((broker.host, broker.port), timeout=env.timeout).close()
    except OSError as exc:
        return Check(title, False, f"{where}: {exc.strerror or exc}",
                     "kiểm tra mạng, tên máy hub và mosquitto trên hub / check the network, "
                     "the hub's name and `systemctl status mosquitto` on the hub")
    # The broker names a client after its account (use_username_as_clientid), so this login
    # replaces the running daemon's for a moment: resume its session (never clean it: the
    # caller's holds queued tickets) and acknowledge nothing, so everything is redelivered to
    # the daemon when it reconnects a second later.
    from motcua.mqtt import login_client

    try:
        broker.password()
    except OSError as exc:
        return Check(title, False, f"{broker.password_file}: {exc.strerror}",
                     "chép tệp mật khẩu của thiết bị này / copy this device's password file")
    try:
        client = login_client(broker, client_id="motcua-doctor", clean_session=False, manual_ack=True)
    except (OSError, ValueError) as exc:
        return Check(title, False, f"{where}: {exc}", "kiểm tra TLS / check the TLS settings")
    answers: list[ReasonCode] = []
    client.on_connect = lambda c, userdata, flags, reason, properties: answers.append(reason)
    try:
        client.connect(broker.host, broker.port, keepalive=10)
        deadline = time.monotonic() + env.timeout
        while not answers and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except (OSError, ValueError) as exc:
        return Check(title, False, f"{where}: {exc}", "kiểm tra TLS / check the TLS settings")
    finally:
        client.disconnect()
    user = broker.username or "(no user)"
    if not answers:
        return Check(title, False, f"{where}: no answer to the MQTT login",
                     "đây có phải mosquitto? / is this port really Mosquitto?")
    if answers[0].is_failure:
        return Check(title, False, f"{where} refused {user}: {answers[0]}",
                     "chạy lại `motcua broker-config` trên hub và chép mật khẩu / run "
                     "`motcua broker-config` on the hub and copy this device's password")
    return Check(title, True, f"{where} accepts {user}")


def check_printer(config: SiteConfig, env: Environment) -> Check:
    """The kiosk's printer is there, and has paper when it can tell."""
    title = "Máy in vé / Ticket printer"
    kiosks = _this_kiosks(config, env)
    if not kiosks:
        return Check(title, False, "no [[kiosks]] in the config", "thêm [[kiosks]] / add [[kiosks]]")
    problems: list[str] = []
    found: list[str] = []
    for kiosk in kiosks:
        state = printer_state(kiosk.printer, env)
        (found if state.startswith("ok") else problems).append(f"{kiosk.id} {kiosk.printer}: {state}")
    if problems:
        return Check(title, False, "; ".join(problems),
                     "bật máy in, cắm cáp, nạp giấy, đóng nắp / power on, plug in, load paper, "
                     "close the cover")
    return Check(title, True, "; ".join(found))


def printer_state(spec: str, env: Environment) -> str:
    """"ok", "ok (…)" or what is wrong, for a printer spec of the kiosk config.

    The spec is read and the printer asked by the kiosk's own code (kiosk/printer_spec.py,
    kiosk/printer.py), its answer told in the kiosk's words (kiosk/printer_words.py), so the
    doctor, the kiosk's log and its status topic say the same thing.
    """
    from motcua.kiosk.printer_spec import File, Network, Serial, Usb, parse_printer_spec

    try:
        where = parse_printer_spec(spec)
    except ValueError as exc:
        return str(exc)
    if isinstance(where, Network):
        try:
            return _network_printer_state(where, env.timeout)
        except MotcuaError as exc:      # python-escpos missing: this line fails, the list goes on
            return f"cannot ask the printer: {exc}"
    if isinstance(where, Usb):
        return _usb_printer_state(where, env.usb_devices)
    if isinstance(where, Serial | File):
        device = where.device if isinstance(where, Serial) else where.path
        if not os.path.exists(device):
            return f"{device} does not exist"
        if not os.access(device, os.W_OK):
            return f"{device} is not writable by this user (group lp/dialout?)"
        return "ok (paper not checked on this connection)"
    directory = where.directory
    return "ok (images, no printer)" if os.access(directory, os.W_OK) else f"{directory} is not writable"


def _network_printer_state(where: Network, timeout: float) -> str:
    # A network printer takes a connection per job, so asking it does not disturb the kiosk.
    from motcua.kiosk.printer import TicketPrinter, connect
    from motcua.kiosk.printer import log as printer_log
    from motcua.kiosk.printer_words import PrinterState, printer_says

    printer = TicketPrinter(connect(where, timeout=timeout), "80mm")
    # The kiosk's log lines ("does not answer status requests…") are for its journal; the
    # doctor says the same on its checklist line.
    muted, printer_log.disabled = printer_log.disabled, True
    try:
        state, why = printer.probe(timeout=timeout)
    finally:
        printer_log.disabled = muted
    if why:
        return f"no printer at {where.host}:{where.port} ({why})"
    if state == PrinterState.OK:
        return "ok (paper present)"
    if state == PrinterState.UNKNOWN:
        return "ok (connected; it does not answer status requests)"
    return printer_says(state)


def _usb_printer_state(where: Usb, usb_devices: Path) -> str:
    # Not opened: the kiosk holds the device; the kernel's list says whether it is plugged in.
    wanted = (where.vendor, where.product)
    for device in sorted(usb_devices.glob("*")):
        try:
            ids = (int((device / "idVendor").read_text(), 16), int((device / "idProduct").read_text(), 16))
        except (OSError, ValueError):
            continue
        if ids == wanted:
            return "ok (connected by USB; the kiosk reports paper on its status)"
    return f"no USB device {wanted[0]:04x}:{wanted[1]:04x}: not found, switched off or unplugged"


def check_gpio(config: SiteConfig, env: Environment) -> Check:
    title = "Nút bấm GPIO / GPIO buttons"
    chips = sorted(Path(env.gpio_chips).glob("gpiochip*"))
    if not chips:
        return Check(title, False, f"no gpiochip in {env.gpio_chips}",
                     "đây có phải Raspberry Pi? / is this a Raspberry Pi?")
    usable = [chip for chip in chips if os.access(chip, os.R_OK | os.W_OK)]
    if not usable:
        return Check(title, False, f"{chips[0]} is not readable and writable by this user",
                     "thêm người dùng vào nhóm gpio / add the user to group gpio")
    try:
        import gpiozero  # noqa: F401
    except ImportError:
        return Check(title, False, "the Python module gpiozero is missing",
                     "sudo apt install python3-gpiozero python3-lgpio")
    return Check(title, True, ", ".join(str(chip) for chip in usable))


def check_audio(config: SiteConfig, env: Environment) -> Check:
    title = "Âm thanh / Audio output"
    try:
        cards = env.sound_cards.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Check(title, False, f"{env.sound_cards} is missing: no sound driver",
                     "bật âm thanh (dtparam=audio=on) / enable audio in /boot/firmware/config.txt")
    names = re.findall(r"^\s*\d+\s+\[[^\]]*\]:\s*(.+)$", cards, re.MULTILINE)
    if not names:
        return Check(title, False, "no sound card", "cắm loa hoặc HDMI / plug in a speaker or HDMI")
    return Check(title, True, "; ".join(name.strip() for name in names))


def check_voice(config: SiteConfig, env: Environment) -> Check:
    title = "Giọng tiếng Việt / Vietnamese voice"
    try:
        result = subprocess.run([env.espeak, "--voices=vi"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(title, False, f"{env.espeak}: {exc}", "sudo apt install espeak-ng")
    voices = [line.split()[1] for line in result.stdout.splitlines()[1:] if len(line.split()) > 1]
    if "vi" not in voices:
        return Check(title, False, "espeak-ng has no Vietnamese voice (vi)",
                     "sudo apt install espeak-ng-data")
    return Check(title, True, "espeak-ng voices: " + ", ".join(voices))


def check_fonts(config: SiteConfig, env: Environment) -> Check:
    title = "Phông chữ tiếng Việt / Vietnamese font"
    for path in env.font_paths:
        if Path(path).is_file() and not missing_glyphs(Path(path), VIETNAMESE_SAMPLE):
            return Check(title, True, str(path))
    return Check(title, False, "none of " + ", ".join(env.font_paths) + " has every Vietnamese letter",
                 "sudo apt install fonts-dejavu-core")


def missing_glyphs(font_path: Path, text: str) -> str:
    """Characters of ``text`` the font draws as its 'missing' box (Pillow and FreeType)."""
    from PIL import ImageFont

    try:
        font = ImageFont.truetype(str(font_path), 24)
    except OSError:
        return text
    missing_box = bytes(font.getmask("\U0010fffd"))
    return "".join(ch for ch in text if bytes(font.getmask(ch)) == missing_box)


def check_clock(config: SiteConfig, env: Environment) -> Check:
    title = "Đồng hồ / Clock sync"
    synchronized, how = env.clock()
    if not synchronized:
        return Check(title, False, f"not synchronised ({how})",
                     "kiểm tra NTP tới hub (docs/install.md) / check NTP from the hub")
    return Check(title, True, how)


def check_web(config: SiteConfig, env: Environment) -> Check:
    """The hub's web pages answer, and the web role hears the broker."""
    import json
    import urllib.request

    from motcua.web.settings import parse_listen

    title = "Trang web / Web pages"
    host, port = parse_listen(config.web.listen)
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{host}:{port}/health"
    hint = ("kiểm tra dịch vụ web trên hub / check `systemctl status motcua-web` and "
            "`journalctl -u motcua-web` on the hub")
    try:
        with urllib.request.urlopen(url, timeout=env.timeout) as response:
            health = json.loads(response.read())
    except (OSError, ValueError) as exc:
        return Check(title, False, f"{url}: {getattr(exc, 'reason', exc)}", hint)
    if not health.get("link"):
        return Check(title, False, f"{url}: the web role has no broker connection", hint)
    return Check(title, True, f"{url}: broker connected, caller "
                              f"{'online' if health.get('caller') else 'offline'}")


CHECKS: dict[str, tuple[Callable[[SiteConfig, Environment], Check], ...]] = {
    "kiosk": (check_broker, check_printer, check_gpio, check_fonts, check_clock),
    "counter": (check_broker, check_gpio, check_clock),
    "caller": (check_broker, check_audio, check_voice, check_clock),
    "display": (check_broker, check_fonts, check_clock),
    "web": (check_broker, check_web, check_clock),
    "": (check_broker, check_clock),
}


def role_of(config: SiteConfig) -> str:
    """The role this Pi's broker account belongs to ("" when unknown)."""
    username = config.broker.username or ""
    return next((role for role in ROLES if username == role or username.startswith(role + "-")), "")


def _this_kiosks(config: SiteConfig, env: Environment) -> list[KioskSettings]:
    wanted = env.kiosk
    username = config.broker.username or ""
    if wanted is None and username.startswith("kiosk-"):
        wanted = username.removeprefix("kiosk-")
    return [k for k in config.kiosks if wanted is None or k.id == wanted]


def run_checks(config_path: str, role: str | None, env: Environment) -> list[Check]:
    """The checklist for this Pi; stops after the config when the config is unusable."""
    first, config = check_config(config_path)
    if config is None:
        return [first]
    role = role if role is not None else role_of(config)
    checks = CHECKS[role]
    if role == "caller" and config.web.url:      # the hub serves the pages too
        checks = (*checks, check_web)
    return [first, *(check(config, env) for check in checks)]


def render(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        mark = "[ OK ]" if check.ok else "[LỖI ]"
        lines.append(f"{mark} {check.title}: {check.detail}")
        if not check.ok and check.hint:
            lines.append(f"       → {check.hint}")
    failed = sum(not check.ok for check in checks)
    lines.append("Tất cả đều tốt / All good." if not failed else
                 f"{failed} mục lỗi / {failed} failed.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="/etc/motcua/site.toml", help="site config (TOML)")
    parser.add_argument("--role", choices=ROLES,
                        help="which role's checks (default: from [broker] username)")
    parser.add_argument("--kiosk", metavar="ID", help="which kiosk's printer to check")


def main(options: argparse.Namespace) -> int:
    checks = run_checks(options.config, options.role, Environment(kiosk=options.kiosk))
    print(render(checks))
    return 0 if all(check.ok for check in checks) else 1
