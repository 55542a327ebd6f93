"""Install-room fixtures: the example site, its broker accounts, and a broker run with the
shipped hub config (systemd/mosquitto/motcua.conf) and those accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from install_helpers import site_file
from rig import Mosquitto

from motcua.broker_config import BrokerFiles, write_broker_files
from motcua.config import SiteConfig, load_config


@pytest.fixture
def accounts_dir(tmp_path: Path) -> Path:
    return tmp_path / "broker-files"


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    return load_config(site_file(tmp_path, "mqtt://127.0.0.1:1883"))


@pytest.fixture
def broker_files(site: SiteConfig, accounts_dir: Path) -> BrokerFiles:
    return write_broker_files(site, accounts_dir, displays=["board"])


@pytest.fixture
def secured_broker(tmp_path: Path, broker_files: BrokerFiles):
    """Mosquitto with the shipped hub config, the generated password file and ACL."""
    server = Mosquitto(tmp_path / "mosquitto", passwords=broker_files.passwords, acl=broker_files.acl)
    server.start()
    yield server
    server.stop()
