"""Supply chain (issue 18, item 7): what a Pi installs from the registry is pinned and hashed
(requirements/ROLE.txt) and, with the role's apt packages, covers everything it needs."""

from __future__ import annotations

import configparser
import re
from importlib import metadata

import pytest
from install_helpers import REPO

ROLES = ["kiosk", "counter", "caller", "display", "central"]
SCRIPT = (REPO / "scripts" / "install").read_text()
# A Python distribution and the Debian package that provides it.
APT = {"pillow": "python3-pil", "pygame": "python3-pygame", "numpy": "python3-numpy",
       "matplotlib": "python3-matplotlib", "pyyaml": "python3-yaml", "setuptools": "python3-setuptools",
       "pyserial": "python3-serial", "pyusb": "python3-usb", "gpiozero": "python3-gpiozero",
       "qrcode": "python3-qrcode", "psycopg": "python3-psycopg"}
ENTRY = re.compile(r"^([a-z0-9-]+)==(\S+) \\\n    --hash=sha256:([0-9a-f]{64})$", re.M)


def pinned(role: str) -> dict[str, str]:
    text = (REPO / "requirements" / f"{role}.txt").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    entries = ENTRY.findall(body)
    # Every line belongs to a pinned, hashed entry: nothing else may come from the registry.
    assert ENTRY.sub("", body).strip() == "", body
    return {name: version for name, version, _ in entries}


def apt_packages(role: str) -> set[str]:
    branch = re.search(rf"(?ms)^  {role}\)\n    packages=\"(.*?)\"", SCRIPT)
    assert branch, role
    common = re.search(r'(?m)^packages="python3 (.*?) \$packages"', SCRIPT)
    assert common
    return {spec.split(":")[0] for spec in (branch.group(1) + " " + common.group(1)).split()}


def extras(role: str) -> list[str]:
    names = re.search(rf"(?m)^  {role}\)\n(?:.*\n)*?.*extra=([a-z,]+)", SCRIPT)
    assert names, role
    return names.group(1).split(",")


def requirement_names(lines: str) -> list[str]:
    return [re.split(r"[<>=!~; \[]", line.strip())[0].lower() for line in lines.strip().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def needs(role: str) -> set[str]:
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    wanted = set(requirement_names(setup["options"]["install_requires"]))
    for extra in extras(role):
        wanted |= set(requirement_names(setup["options.extras_require"][extra]))
    return wanted


@pytest.mark.parametrize("role", ROLES)
def test_every_package_from_the_registry_is_pinned_and_hashed(role: str) -> None:
    assert pinned(role)
    assert '-r "$SOURCE/requirements/$role.txt"' in SCRIPT and "--require-hashes --no-deps" in SCRIPT
    assert "--upgrade" not in SCRIPT


@pytest.mark.parametrize("role", ROLES)
def test_pinned_and_apt_packages_cover_what_the_role_needs(role: str) -> None:
    locked, apt = pinned(role), apt_packages(role)
    wanted = set(needs(role))
    # The pinned packages' own dependencies (no --no-deps surprises on the Pi).
    for name in list(locked):
        for requirement in metadata.requires(name) or []:
            if any(marker in requirement for marker in ("extra ==", "sys_platform", "platform_system",
                                                        "python_version")):
                continue                # not for Linux on Python 3.11, or optional
            wanted.add(requirement_names(requirement)[0])
    missing = {name for name in wanted if name not in locked and APT.get(name) not in apt}
    assert not missing, f"{role}: neither pinned nor from apt: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_the_pis_get_the_versions_the_tests_run_against(role: str) -> None:
    for name, version in pinned(role).items():
        assert metadata.version(name) == version, name
