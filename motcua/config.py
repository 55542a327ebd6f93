"""The site config: one TOML file for a whole office, the same on every Pi.

Site-wide keys (site, broker, services, counters) are read here; each room reads
its own section with its ``settings`` module, so the rules for a key live beside
the code that uses it: the room registers that reader (motcua/sections.py) and this
module imports no room. Every key is documented in docs/config.md.
"""

from __future__ import annotations

import enum
import os
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import sections
from .config_reader import ID_PATTERN, Table
from .errors import ConfigError
from .protocol import ACTIONS, Action

if TYPE_CHECKING:
    # Types only: the rooms' sections are filled at run time by what the rooms registered.
    from motcua.caller.settings import CallerSettings
    from motcua.central.settings import CentralSettings
    from motcua.counter.settings import CounterPadSettings
    from motcua.display.settings import BoardSettings
    from motcua.kiosk.settings import KioskSettings
    from motcua.web.settings import WebSettings



@dataclass(frozen=True)
class SiteInfo:
    id: str
    name: str
    unit: str
    timezone: str
    day_starts_at: time
    state_dir: Path

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    username: str | None
    password_file: Path | None
    ca_file: Path | None
    keepalive: int

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def password(self) -> str | None:
        """Read the secret only when connecting; it never enters logs or reprs."""
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


class OnExhausted(enum.StrEnum):
    """What a kiosk does when a service's numbers of the day are used up."""

    WRAP = "wrap"       # start again at the first number
    STOP = "stop"       # no more tickets of that service until the next day


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    prefix: str
    first: int
    last: int
    on_exhausted: OnExhausted


@dataclass(frozen=True)
class Counter:
    id: str
    name: str
    services: tuple[str, ...]
    keys: dict[Action, str] = field(default_factory=dict)  # pad action -> keyboard key


@dataclass(frozen=True)
class SiteBase:
    """The site-wide part of the config, which every room's section may refer to."""

    file: Path
    site: SiteInfo
    broker: BrokerSettings
    services: tuple[Service, ...]
    counters: tuple[Counter, ...]

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def counter(self, counter_id: str) -> Counter:
        for counter in self.counters:
            if counter.id == counter_id:
                return counter
        raise KeyError(counter_id)


@dataclass(frozen=True, init=False)
class SiteConfig(SiteBase):
    """The whole site config: the site-wide part and every registered room's section, read
    as an attribute (``config.kiosks``, ``config.counter_pad``, …)."""

    sections: dict[str, Any] = field(repr=False)

    def __init__(self, file: Path, site: SiteInfo, broker: BrokerSettings, services: tuple[Service, ...],
                 counters: tuple[Counter, ...], sections: dict[str, Any] | None = None,
                 **more: Any) -> None:
        # A section may be given by its name too, so dataclasses.replace(config, board=...) works.
        for name, value in (("file", file), ("site", site), ("broker", broker),
                            ("services", services), ("counters", counters),
                            ("sections", {**(sections or {}), **more})):
            object.__setattr__(self, name, value)

    if TYPE_CHECKING:
        @property
        def kiosks(self) -> tuple[KioskSettings, ...]: ...
        @property
        def counter_pad(self) -> CounterPadSettings: ...
        @property
        def caller(self) -> CallerSettings: ...
        @property
        def board(self) -> BoardSettings: ...
        @property
        def web(self) -> WebSettings: ...
        @property
        def central(self) -> CentralSettings | None: ...   # [central]: the hub reports to a centre
    else:
        def __getattr__(self, name: str) -> Any:
            # Only for names that are not fields; a room that did not register has no section.
            sections = self.__dict__.get("sections")
            if sections is not None and name in sections:
                return sections[name]
            raise AttributeError(f"the site config has no {name!r} (no room registered it)")


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """Split mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{url!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"{url!r} has a bad port") from exc
    return parts.hostname, port, tls


INSTALLED_EXAMPLE = Path("/opt/motcua/share/doc/site.toml.example")   # put there by scripts/install


def example_config() -> Path:
    """Where the example site config is on this machine: in a clone of the source, or where
    the installer puts it."""
    clone = Path(__file__).resolve().parents[1] / "examples" / "liem-chung.toml"
    return clone if clone.is_file() else INSTALLED_EXAMPLE


def load_config(path: str | Path, *, broker_url: str | None = None) -> SiteConfig:
    """Read and check a site config; raises ConfigError naming file, key and reason."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(file, "", f"file not found; start from the example {example_config()} "
                                    "(every key: docs/config.md)") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "", "is not UTF-8 text: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot be read: {exc.strerror}") from None
    return parse_config(data, file, broker_url=broker_url, text=text)


def parse_config(data: dict[str, Any], file: str, *, broker_url: str | None = None,
                 text: str | None = None) -> SiteConfig:
    readers = sections.registered()
    if not readers:
        raise RuntimeError("no room has registered its config section: the program's entry "
                           "calls motcua.cli.load_rooms() before reading a config")
    root = Table(data, "", file, text=text)
    site = _parse_site(root.table("site", required=True))
    broker = _parse_broker(root.table("broker", required=True), broker_url)
    services = _parse_services(root)
    counters = _parse_counters(root, services)
    base = SiteBase(file=Path(file), site=site, broker=broker, services=services, counters=counters)
    config = SiteConfig(file=base.file, site=site, broker=broker, services=services, counters=counters,
                        sections={section.name: section.read(root, base) for section in readers})
    root.finish()
    return config


