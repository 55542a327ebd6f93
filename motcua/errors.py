"""The one exception family of motcua: catch MotcuaError at a program's edge."""

from __future__ import annotations

from types import ModuleType


class MotcuaError(Exception):
    """Base class of every error motcua raises on purpose."""


class ConfigError(MotcuaError):
    """A site config that cannot be used; names the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.key = key
        self.reason = reason
        self.line = line
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


class ProtocolError(MotcuaError):
    """A message that does not follow docs/protocol.md."""


class HardwareError(MotcuaError):
    """A device is missing, unplugged or refuses to work."""


class MissingDependency(MotcuaError):
    """An optional library for a role is not installed."""

    def __init__(self, module: str, extra: str, debian: str | None = None) -> None:
        hint = f"pip install 'motcua[{extra}]'"
        if debian:
            hint += f" (on Raspberry Pi OS: sudo apt install {debian})"
        super().__init__(f"the Python module '{module}' is needed here: {hint}")
        self.module = module


def require(module: str, extra: str, debian: str | None = None) -> ModuleType:
    """Import an optional hardware or media library, or explain how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module, extra, debian) from exc
