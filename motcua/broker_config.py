"""``motcua broker-config``: Mosquitto's password file and ACL for one site.

Every device has its own broker account, so a stolen kiosk password cannot
call tickets and a counter cannot press another counter's buttons:

- ``kiosk-<id>``   publishes tickets and its own status; reads the board; writes and
                   reads back its own ``kiosk/<id>/issued`` record.
- ``counter-<id>`` publishes its own commands, ratings and status; reads its state and the board.
- ``display-<name>`` only reads (board, counter states; not ``called``, which has full names)
  and publishes its own status; a board on the hub has its own ``display-<name>`` account.
- ``caller``       reads everything of the site; publishes board, counter states, calls and its status.
- ``history``      the hub's history for the centre (``motcua central-publisher``, docs/central.md):
  publishes ``history/event`` and ``history/head``, reads the centre's requests and acks.
- ``web``          the hub's web pages (web/): reads tickets, boards, states and statuses; rates.
- ``buttons``      the hub's MQTT-button bridge (``motcua counter --mqtt-buttons``), only when
                   ``[[counter_pad.mqtt_buttons]]`` is configured: reads its button topics, writes
                   the commands (and ratings) of the counters those buttons serve.
- ``button-devices`` the wireless buttons' gateway (Zigbee2MQTT, Tasmota, ESPHome): reads and writes
                   the base topics of the configured buttons (``zigbee2mqtt/#``), nothing of motcua's.

The broker makes a client's id its user name (``use_username_as_clientid``), so no two
roles may share an account, and one password cannot take over another device's session.

Secrets are random, kept in ``OUT/secrets/<user>`` (mode 0600) and reused when the tool is
run again, so adding a counter does not change the other devices' passwords. They are
never printed or logged: the technician copies a device's file to that Pi.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from motcua.config_reader import ID_PATTERN
from motcua.errors import MotcuaError

if TYPE_CHECKING:
    from motcua.config import SiteConfig

DEFAULT_OUT = "/etc/mosquitto/motcua"
DEFAULT_BRIDGE = "/etc/mosquitto/conf.d/motcua-bridge.conf"
DISPLAY_PATTERN = ID_PATTERN
# Mosquitto 2.x "$7$" hashes: PBKDF2-HMAC-SHA512, 12-byte salt, base64 (mosquitto_passwd's format).
HASH_ITERATIONS = 1000
SALT_BYTES = 12


@dataclass(frozen=True)
class Account:
    """One device's broker user and the topics it may read and write."""

    username: str
    read: tuple[str, ...]
    write: tuple[str, ...]


