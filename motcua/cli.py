"""The ``motcua`` command: run one role of the office, or look after a site."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import SiteConfig, load_config
from .errors import MotcuaError

log = logging.getLogger("motcua")

DEFAULT_CONFIG = "/etc/motcua/site.toml"

# The rooms this program runs with, in the order their config sections are read. Importing a
# room's settings module registers its section (motcua/sections.py); motcua/ itself imports no
# room, so this list, at the program's edge, is the one place that names them all.
ROOMS = ("kiosk", "counter", "caller", "display", "web", "central")


def load_rooms() -> None:
    """Register every room's config section; call before reading a site config."""
    for room in ROOMS:
        importlib.import_module(f"motcua.{room}.settings")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (64 <= width <= 8192 and 64 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is not a screen size")
    return width, height


@dataclass(frozen=True)
class Command:
    """One ``motcua`` command: its help line, its flags and what runs it."""

    help: str
    setup: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _role(help: str, module: str, add_flags: Callable[[argparse.ArgumentParser], None]) -> Command:
    """A daemon's command: the flags every role has and its own; ``module.run(site, options)``."""
    def setup(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", default=DEFAULT_CONFIG, help="site config (TOML)")
        sub.add_argument("--broker", metavar="mqtt://HOST:PORT", help="override broker.url")
        sub.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        add_flags(sub)

    def run(options: argparse.Namespace) -> int:
        if getattr(options, "central", False):     # motcua web --central: the centre has no site config
            from .web.central_web import main as central_web

            return central_web(options)
        site: SiteConfig = load_config(options.config, broker_url=options.broker)
        return int(importlib.import_module(module).run(site, options))

    return Command(help, setup, run)


def _tool(help: str, module: str) -> Command:
    """A technician's tool: ``module.add_arguments(parser)`` and ``module.main(options)``."""
    def setup(sub: argparse.ArgumentParser) -> None:
        importlib.import_module(module).add_arguments(sub)

    def run(options: argparse.Namespace) -> int:
        return int(importlib.import_module(module).main(options))

    return Command(help, setup, run)


def _kiosk_flags(kiosk: argparse.ArgumentParser) -> None:
    kiosk.add_argument("--kiosk", metavar="ID", help="which [[kiosks]] entry (default: the only one)")
    kiosk.add_argument("--printer", metavar="SPEC",
                       help="usb:VID:PID, serial:DEVICE[:BAUD], network:HOST[:PORT], file:PATH "
                            "or png:DIR (overrides the config)")
    kiosk.add_argument("--keyboard", action="store_true",
                       help="characters on standard input press the buttons")


def _counter_flags(counter: argparse.ArgumentParser) -> None:
    counter.add_argument("--counter", metavar="ID", help="which counter this pad is")
    counter.add_argument("--mqtt-buttons", action="store_true",
                         help="on the hub: turn wireless MQTT buttons into counter commands")
    counter.add_argument("--keyboard", action="store_true",
                         help="characters on standard input press the buttons")


def _caller_flags(caller: argparse.ArgumentParser) -> None:
    caller.add_argument("--audio", metavar="SPEC", default="speaker",
                        help="speaker, wav:DIR or none (default: speaker)")
    caller.add_argument("--db", metavar="PATH", help="event log (default: STATE_DIR/caller.db)")


def _display_flags(display: argparse.ArgumentParser) -> None:
    display.add_argument("--snapshot", metavar="FILE.png",
                         help="wait for the board, render one frame to FILE.png, exit")
    display.add_argument("--size", type=_size, metavar="WxH", help="window size, e.g. 1920x1080")
    display.add_argument("--counter", metavar="ID", help="show one counter (small screen mode)")
    display.add_argument("--timeout", type=float, default=10.0,
                         help="with --snapshot: seconds to wait for the board (default 10)")


def _web_flags(web: argparse.ArgumentParser) -> None:
    web.add_argument("action", nargs="?", choices=("serve", "pair", "tokens", "revoke", "passwd"),
                     default="serve", help="serve (default); pair --counter ID: a tablet's URL; "
                          "tokens: list; revoke --token ID; passwd USER [--role head|clerk] [--counter ID]")
    web.add_argument("user", nargs="?", help="with passwd: the user name")
    web.add_argument("--role", choices=("head", "clerk"), default="head",
                     help="with passwd: office head (everything) or clerk (live view, own counter)")
    web.add_argument("--listen", metavar="HOST:PORT", help="override [web] listen (default 0.0.0.0:8080)")
    web.add_argument("--counter", metavar="ID", help="with pair: the counter the tablet is for")
    web.add_argument("--token", metavar="ID", help="with revoke: the token's id (from tokens)")
    web.add_argument("--url", metavar="URL", help="with pair: the hub's address (default: [web] url)")
    web.add_argument("--central", action="store_true",
                     help="the centre's dashboard of every commune, over --db (docs/central.md)")
    web.add_argument("--db", metavar="postgresql://…", help="with --central: the centre's database")
    web.add_argument("--sites", metavar="DIR", help="with --central: the communes' site configs "
                                                    "(default /etc/motcua/sites)")
    web.add_argument("--users", metavar="FILE", help="with --central: the centre's users "
                                                     "(default /var/lib/motcua/central-web.db)")


def _publisher_flags(publisher: argparse.ArgumentParser) -> None:
    publisher.add_argument("--db", metavar="PATH", help="caller's event log (default: STATE_DIR/caller.db)")


def _check_config_flags(check: argparse.ArgumentParser) -> None:
    check.add_argument("file")


def _check_config(options: argparse.Namespace) -> int:
    config = load_config(options.file)
    from .checks import check_site

    for problem in check_site(config):
        raise problem
    print(f"{options.file}: ok ({len(config.services)} services, "
          f"{len(config.counters)} counters, {len(config.kiosks)} kiosks)")
    return 0


def _demo_flags(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--config", help="site config (default: the built-in example office)")
    demo.add_argument("--out", default="motcua-demo", help="folder for tickets, sounds, snapshots")
    demo.add_argument("--audio", help="speaker, wav:DIR or none (default: speaker if any)")
    demo.add_argument("--embedded-broker", action="store_true",
                      help="use the pure-Python broker even when Mosquitto is installed")


def _demo(options: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(options)


# Every command, in the order ``motcua --help`` lists them: the daemons (roles), then the tools.
COMMANDS: dict[str, Command] = {
    "kiosk": _role("run the ticket kiosk", "motcua.kiosk.daemon", _kiosk_flags),
    "counter": _role("run one counter's pad", "motcua.counter.daemon", _counter_flags),
    "caller": _role("run the caller (queue, voice, board state) on the hub", "motcua.caller.daemon",
                    _caller_flags),
    "display": _role("run the waiting-room board", "motcua.display.daemon", _display_flags),
    "web": _role("run the hub's web pages (counter tablets, citizens' phones), or pair a tablet; "
                 "with --central the centre's dashboard", "motcua.web.daemon", _web_flags),
    "central-publisher": _role("on the hub: send the caller's history to the centre",
                               "motcua.central.publisher", _publisher_flags),
    "check-config": Command("check a site config and exit", _check_config_flags, _check_config),
    "broker-config": _tool("write Mosquitto's password file and ACL for this site", "motcua.broker_config"),
    "doctor": _tool("check this Pi's set-up and print a checklist", "motcua.doctor"),
    "report": _tool("the office's figures: tickets, waiting times, ratings", "motcua.caller.report"),
    "central": _tool("the centre: every hub's history into PostgreSQL (docs/central.md)",
                     "motcua.central.centre"),
    "demo": Command("the whole office on this machine, no hardware", _demo_flags, _demo),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motcua", description="Queue system for a one-stop office (bộ phận một cửa).")
    parser.add_argument("--version", action="version", version=f"motcua {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.setup(commands.add_parser(name, help=command.help))
    return parser


DEMO_CONFIG = "motcua-demo/site.toml"


def _demo_config_if_no_site(options: argparse.Namespace) -> None:
    """On a machine without /etc/motcua (a clone that ran the demo), the demo's config."""
    if getattr(options, "config", None) == DEFAULT_CONFIG and not Path(DEFAULT_CONFIG).exists() \
            and Path(DEMO_CONFIG).is_file():
        options.config = DEMO_CONFIG
        print(f"motcua: no {DEFAULT_CONFIG} here: using the demo's {DEMO_CONFIG}", file=sys.stderr)


def _quiet_libraries(verbose: bool) -> None:
    """No pygame banner; gpiozero's pin-factory fallbacks on a machine without GPIO only
    with -v, as log lines (the error that matters, if any, still comes)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if verbose:
        logging.captureWarnings(True)
    else:
        warnings.filterwarnings("ignore", message="Falling back from", module="gpiozero")


def main(argv: Sequence[str] | None = None) -> int:
    load_rooms()
    options = build_parser().parse_args(argv)
    _quiet_libraries(bool(getattr(options, "verbose", False)))
    _demo_config_if_no_site(options)
    try:
        return _dispatch(options)
    except MotcuaError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(options: argparse.Namespace) -> int:
    return COMMANDS[options.command].run(options)


if __name__ == "__main__":
    sys.exit(main())
