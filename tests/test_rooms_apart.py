"""The shared package stands without the rooms: motcua/ imports no room, and the site config
reads each room's section only through what the rooms registered (motcua/sections.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from motcua.cli import ROOMS

# Run in a fresh interpreter: this test process has loaded every room already.
PROBE = """
import importlib, json, pkgutil, sys, tomllib
import motcua

rooms = %r
shared = [m.name for m in pkgutil.iter_modules(motcua.__path__) if m.name not in rooms]
for name in shared:
    importlib.import_module("motcua." + name)

from motcua import sections
from motcua.config import parse_config

try:
    parse_config({}, "site.toml")
    unregistered = "read"
except RuntimeError as exc:
    unregistered = str(exc)
sections.register("extra", lambda root, site: (site.site.id, root.table("extra").get_str("x", "-")))
config = parse_config(tomllib.loads('''
[site]
id = "s"
name = "S"
[[services]]
id = "a"
name = "A"
[[counters]]
id = "1"
services = ["a"]
[broker]
[extra]
x = "y"
'''), "site.toml")
print(json.dumps({"shared": shared, "extra": list(config.extra), "unregistered": unregistered,
                  "loaded": sorted(m for m in sys.modules
                                   if m.split(".")[:2][-1] in rooms and m.startswith("motcua."))}))
"""


def test_importing_the_shared_package_and_reading_a_config_loads_no_room() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE % ((*ROOMS, "sounds"),)],
                            capture_output=True, text=True, timeout=60, check=True)
    found = json.loads(result.stdout)
    assert {"config", "protocol", "mqtt", "doctor", "demo", "cli", "broker_config", "checks",
            "daemon", "sections"} <= set(found["shared"])
    assert found["loaded"] == []
    assert found["extra"] == ["s", "y"]
    assert "load_rooms" in found["unregistered"]


def test_every_room_registers_its_section() -> None:
    from motcua import sections

    assert {section.name for section in sections.registered()} == {
        "kiosks", "counter_pad", "caller", "board", "web", "central"}