def accounts(config: SiteConfig, displays: Sequence[str] = ("board",)) -> list[Account]:
    """Every device account of the site with least-privilege topics."""
    from motcua.protocol import Rate, Topics

    topics = Topics(config.site.id)
    # Each device also reads its own status topic: a second device with the same account
    # shows up there (motcua/mqtt.py stops the newer one).
    result = [Account(
        username="caller",
        read=(f"{topics.root}/#",),
        write=(topics.board, f"{topics.root}/counter/+/state", topics.called,
               f"{topics.root}/status/caller/+", topics.heartbeat, topics.received),
    )]
    for kiosk in config.kiosks:
        result.append(Account(
            username=f"kiosk-{kiosk.id}",
            read=(topics.board, topics.status("kiosk", kiosk.id), topics.heartbeat, topics.received,
                  topics.kiosk_issued(kiosk.id)),
            write=(topics.ticket_from(kiosk.id), topics.status("kiosk", kiosk.id),
                   topics.kiosk_issued(kiosk.id)),
        ))
    for counter in config.counters:
        result.append(Account(
            username=f"counter-{counter.id}",
            read=(topics.board, topics.counter_state(counter.id), topics.status("counter", counter.id),
                  topics.heartbeat, topics.received),
            write=(topics.counter_cmd(counter.id), topics.counter_rating(counter.id),
                   topics.status("counter", counter.id)),
        ))
    # Boards show masked names only: they never read ``called``, whose sentence has the full name.
    for name in displays:
        result.append(Account(
            username=f"display-{name}",
            read=(topics.board, f"{topics.root}/counter/+/state", topics.status("display", name),
                  topics.heartbeat),
            write=(topics.status("display", name),),
        ))
    # The hub's history for the centre (motcua central-publisher, docs/central.md).
    result.append(Account(
        username="history",
        read=(f"{topics.root}/history/request", f"{topics.root}/history/ack",
              topics.status("caller", "history")),
        write=(f"{topics.root}/history/event", f"{topics.root}/history/head",
               topics.status("caller", "history")),
    ))
    # The hub's web role (web/): it shows tickets with masked names, rates on a counter's
    # behalf (the caller checks the ticket was that counter's) and shows every device's status.
    result.append(Account(
        username="web",
        read=(topics.ticket_all, topics.board, f"{topics.root}/counter/+/state", topics.status_all,
              topics.heartbeat, topics.received),
        write=(topics.counter_rating_all, topics.status("web", "hub")),
    ))
    buttons = config.counter_pad.mqtt_buttons
    if buttons:
        # It reads every counter's state like a board does (its subscription has a wildcard,
        # for the Pause/Resume toggle), but writes only for the counters its buttons name.
        served = sorted({button.counter for button in buttons})
        rated = sorted({button.counter for button in buttons if isinstance(button.action, Rate)})
        bridge_status = topics.status("counter", "buttons")
        result.append(Account(
            username="buttons",
            read=(*dict.fromkeys(button.topic for button in buttons),
                  f"{topics.root}/counter/+/state", topics.heartbeat, topics.received, bridge_status),
            write=(*(topics.counter_cmd(counter) for counter in served),
                   *(topics.counter_rating(counter) for counter in rated), bridge_status),
        ))
        # The buttons' own gateway (Zigbee2MQTT, Tasmota, ESPHome) needs an account too, or the
        # broker refuses it: its base topics, never anything of motcua's.
        bases = dict.fromkeys(f"{button.topic.split('/')[0]}/#" for button in buttons
                              if button.topic.split("/")[0] not in ("motcua", "$SYS", ""))
        result.append(Account(username="button-devices", read=tuple(bases), write=tuple(bases)))
    return result


def acl_text(config: SiteConfig, site_accounts: Sequence[Account]) -> str:
    """Mosquitto's acl_file: nothing for anyone unnamed, each user only its own topics."""
    lines = [f"# motcua ACL for site {config.site.id!r}, written by `motcua broker-config`.",
             "# Do not edit: run the tool again after changing the site config.", ""]
    for account in site_accounts:
        lines.append(f"user {account.username}")
        lines.extend(f"topic read {topic}" for topic in account.read)
        lines.extend(f"topic write {topic}" for topic in account.write)
        lines.append("")
    return "\n".join(lines)


