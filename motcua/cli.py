"""The ``motcua`` command: run one role of the office, or look after a site."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import SiteConfig, load_config
from .errors import MotcuaError

log = logging.getLogger("motcua")

DEFAULT_CONFIG = "/etc/motcua/site.toml"

# role -> module whose run(config, options) -> int runs that daemon
ROLES = {
    "kiosk": "motcua.kiosk.daemon",
    "counter": "motcua.counter.daemon",
    "caller": "motcua.caller.daemon",
    "display": "motcua.display.daemon",
    "web": "motcua.web.daemon",
    "central-publisher": "motcua.central.publisher",
}

# command -> module with add_arguments(parser) and main(options) -> int
TOOLS = {
    "broker-config": "motcua.broker_config",
    "doctor": "motcua.doctor",
    "report": "motcua.caller.report",
    "central": "motcua.central.centre",
}
TOOLS_HELP = {
    "broker-config": "write Mosquitto's password file and ACL for this site",
    "doctor": "check this Pi's set-up and print a checklist",
    "report": "the office's figures: tickets, waiting times, ratings",
    "central": "the centre: every hub's history into PostgreSQL (docs/central.md)",
}


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (64 <= width <= 8192 and 64 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is not a screen size")
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motcua", description="Queue system for a one-stop office (bộ phận một cửa).")
    parser.add_argument("--version", action="version", version=f"motcua {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def role(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("--config", default=DEFAULT_CONFIG, help="site config (TOML)")
        sub.add_argument("--broker", metavar="mqtt://HOST:PORT", help="override broker.url")
        sub.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        return sub

    kiosk = role("kiosk", "run the ticket kiosk")
    kiosk.add_argument("--kiosk", metavar="ID", help="which [[kiosks]] entry (default: the only one)")
    kiosk.add_argument("--printer", metavar="SPEC",
                       help="usb:VID:PID, serial:DEVICE[:BAUD], network:HOST[:PORT], file:PATH "
                            "or png:DIR (overrides the config)")
    kiosk.add_argument("--keyboard", action="store_true",
                       help="characters on standard input press the buttons")

    counter = role("counter", "run one counter's pad")
    counter.add_argument("--counter", metavar="ID", help="which counter this pad is")
    counter.add_argument("--mqtt-buttons", action="store_true",
                         help="on the hub: turn wireless MQTT buttons into counter commands")
    counter.add_argument("--keyboard", action="store_true",
                         help="characters on standard input press the buttons")

    caller = role("caller", "run the caller (queue, voice, board state) on the hub")
    caller.add_argument("--audio", metavar="SPEC", default="speaker",
                        help="speaker, wav:DIR or none (default: speaker)")
    caller.add_argument("--db", metavar="PATH", help="event log (default: STATE_DIR/caller.db)")

    display = role("display", "run the waiting-room board")
    display.add_argument("--snapshot", metavar="FILE.png",
                         help="wait for the board, render one frame to FILE.png, exit")
    display.add_argument("--size", type=_size, metavar="WxH", help="window size, e.g. 1920x1080")
    display.add_argument("--counter", metavar="ID", help="show one counter (small screen mode)")
    display.add_argument("--timeout", type=float, default=10.0,
                         help="with --snapshot: seconds to wait for the board (default 10)")

    web = role("web", "run the hub's web pages (counter tablets, citizens' phones), or pair a tablet")
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
                                                    "(default /etc/motcua/communes)")
    web.add_argument("--users", metavar="FILE", help="with --central: the centre's users "
                                                     "(default /var/lib/motcua/central-web.db)")
    publisher = role("central-publisher", "on the hub: send the caller's history to the centre")
    publisher.add_argument("--db", metavar="PATH", help="caller's event log (default: STATE_DIR/caller.db)")

    check = commands.add_parser("check-config", help="check a site config and exit")
    check.add_argument("file")

    # Tools for technicians; each module adds its own flags and runs with main(options).
    for name, help in TOOLS_HELP.items():
        sub = commands.add_parser(name, help=help)
        importlib.import_module(TOOLS[name]).add_arguments(sub)

    demo = commands.add_parser("demo", help="the whole office on this machine, no hardware")
    demo.add_argument("--config", help="site config (default: the built-in example office)")
    demo.add_argument("--out", default="motcua-demo", help="folder for tickets, sounds, snapshots")
    demo.add_argument("--audio", help="speaker, wav:DIR or none (default: speaker if any)")
    demo.add_argument("--embedded-broker", action="store_true",
                      help="use the pure-Python broker even when Mosquitto is installed")
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
    if options.command == "check-config":
        config = load_config(options.file)
        from .checks import check_site

        for problem in check_site(config):
            raise problem
        print(f"{options.file}: ok ({len(config.services)} services, "
              f"{len(config.counters)} counters, {len(config.kiosks)} kiosks)")
        return 0
    if options.command in TOOLS:
        return int(importlib.import_module(TOOLS[options.command]).main(options))
    if options.command == "demo":
        from .demo import run_demo

        return run_demo(options)
    if options.command == "web" and options.central:     # no site config: the centre has none
        from .web.central_web import main as central_web

        return central_web(options)
    site: SiteConfig = load_config(options.config, broker_url=options.broker)
    module = importlib.import_module(ROLES[options.command])
    return int(module.run(site, options))


if __name__ == "__main__":
    sys.exit(main())
