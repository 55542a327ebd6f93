"""motcua doctor on a healthy set-up (real broker with accounts, fake network printer, real
fonts and espeak-ng) and on broken ones."""

from __future__ import annotations

import importlib.util
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from install_helpers import site_file
from rig import FakePrinter, free_port

from motcua import doctor
from motcua.cli import main as cli_main
from motcua.config import load_config
from motcua.doctor import Environment, run_checks

# A real font without Vietnamese letters: the one pygame ships.
LATIN_ONLY_FONT = str(Path(importlib.util.find_spec("pygame").origin).parent / "freesansbold.ttf")
SOUND_CARDS = """\
 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 1 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0
                      vc4-hdmi-0
"""


def device_config(directory: Path, broker, files, username: str, printer: str = "file:/dev/null",
                  secret: Path | None = None) -> Path:
    """The example site as installed on one Pi: its broker account and password file."""
    path = site_file(directory, broker.url)
    secret = secret or files.secrets[username]
    text = path.read_text(encoding="utf-8").replace(
        "keepalive = 30", f'username = "{username}"\npassword_file = "{secret}"\nkeepalive = 30')
    text = text.replace('printer = "usb:0x0416:0x5011"', f'printer = "{printer}"')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def healthy(tmp_path: Path) -> Environment:
    """A Pi whose devices all work: a GPIO chip, a sound card, a synchronised clock."""
    chips = tmp_path / "dev"
    chips.mkdir()
    (chips / "gpiochip0").write_bytes(b"")
    cards = tmp_path / "cards"
    cards.write_text(SOUND_CARDS)
    return Environment(gpio_chips=str(chips), sound_cards=cards,
                       clock=lambda: (True, "timedatectl NTPSynchronized=yes"), timeout=2.0)


@pytest.fixture
def fake_printer():
    printer = FakePrinter()
    yield printer
    printer.close()


def failed(checks) -> dict[str, str]:
    return {check.title.split(" / ")[1]: check.detail for check in checks if not check.ok}


@pytest.mark.parametrize("username", ["kiosk-k1", "counter-3", "caller", "display-board"])
def test_healthy_pi_passes_every_check(tmp_path, secured_broker, broker_files, healthy,
                                       fake_printer, username) -> None:
    config = device_config(tmp_path, secured_broker, broker_files, username, fake_printer.spec)
    checks = run_checks(str(config), None, healthy)
    assert failed(checks) == {}
    role = username.split("-")[0]
    assert [check.title.split(" / ")[1] for check in checks] == {
        "kiosk": ["Site config", "Broker", "Ticket printer", "GPIO buttons", "Vietnamese font",
                  "Clock sync"],
        "counter": ["Site config", "Broker", "GPIO buttons", "Clock sync"],
        "caller": ["Site config", "Broker", "Audio output", "Vietnamese voice", "Clock sync"],
        "display": ["Site config", "Broker", "Vietnamese font", "Clock sync"],
    }[role]
    assert "accepts " + username in checks[1].detail
    if role == "kiosk":
        assert "paper present" in checks[2].detail


def test_broken_pi_names_every_fault(tmp_path, secured_broker, broker_files, fake_printer) -> None:
    fake_printer.paper_out = True
    config = device_config(tmp_path, secured_broker, broker_files, "kiosk-k1", fake_printer.spec,
                           secret=broker_files.secrets["counter-1"])
    broken = Environment(gpio_chips=str(tmp_path / "no-dev"), sound_cards=tmp_path / "no-cards",
                         font_paths=[str(tmp_path / "missing.ttf"),
                                     LATIN_ONLY_FONT],
                         espeak=str(tmp_path / "no-espeak-ng"),
                         clock=lambda: (False, "adjtimex state 5"), timeout=2.0)
    problems = failed(run_checks(str(config), "kiosk", broken))
    assert set(problems) == {"Broker", "Ticket printer", "GPIO buttons", "Vietnamese font",
                             "Clock sync"}
    assert "refused kiosk-k1" in problems["Broker"]
    assert "out of paper" in problems["Ticket printer"]
    assert "missing.ttf" in problems["Vietnamese font"]
    assert "adjtimex" in problems["Clock sync"]
    caller = failed(run_checks(str(config), "caller", broken))
    assert "no-cards" in caller["Audio output"] and "no-espeak-ng" in caller["Vietnamese voice"]


