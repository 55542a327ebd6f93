"""Mosquitto's own bridge from a hub to the central broker, and the central broker's accounts.

The hub's broker stores and forwards (QoS 1, persistent session on the central broker), so
the hub never waits for the WAN. Out go only the history and the devices' status; in come
only the centre's requests and acknowledgements for this site. On the central broker each
site has its own user, named as the site, whose rules (``pattern ... %u``) let it publish
only under ``motcua/<its site>/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from motcua.errors import MotcuaError

from .settings import CentralSettings

CENTRE_USER = "central"
CENTRE_TOPICS = "centre"       # the consumer's own status lives under motcua/centre/


def bridge_section(site_id: str, central: CentralSettings, *, password: str | None = None,
                   restart_timeout: str = "5 120") -> str:
    """The ``connection`` section for the hub's mosquitto.conf (conf.d)."""
    if password is None:
        try:
            password = central.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MotcuaError(f"[central] password_file {central.password_file}: "
                              f"{exc.strerror}") from None
    if not password:
        raise MotcuaError(f"[central] password_file {central.password_file} is empty")
    root = f"motcua/{site_id}/"
    lines = [
        f"# motcua: the bridge of site {site_id!r} to the centre, written by `motcua broker-config`",
        "# from [central] in the site config. Do not edit: run the tool again.",
        f"connection motcua-{site_id}-central",
        f"address {central.host}:{central.port}",
        f"remote_clientid motcua-{site_id}-bridge",
        f"remote_username {central.username}",
        f"remote_password {password}",
        "bridge_protocol_version mqttv311",
        # A persistent session on both ends: what either side queued survives a reconnect.
        "cleansession false",
        "local_clientid motcua-bridge-central",
        "try_private true",
        "start_type automatic",
        f"restart_timeout {restart_timeout}",
        "keepalive_interval 60",
        # No $SYS notifications: the central ACL lets a site publish under its own root only.
        "notifications false",
        # History and status out, requests and acknowledgements in; nothing else crosses.
        f"topic history/event out 1 {root} {root}",
        f"topic history/head out 1 {root} {root}",
        f"topic status/# out 1 {root} {root}",
        f"topic history/request in 1 {root} {root}",
        f"topic history/ack in 1 {root} {root}",
    ]
    if central.tls:
        if central.ca_file is not None:
            lines.append(f"bridge_cafile {central.ca_file}")
        else:
            lines.append("bridge_capath /etc/ssl/certs")
        lines.append("bridge_insecure false")
        lines.append("bridge_tls_version tlsv1.2")
    return "\n".join(lines) + "\n"


def central_acl_text() -> str:
    """The central broker's acl_file: the consumer reads every site; a site only itself."""
    return "\n".join([
        "# motcua: the central broker's ACL, written by `motcua central --broker-files`.",
        f"user {CENTRE_USER}",
        "topic read motcua/+/history/event",
        "topic read motcua/+/history/head",
        "topic read motcua/+/status/#",
        "topic write motcua/+/history/request",
        "topic write motcua/+/history/ack",
        f"topic readwrite motcua/{CENTRE_TOPICS}/status/#",
        "",
        "# Every other user is a site's bridge, named as the site: only its own topics.",
        "pattern write motcua/%u/history/event",
        "pattern write motcua/%u/history/head",
        "pattern write motcua/%u/status/#",
        "pattern read motcua/%u/history/request",
        "pattern read motcua/%u/history/ack",
        "",
    ])


def write_central_broker_files(out: Path, sites: Sequence[str]) -> dict[str, Path]:
    """``passwords``, ``acl`` and ``secrets/<user>`` for the central broker; secrets are kept
    across runs (adding a commune changes no other password). Returns user -> secret file."""
    import re
    import secrets as random

    from motcua.broker_config import _let_mosquitto_read, _write_private, hash_password
    from motcua.config_reader import ID_PATTERN

    for site in sites:
        if not re.fullmatch(ID_PATTERN, site) or site in (CENTRE_USER, CENTRE_TOPICS):
            raise MotcuaError(f"--site {site!r}: not a site id (letters, digits, - and _)")
    secret_dir = out / "secrets"
    secret_dir.mkdir(parents=True, exist_ok=True)
    secret_dir.chmod(0o700)
    files: dict[str, Path] = {}
    lines = []
    for user in (CENTRE_USER, *sites):
        path = secret_dir / user
        if not path.exists():
            _write_private(path, random.token_urlsafe(24) + "\n")
        password = path.read_text(encoding="utf-8").strip()
        files[user] = path
        lines.append(f"{user}:{hash_password(password)}\n")
    _write_private(out / "passwords", "".join(lines))
    _write_private(out / "acl", central_acl_text())
    _let_mosquitto_read(out / "passwords", out / "acl")
    return files
