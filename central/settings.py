"""The ``[central]`` section: where this hub's history goes (docs/central.md, docs/config.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motcua import sections
from motcua.config_reader import ID_PATTERN, Table


@dataclass(frozen=True)
class CentralSettings:
    url: str                 # the central broker, mqtts://HOST[:PORT] (mqtt:// only on a private link)
    host: str
    port: int
    tls: bool
    username: str            # this site's user on the central broker (default: the site id)
    password_file: Path      # its password, copied from the centre's secrets/<site>
    ca_file: Path | None     # CA of the central broker's certificate (default: the system's CAs)


def parse(root: Table, site_id: str) -> CentralSettings | None:
    """None when the hub reports to no centre (no ``[central]`` table)."""
    from motcua.config import parse_broker_url

    if not root.has("central"):
        return None
    table = root.table("central")
    url = table.get_str("url")
    try:
        host, port, tls = parse_broker_url(url)
    except ValueError as exc:
        raise table.error("url", str(exc)) from None
    username = table.get_str("username", site_id, pattern=ID_PATTERN)
    if username != site_id:
        # The centre's ACL lets a user publish only under motcua/<its name>/ (pattern %u).
        raise table.error("username", f"must be the site id {site_id!r}: the central broker's "
                          "access rules are per site")
    ca_file = table.get_str("ca_file", None)
    settings = CentralSettings(url=url, host=host, port=port, tls=tls, username=username,
                               password_file=Path(table.get_str("password_file")),
                               ca_file=Path(ca_file) if ca_file else None)
    table.finish()
    return settings


# The site config reads this section through the registry (motcua/sections.py).
sections.register("central", lambda root, site: parse(root, site.site.id))
