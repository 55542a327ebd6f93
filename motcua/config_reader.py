"""Reading TOML tables with errors that name the file, the key and the reason.

Each room parses its own section of the site config with a :class:`Table`; a key
that is read is checked, and :meth:`Table.finish` rejects keys nobody read, so a
typo in the config is reported instead of silently ignored, with the nearest known key.

An entry of an array of tables is named by its id (``counters "2".services``) or,
without one, counted from 1 as a person counts (``buttons #2.key``); when the root
table knows the file's text, errors also give the line where the entry's block starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import time as TimeOfDay
from typing import Any, overload

from .errors import ConfigError

# An id of the site, a service, a counter, a kiosk or a display: it goes into MQTT topics,
# broker account names and file names, so letters, digits, '_' and '-' only.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"

_REQUIRED: Any = object()


class Table:
    """One TOML table of the config, read key by key."""

    def __init__(self, data: dict[str, Any], path: str, file: str, *, line: int | None = None,
                 text: str | None = None) -> None:
        if not isinstance(data, dict):
            raise ConfigError(file, path, "must be a table", line)
        self.data = data
        self.path = path
        self.file = file
        self.line = line          # where this table's block starts in the file, when known
        self._lines = text.splitlines() if text is not None else None   # the root's source
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), reason, self.line)

    def _header_line(self, name: str, nth: int = 0, *, array: bool = False) -> int | None:
        """The 1-based line of the root's ``[name]`` (or ``nth`` ``[[name]]``) header."""
        if self._lines is None:
            return self.line
        pattern = (rf"\s*\[\[\s*{re.escape(name)}\s*\]\]\s*(#.*)?" if array
                   else rf"\s*\[\s*{re.escape(name)}\s*\]\s*(#.*)?")
        seen = 0
        for number, text in enumerate(self._lines, start=1):
            if re.fullmatch(pattern, text):
                if seen == nth:
                    return number
                seen += 1
        return None

    def has(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, default: Any) -> Any:
        # A key named by a StrEnum member (Action.NEXT) is kept as its word, so a typo's hint
        # reads 'next', not the member's repr.
        name = str(name)
        self._read.add(name)
        if name in self.data:
            return self.data[name]
        if default is _REQUIRED:
            raise self.error(name, "is required")
        return default

    # Typed getters: named get_* so that they do not shadow the builtins inside the class, and
    # typed so that a required key reads as its type and a key defaulting to None as optional.
    @overload
    def get_str(self, name: str, *, choices: Iterable[str] | None = None,
                pattern: str | None = None, nonempty: bool = True) -> str: ...
    @overload
    def get_str(self, name: str, default: str, *, choices: Iterable[str] | None = None,
                pattern: str | None = None, nonempty: bool = True) -> str: ...
    @overload
    def get_str(self, name: str, default: None, *, choices: Iterable[str] | None = None,
                pattern: str | None = None, nonempty: bool = True) -> str | None: ...

    def get_str(self, name: str, default: Any = _REQUIRED, *, choices: Iterable[str] | None = None,
                pattern: str | None = None, nonempty: bool = True) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, str):
            raise self.error(name, f"must be a string, not {_kind(value)}")
        if nonempty and not value.strip():
            raise self.error(name, "must not be empty")
        if choices is not None and value not in set(choices):
            raise self.error(name, f"must be one of {', '.join(sorted(choices))}, not {value!r}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.error(name, f"{value!r} does not match {pattern}")
        return value

    @overload
    def get_int(self, name: str, *, min: int | None = None, max: int | None = None) -> int: ...
    @overload
    def get_int(self, name: str, default: int, *, min: int | None = None,
                max: int | None = None) -> int: ...
    @overload
    def get_int(self, name: str, default: None, *, min: int | None = None,
                max: int | None = None) -> int | None: ...

    def get_int(self, name: str, default: Any = _REQUIRED, *, min: int | None = None,
                max: int | None = None) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be a whole number, not {_kind(value)}")
        _check_range(self, name, value, min, max)
        return value

    @overload
    def get_float(self, name: str, *, min: float | None = None, max: float | None = None) -> float: ...
    @overload
    def get_float(self, name: str, default: float, *, min: float | None = None,
                  max: float | None = None) -> float: ...
    @overload
    def get_float(self, name: str, default: None, *, min: float | None = None,
                  max: float | None = None) -> float | None: ...

    def get_float(self, name: str, default: Any = _REQUIRED, *, min: float | None = None,
                  max: float | None = None) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"must be a number, not {_kind(value)}")
        _check_range(self, name, value, min, max)
        return float(value)

    @overload
    def get_bool(self, name: str) -> bool: ...
    @overload
    def get_bool(self, name: str, default: bool) -> bool: ...
    @overload
    def get_bool(self, name: str, default: None) -> bool | None: ...

    def get_bool(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, not {_kind(value)}")
        return value

    # (`time` the method would shadow `time` the class in annotations here, hence TimeOfDay.)
    @overload
    def time(self, name: str) -> TimeOfDay: ...
    @overload
    def time(self, name: str, default: TimeOfDay) -> TimeOfDay: ...

    def time(self, name: str, default: Any = _REQUIRED) -> Any:
        """A local time of day written "HH:MM"."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if isinstance(value, TimeOfDay):
            return value
        if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value):
            raise self.error(name, f"must be a time written \"HH:MM\", not {value!r}")
        hours, minutes = (int(part) for part in value.split(":"))
        if hours > 23 or minutes > 59:
            raise self.error(name, f"{value!r} is not a time of day")
        return TimeOfDay(hours, minutes)

    @overload
    def str_list(self, name: str, *, nonempty: bool = False) -> list[str]: ...
    @overload
    def str_list(self, name: str, default: list[str], *, nonempty: bool = False) -> list[str]: ...

    def str_list(self, name: str, default: Any = _REQUIRED, *, nonempty: bool = False) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings")
        if nonempty and not value:
            raise self.error(name, "must not be empty")
        return list(value)

    def table(self, name: str, *, required: bool = False) -> Table:
        """A sub-table; an absent one reads as empty unless required."""
        value = self._get(name, _REQUIRED if required else {})
        if not isinstance(value, dict):
            raise self.error(name, f"must be a table, not {_kind(value)}")
        return Table(value, self.key(name), self.file, line=self._header_line(name))

    def tables(self, name: str, *, required: bool = False) -> list[Table]:
        """An array of tables ([[name]] in TOML)."""
        value = self._get(name, _REQUIRED if required else [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(name, "must be an array of tables ([[...]])")
        if required and not value:
            raise self.error(name, "must list at least one entry")
        return [Table(v, entry_name(self.key(name), i, v.get("id")), self.file,
                      line=self._header_line(name, i, array=True))
                for i, v in enumerate(value)]

    def raw(self, name: str, default: Any = _REQUIRED) -> Any:
        return self._get(name, default)

    def finish(self) -> None:
        """Reject keys that no reader asked for: they are typos or misplaced."""
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            reason = "is not a known key here"
            nearest = difflib.get_close_matches(unknown[0], sorted(self._read), n=1, cutoff=0.6)
            if nearest:
                reason += f"; did you mean {nearest[0]!r}?"
            elif self._read:
                reason += f" (known: {', '.join(sorted(self._read))})"
            raise self.error(unknown[0], reason)


def entry_name(array: str, index: int, entry_id: object = None) -> str:
    """How an error names one entry of an array of tables: by its id, else counted from 1."""
    if isinstance(entry_id, str) and entry_id.strip() and '"' not in entry_id:
        return f'{array} "{entry_id}"'
    return f"{array} #{index + 1}"


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _check_range(table: Table, name: str, value: float, low: float | None,
                 high: float | None) -> None:
    if low is not None and value < low:
        raise table.error(name, f"must be at least {low}, not {value}")
    if high is not None and value > high:
        raise table.error(name, f"must be at most {high}, not {value}")