def test_wrong_port_and_missing_password_file(tmp_path, secured_broker, broker_files, healthy) -> None:
    config = device_config(tmp_path, secured_broker, broker_files, "counter-1")
    text = config.read_text().replace(f":{secured_broker.port}", f":{free_port()}")
    config.write_text(text)
    assert "Connection refused" in failed(run_checks(str(config), None, healthy))["Broker"]

    config = device_config(tmp_path, secured_broker, broker_files, "counter-1",
                           secret=tmp_path / "mqtt-password")
    assert "mqtt-password" in failed(run_checks(str(config), None, healthy))["Broker"]


def test_bad_config_stops_the_checklist(tmp_path, healthy) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[site]\nid = "x"\nname = "X"\nbogus = 1\n')
    checks = run_checks(str(config), "kiosk", healthy)
    assert len(checks) == 1 and not checks[0].ok
    assert "site.bogus" in checks[0].detail


def test_printer_states(tmp_path, fake_printer) -> None:
    env = Environment(timeout=1.0, usb_devices=tmp_path / "usb")
    assert doctor.printer_state(fake_printer.spec, env) == "ok (paper present)"
    fake_printer.paper_out = True
    assert doctor.printer_state(fake_printer.spec, env) == "out of paper"
    assert doctor.printer_state(f"network:127.0.0.1:{free_port()}", env).startswith("no printer")
    device = tmp_path / "usb" / "1-1.3"
    device.mkdir(parents=True)
    (device / "idVendor").write_text("0416\n")
    (device / "idProduct").write_text("5011\n")
    assert doctor.printer_state("usb:0x0416:0x5011", env).startswith("ok")
    assert doctor.printer_state("usb:0x04b8:0x0202", env).startswith("no USB device 04b8:0202")
    assert doctor.printer_state(f"file:{tmp_path}/lp0", env).endswith("does not exist")
    assert doctor.printer_state(f"png:{tmp_path}", env).startswith("ok")


class UnansweringPrinter:
    """A network printer that takes the connection and the status requests and never answers;
    it notes how long after the first request the doctor hung up."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.spec = f"network:127.0.0.1:{self.server.getsockname()[1]}"
        self.waited: list[float] = []
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            asked = None
            while conn.recv(4096):
                asked = asked or time.monotonic()
            if asked is not None:
                self.waited.append(time.monotonic() - asked)
        self.hung_up.set()

    def close(self) -> None:
        self.server.close()


def test_an_unanswering_network_printer_is_asked_within_the_doctors_timeout(
        tmp_path, caplog) -> None:
    from motcua.kiosk.printer import STATUS_WAIT_S

    printer = UnansweringPrinter()
    try:
        env = Environment(timeout=0.3, usb_devices=tmp_path / "usb")
        with caplog.at_level(logging.DEBUG):
            state = doctor.printer_state(printer.spec, env)
        assert state == "ok (connected; it does not answer status requests)"
        assert printer.hung_up.wait(10)
        # The doctor's 0.3 s, not the kiosk's own wait for a busy printer.
        assert printer.waited and printer.waited[0] < STATUS_WAIT_S / 2
        # The kiosk's journal line is not the doctor's: its checklist line says it.
        assert [r for r in caplog.records if r.name == "motcua.kiosk.printer"] == []
        assert not logging.getLogger("motcua.kiosk.printer").disabled
    finally:
        printer.close()


def test_a_missing_escpos_fails_one_line_and_the_checklist_goes_on(tmp_path, healthy,
                                                                   monkeypatch) -> None:
    config = site_file(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    config.write_text(config.read_text(encoding="utf-8").replace(
        'printer = "usb:0x0416:0x5011"', 'printer = "network:127.0.0.1:9100"'), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "escpos.printer", None)     # python-escpos not installed
    checks = run_checks(str(config), "kiosk", healthy)
    assert [check.title.split(" / ")[1] for check in checks] == [
        "Site config", "Broker", "Ticket printer", "GPIO buttons", "Vietnamese font", "Clock sync"]
    problem = failed(checks)["Ticket printer"]
    assert "escpos.printer" in problem and "python3-escpos" in problem


def test_fonts_without_vietnamese_letters_are_caught() -> None:
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    assert doctor.missing_glyphs(dejavu, doctor.VIETNAMESE_SAMPLE) == ""
    assert doctor.missing_glyphs(dejavu, "Aก一") == "ก一"
    assert "ơ" in doctor.missing_glyphs(Path(LATIN_ONLY_FONT), doctor.VIETNAMESE_SAMPLE)


def test_checklist_is_bilingual_and_sets_the_exit_status(tmp_path, capsys) -> None:
    config = tmp_path / "site.toml"
    config.write_text("not toml [")
    assert cli_main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "[LỖI ] Tệp cấu hình / Site config" in out and "1 mục lỗi / 1 failed." in out

    config = site_file(tmp_path, f"mqtt://127.0.0.1:{free_port()}")
    result = subprocess.run([sys.executable, "-m", "motcua.cli", "doctor", "--config", str(config),
                             "--role", "display"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "[ OK ] Tệp cấu hình / Site config" in result.stdout
    assert "[LỖI ] Máy chủ MQTT / Broker" in result.stdout
    assert "Phông chữ tiếng Việt / Vietnamese font" in result.stdout
    assert load_config(config).site.id == "liem-chung"


def test_a_missing_config_file_points_at_the_example(tmp_path, healthy) -> None:
    """Issue 15: doctor's advice for a missing config says where the example is."""
    missing = tmp_path / "etc" / "site.toml"
    checks = run_checks(str(missing), "kiosk", healthy)
    assert len(checks) == 1 and not checks[0].ok
    example = Path(__file__).resolve().parents[2] / "examples" / "liem-chung.toml"
    assert f"install -D -m 644 {example} {missing}" in checks[0].hint
    assert example.is_file()


