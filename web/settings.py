"""The ``[web]`` section: where the hub's pages are reached, and what the rating page asks."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from motcua import sections
from motcua.config_reader import Table

DEFAULT_REASONS = ("Thái độ phục vụ", "Thời gian chờ lâu", "Hướng dẫn chưa rõ", "Lý do khác")
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class WebSettings:
    url: str | None = None            # base URL phones and tablets use; None: no [web] section
    listen: str = f"0.0.0.0:{DEFAULT_PORT}"
    reasons: tuple[str, ...] = DEFAULT_REASONS
    reason_levels: int | None = None  # the lowest levels that ask a reason (default: half of them)
    thanks_s: float = 8.0             # the tablet's "Cảm ơn" shows this long, then rest
    conduct: str = ""                 # the code of conduct at rest (default: the board's ticker)
    target_wait_min: float = 15.0     # the office's live view warns of a citizen waiting longer

    def asks_reason(self, levels: int) -> int:
        """How many of the lowest levels ask a reason: 1 of 3, 2 of 5 by default."""
        return min(levels, self.reason_levels if self.reason_levels is not None else max(1, levels // 2))


def ticket_url(base: str | None, ticket_id: str) -> str | None:
    """The citizen's page of a ticket (its QR code), or None without ``[web] url``."""
    return f"{base}/t/{ticket_id}" if base else None


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (or :PORT) -> (host, port); raises ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT, e.g. 0.0.0.0:{DEFAULT_PORT}")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse(root: Table) -> WebSettings:
    present = root.has("web")
    table = root.table("web")
    url = table.get_str("url", None)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise table.error("url", f"{url!r} is not http://HOST[:PORT], e.g. http://motcua-hub.local:8080")
        url = url.rstrip("/")
    listen = table.get_str("listen", WebSettings.listen)
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise table.error("listen", str(exc)) from None
    reasons = tuple(table.str_list("reasons", list(DEFAULT_REASONS)))
    if len(reasons) > 12 or any(not r.strip() or len(r) > 100 for r in reasons) \
            or len(set(reasons)) != len(reasons):
        raise table.error("reasons", "must be at most 12 distinct non-empty texts of up to 100 characters")
    settings = WebSettings(
        url=url if present else None,
        listen=listen,
        reasons=reasons,
        reason_levels=table.get_int("reason_levels", None, min=0, max=10),
        thanks_s=table.get_float("thanks_s", WebSettings.thanks_s, min=1, max=120),
        conduct=table.get_str("conduct", WebSettings.conduct, nonempty=False),
        target_wait_min=table.get_float("target_wait_min", WebSettings.target_wait_min, min=1, max=240),
    )
    table.finish()
    return settings


# The site config reads this section through the registry (motcua/sections.py).
sections.register("web", lambda root, site: parse(root))