def _parse_site(table: Table) -> SiteInfo:
    timezone = table.get_str("timezone", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise table.error("timezone", f"{timezone!r} is not a known time zone") from None
    info = SiteInfo(
        id=table.get_str("id", pattern=ID_PATTERN),
        name=table.get_str("name"),
        unit=table.get_str("unit", "Bộ phận Tiếp nhận và Trả kết quả"),
        timezone=timezone,
        day_starts_at=table.time("day_starts_at", time(0, 0)),
        state_dir=Path(table.get_str("state_dir", "/var/lib/motcua")),
    )
    table.finish()
    return info


def _parse_broker(table: Table, override_url: str | None) -> BrokerSettings:
    url = table.get_str("url", "mqtt://localhost:1883")
    key = "url"
    if override_url is not None:
        url, key = override_url, "--broker"
    try:
        host, port, tls = parse_broker_url(url)
    except ValueError as exc:
        if key == "--broker":
            raise ConfigError("command line", "--broker", str(exc)) from None
        raise table.error(key, str(exc)) from None
    password_file = table.get_str("password_file", None)
    ca_file = table.get_str("ca_file", None)
    username = table.get_str("username", None)
    # A second role on a Pi has its own account (the broker binds client ids to accounts):
    # scripts/install puts it in that unit's environment file, e.g. the board on the hub.
    if os.environ.get("MOTCUA_BROKER_USERNAME"):
        username = os.environ["MOTCUA_BROKER_USERNAME"]
        password_file = os.environ.get("MOTCUA_BROKER_PASSWORD_FILE") or password_file
    settings = BrokerSettings(
        host=host,
        port=port,
        tls=tls,
        username=username,
        password_file=Path(password_file) if password_file else None,
        ca_file=Path(ca_file) if ca_file else None,
        keepalive=table.get_int("keepalive", 30, min=5, max=600),
    )
    table.finish()
    return settings


def _parse_services(root: Table) -> tuple[Service, ...]:
    services: list[Service] = []
    for table in root.tables("services", required=True):
        service = Service(
            id=table.get_str("id", pattern=ID_PATTERN),
            name=table.get_str("name"),
            prefix=table.get_str("prefix", "", pattern=r"[A-Z]{0,2}", nonempty=False),
            first=table.get_int("first", 1, min=0, max=99999),
            last=table.get_int("last", 999, min=0, max=99999),
            on_exhausted=OnExhausted(table.get_str("on_exhausted", OnExhausted.WRAP,
                                                   choices=tuple(OnExhausted))),
        )
        if service.last < service.first:
            raise table.error("last", f"must not be below first ({service.first})")
        if any(s.id == service.id for s in services):
            raise table.error("id", f"service {service.id!r} is listed twice")
        for other in services:
            shared = shared_labels(other, service)
            if shared is not None:
                low, high = shared
                raise table.error("first", (
                    f"numbers {service.first}..{service.last} print the same labels as service "
                    f"{other.id!r} ({other.first}..{other.last}): two citizens could hold "
                    f"{label(service, low)} at once and a call could not tell them apart "
                    f"({label(service, low)}..{label(service, high)} are shared); give each "
                    "service its own numbers or its own prefix"))
        table.finish()
        services.append(service)
    return tuple(services)


def label(service: Service, number: int) -> str:
    """A number as the ticket prints it: ``C001`` with a prefix (padded to the last number's
    digits), plain ``1012`` without; the same rule as kiosk/numbering.py's NumberRange.label."""
    if service.prefix:
        return f"{service.prefix}{number:0{len(str(service.last))}d}"
    return str(number)


def shared_labels(a: Service, b: Service) -> tuple[int, int] | None:
    """The numbers both services would print alike on one day, or None.

    A prefix is letters only, so a label splits into prefix and digits one way; padded
    digits of the same width, or unpadded ones, are equal only for equal numbers.
    """
    low, high = max(a.first, b.first), min(a.last, b.last)
    if low > high or a.prefix != b.prefix:
        return None
    if label(a, low) != label(b, low):          # same prefix, padded to other widths
        return None
    return low, high


def _parse_counters(root: Table, services: tuple[Service, ...]) -> tuple[Counter, ...]:
    known = {s.id for s in services}
    counters: list[Counter] = []
    for table in root.tables("counters", required=True):
        counter_id = table.get_str("id", pattern=ID_PATTERN)
        if any(c.id == counter_id for c in counters):
            raise table.error("id", f"counter {counter_id!r} is listed twice")
        served = table.str_list("services", nonempty=True)
        for service_id in served:
            if service_id not in known:
                raise table.error("services", f"unknown service {service_id!r}; known: "
                                  f"{', '.join(sorted(known))}")
        keys_table = table.table("keys")
        keys = {action: keys_table.get_str(action, None) for action in ACTIONS}
        keys_table.finish()
        counters.append(Counter(
            id=counter_id,
            name=table.get_str("name", f"Quầy {counter_id}"),
            services=tuple(served),
            keys={action: key for action, key in keys.items() if key is not None},
        ))
        table.finish()
    return tuple(counters)