def hash_password(password: str, *, salt: bytes | None = None,
                  iterations: int = HASH_ITERATIONS) -> str:
    """A mosquitto_passwd-compatible ``$7$`` hash (PBKDF2-HMAC-SHA512)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return (f"$7${iterations}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def check_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash line part."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt),
                                     int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


@dataclass(frozen=True)
class BrokerFiles:
    passwords: Path
    acl: Path
    secrets: dict[str, Path]    # username -> file holding its password
    created: tuple[str, ...]    # usernames that got a new password this time


def write_broker_files(config: SiteConfig, out: Path,
                       displays: Sequence[str] = ("board",)) -> BrokerFiles:
    """Write ``passwords``, ``acl`` and ``secrets/<user>`` into ``out``; reuse existing secrets."""
    import secrets

    site_accounts = accounts(config, displays)
    secret_dir = out / "secrets"
    secret_dir.mkdir(parents=True, exist_ok=True)
    secret_dir.chmod(0o700)
    secret_files: dict[str, Path] = {}
    created: list[str] = []
    password_lines = []
    for account in site_accounts:
        path = secret_dir / account.username
        if path.exists():
            password = path.read_text(encoding="utf-8").strip()
        else:
            password = secrets.token_urlsafe(24)
            _write_private(path, password + "\n")
            created.append(account.username)
        if not password:
            raise MotcuaError(f"{path} is empty: delete it to make a new password")
        secret_files[account.username] = path
        password_lines.append(f"{account.username}:{hash_password(password)}\n")
    passwords = out / "passwords"
    _write_private(passwords, "".join(password_lines))
    acl = out / "acl"
    _write_private(acl, acl_text(config, site_accounts))
    _let_mosquitto_read(passwords, acl)
    return BrokerFiles(passwords=passwords, acl=acl, secrets=secret_files, created=tuple(created))


def set_device_account(site_toml: str | Path, username: str, password_file: str | Path, *,
                       url: str | None = None, ca_file: str | Path | None = None) -> None:
    """Put this Pi's broker account into its copy of the site config (scripts/install does this).

    ``username`` and ``password_file`` (and, when given, ``url`` and ``ca_file``: the hub's
    daemons use plain MQTT on localhost, the other Pis TLS) are the only lines of ``[broker]``
    that differ between the Pis of a site; earlier ones, commented or not, are replaced.
    """
    path = Path(site_toml)
    text = path.read_text(encoding="utf-8")
    head, found, rest = text.partition("[broker]\n")
    if not found:
        raise MotcuaError(f"{path}: no [broker] section")
    body, section_end, tail = rest.partition("\n[")
    keys = ["username", "password_file"] + (["url", "ca_file"] if url is not None else [])
    kept = [line for line in body.split("\n")
            if not re.match(rf"\s*#?\s*({'|'.join(keys)})\s*=", line)]
    account = ""
    if url is not None:
        account += f'url = "{url}"\n' + (f'ca_file = "{ca_file}"\n' if ca_file else "")
    account += f'username = "{username}"\npassword_file = "{password_file}"\n'
    path.write_text(head + found + account + "\n".join(kept) + section_end + tail, encoding="utf-8")


def hub_addresses() -> tuple[list[str], list[str]]:
    """The hub's names and IP addresses, for its certificate's subjectAltName."""
    import socket
    import subprocess

    host = socket.gethostname().split(".")[0]
    names = sorted({host, f"{host}.local", "motcua-hub", "motcua-hub.local", "localhost"})
    ips = {"127.0.0.1"}
    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10)
        ips.update(found.stdout.split())
    except (OSError, subprocess.SubprocessError):
        pass
    return names, sorted(ips)


def write_certificates(out: Path, names: Sequence[str], ips: Sequence[str], *,
                       days: int = 3650) -> tuple[Path, Path, Path]:
    """The site's CA (made once, kept) and the hub's certificate signed by it, whose
    subjectAltName lists the hub's names and IP addresses: devices may use either in ``url``.

    Returns (ca.crt, hub.crt, hub.key). The hub's certificate is made again on every run, so
    a new address is covered after running the tool again.
    """
    import subprocess

    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = out / "ca.key", out / "ca.crt"
    hub_key, hub_crt, request = out / "hub.key", out / "hub.crt", out / "hub.csr"

    def openssl(*args: str) -> None:
        result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise MotcuaError(f"openssl {args[0]}: {result.stderr.strip()}")

    if not (ca_key.exists() and ca_crt.exists()):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
                "-subj", "/CN=motcua site CA", "-keyout", str(ca_key), "-out", str(ca_crt),
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        ca_key.chmod(0o600)
    san = ",".join([*(f"DNS:{name}" for name in names), *(f"IP:{ip}" for ip in ips)])
    extensions = out / "hub.ext"
    extensions.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                          "extendedKeyUsage=serverAuth\n", encoding="utf-8")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={names[0]}",
            "-keyout", str(hub_key), "-out", str(request))
    hub_key.chmod(0o600)
    openssl("x509", "-req", "-in", str(request), "-CA", str(ca_crt), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", str(days), "-extfile", str(extensions), "-out", str(hub_crt))
    request.unlink()
    extensions.unlink()
    ca_crt.chmod(0o644)
    _let_mosquitto_read(hub_key)
    return ca_crt, hub_crt, hub_key


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 from the start: a secret is never readable by others."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _let_mosquitto_read(*paths: Path) -> None:
    """As root, give the files to group mosquitto (0640) so the broker reads them after dropping root."""
    if os.geteuid() != 0:
        return
    import grp

    try:
        gid = grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        return
    for path in paths:
        os.chown(path, 0, gid)
        path.chmod(0o640)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="/etc/motcua/site.toml", help="site config (TOML)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"folder for passwords, acl and secrets/ (default {DEFAULT_OUT})")
    parser.add_argument("--display", action="append", metavar="NAME", dest="displays",
                        help="a waiting-room board's name (repeat for several; default: board)")
    parser.add_argument("--certificates", action="store_true",
                        help="also make the site's CA (once) and the hub's TLS certificate "
                             "(names and IPs of this machine) in the same folder")
    parser.add_argument("--hub-address", action="append", metavar="NAME_OR_IP", default=[],
                        help="another name or IP address of the hub for its certificate")
    parser.add_argument("--bridge-out", metavar="FILE",
                        help="where the bridge to the centre ([central]) is written (default "
                             f"{DEFAULT_BRIDGE} with the default --out, else OUT/bridge.conf)")


def main(options: argparse.Namespace) -> int:
    from motcua.config import load_config

    config = load_config(options.config)
    displays = options.displays or ["board"]
    for name in displays:
        if not re.fullmatch(DISPLAY_PATTERN, name):
            raise MotcuaError(f"--display {name!r}: use letters, digits, - and _ only")
    if len(set(displays)) != len(displays):
        raise MotcuaError("--display: a name is given twice")
    files = write_broker_files(config, Path(options.out), displays)
    print(f"{files.passwords}: {len(files.secrets)} accounts")
    print(f"{files.acl}: access rules for site {config.site.id}")
    for username, path in files.secrets.items():
        state = "new" if username in files.created else "kept"
        print(f"  {username:<24} password in {path} ({state})")
    if options.certificates:
        names, ips = hub_addresses()
        for extra in options.hub_address:
            (ips if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", extra) else names).append(extra)
        ca, hub, _ = write_certificates(Path(options.out), names, ips)
        print(f"{hub}: TLS certificate for {', '.join([*names, *ips])}")
        print(f"{ca}: the site's CA; copy it to every other Pi (scripts/install --ca-file FILE)")
    _write_bridge(config, options)
    print("Copy each device's password file to that Pi as /etc/motcua/mqtt-password "
          "(scripts/install --password-file FILE does it), then restart mosquitto.")
    return 0


def _write_bridge(config: SiteConfig, options: argparse.Namespace) -> None:
    """The bridge to the centre from ``[central]``, or no bridge file without that table."""
    from motcua.central.bridge import bridge_section

    target = getattr(options, "bridge_out", None) or (
        DEFAULT_BRIDGE if options.out == DEFAULT_OUT else str(Path(options.out) / "bridge.conf"))
    path = Path(target)
    if config.central is None:
        if path.exists():
            path.unlink()
            print(f"{path}: removed (no [central] in the site config)")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # It holds the site's password on the central broker: private, like the password file.
    _write_private(path, bridge_section(config.site.id, config.central))
    _let_mosquitto_read(path)
    print(f"{path}: bridge of site {config.site.id} to {config.central.url}")
