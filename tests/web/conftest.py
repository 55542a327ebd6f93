"""One office (broker, caller, web role) shared by the web tests that do not restart it."""

from __future__ import annotations

import pytest
from web_rig import WebOffice


@pytest.fixture(scope="session")
def office(tmp_path_factory):
    office = WebOffice(tmp_path_factory.mktemp("web-office"), extra="thanks_s = 2\n")
    yield office
    office.close()
