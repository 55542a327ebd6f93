"""`motcua kiosk ...` as a process for tests (installs the stand-in printer while part B's is absent)."""

import importlib.util
import sys

if importlib.util.find_spec("motcua.kiosk.printer") is None:
    import standin_printer

    standin_printer.install()

from motcua.cli import main

sys.exit(main(["kiosk", *sys.argv[1:]]))