def test_doctor_says_what_the_kiosk_says_about_its_printer(tmp_path, fake_printer) -> None:
    """Issue 15: the same words in doctor, the kiosk's log and its status topic."""
    from motcua.kiosk.printer_words import printer_says

    env = Environment(timeout=1.0, usb_devices=tmp_path / "usb")
    fake_printer.cover_open = True
    assert doctor.printer_state(fake_printer.spec, env) == printer_says("cover_open") == "cover open"
    fake_printer.cover_open, fake_printer.paper_out = False, True
    assert doctor.printer_state(fake_printer.spec, env) == printer_says("paper_out") == "out of paper"
    assert doctor.printer_state("usb:0x04b8:0x0202", env).endswith(printer_says("offline"))
def test_doctor_on_the_hub_leaves_the_callers_queued_tickets(tmp_path, secured_broker, broker_files,
                                                             healthy) -> None:
    """Its login takes the caller's client id (the broker binds ids to accounts): it resumes
    the session, acknowledges nothing, and the caller still gets every queued ticket."""
    from install_helpers import Device

    from motcua.config import load_config
    from motcua.doctor import check_broker

    secret = broker_files.secrets["caller"].read_text().strip()
    caller = Device(secured_broker.port, "caller", secret, client_id="caller", persistent=True)
    caller.connect()
    assert caller.subscribe("motcua/liem-chung/ticket/+")
    caller.close()
    kiosk = Device.login(secured_broker.port, "kiosk-k1", broker_files.secrets["kiosk-k1"])
    for number in (1, 2):
        kiosk.publish("motcua/liem-chung/ticket/k1", f"ticket {number}".encode())
    kiosk.close()
    config = load_config(device_config(tmp_path, secured_broker, broker_files, "caller"))
    assert check_broker(config, healthy).ok
    caller = Device(secured_broker.port, "caller", secret, client_id="caller", persistent=True)
    caller.connect()
    try:
        assert [bytes(caller.receive().payload) for _ in range(2)] == [b"ticket 1", b"ticket 2"]
    finally:
        caller.close()


def test_doctor_reads_a_printer_spec_as_the_config_check_does(tmp_path) -> None:
    """One reading of a spec (kiosk/printer_spec.py): a device name with colons is one device
    for both, and a spec the config refuses is refused by the doctor with the same words."""
    from motcua.kiosk.settings import printer_spec_problem

    env = Environment(timeout=1.0)
    for spec in ("serial:/dev/ttyUSB0:9601", "usb:0x0416", "lpt:1", f"network:{tmp_path}:x"):
        assert printer_spec_problem(spec) is not None
        assert doctor.printer_state(spec, env) == printer_spec_problem(spec)
    port = tmp_path / "by-path:1.0"
    assert doctor.printer_state(f"serial:{port}", env) == printer_spec_problem(f"serial:{port}")
    device = Path("/dev/null")
    assert doctor.printer_state(f"serial:{device}:9600", env).startswith("ok")
