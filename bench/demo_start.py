"""The demo as a newcomer meets it: how long until the key list, and how long Esc takes.

    .venv/bin/python bench/demo_start.py            # starts of the demo from this clone's .venv
    .venv/bin/python bench/demo_start.py --fresh    # also: `./scripts/venv demo` in a fresh copy

`--fresh` copies the committed tree (git archive HEAD) to a temporary folder and times
`./scripts/venv demo` there: the first run's install with the system packages present.
Then it runs `motcua demo` on a pseudo-terminal, as in a technician's shell: the first start
(empty demo folder), three later starts (the demo resumes), and for each the time from Esc
to the end of the program. Targets (issue 15): first run <= 2 min, later starts <= 10 s to the
key list, Esc <= 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_install() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        began = time.perf_counter()
        subprocess.run(["./scripts/venv", "demo"], cwd=tmp, check=True)
        return time.perf_counter() - began


def _own_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def one_start(out: Path) -> tuple[float, float]:
    """Seconds to the key list, and from Esc to the program's end."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    master, slave = pty.openpty()
    began = time.perf_counter()
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "motcua"), "demo", "--out", str(out),
                                "--audio", f"wav:{out / 'sounds'}"], stdin=slave, stdout=slave,
                               stderr=slave, env=env, preexec_fn=_own_terminal)
    os.close(slave)
    text = ""
    try:
        while "[Esc]" not in text:
            if process.poll() is not None or time.perf_counter() - began > 120:
                raise RuntimeError("the demo did not show its keys:\n" + text)
            if select.select([master], [], [], 0.1)[0]:
                text += os.read(master, 65536).decode("utf-8", "replace")
        to_keys = time.perf_counter() - began
        os.write(master, b"\x1b")
        esc = time.perf_counter()
        while process.poll() is None:
            if select.select([master], [], [], 0.05)[0]:
                with contextlib.suppress(OSError):     # the demo closed the terminal
                    os.read(master, 65536)
        return to_keys, time.perf_counter() - esc
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="also time a fresh `scripts/venv demo`")
    options = parser.parse_args()
    print(f"motcua demo on this machine ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    if options.fresh:
        print(f"  first run's install (scripts/venv demo, fresh copy): {fresh_install():.0f} s")
    out = Path(tempfile.mkdtemp(prefix="motcua-demo-bench-"))
    try:
        for n in range(4):
            to_keys, esc = one_start(out)
            label = "first start (empty folder)" if n == 0 else f"later start {n}"
            print(f"  {label:28s} key list after {to_keys:.1f} s, Esc to exit {esc:.1f} s")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
