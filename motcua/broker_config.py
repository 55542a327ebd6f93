"""Placeholder until this tool is built (see the open issues)."""

from __future__ import annotations

import argparse

from motcua.errors import MotcuaError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="/etc/motcua/site.toml")


def main(options: argparse.Namespace) -> int:
    raise MotcuaError(f"'{options.command}' is not built yet")
