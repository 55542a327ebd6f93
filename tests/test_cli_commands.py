"""The ``motcua`` command has one registry: every command there is listed by --help, has its
own --help, and is run through it."""

from __future__ import annotations

import pytest

from motcua import cli
from motcua.config import example_config


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    listed = capsys.readouterr().out
    assert set(cli.COMMANDS) == {"kiosk", "counter", "caller", "display", "web", "central-publisher",
                                 "check-config", "broker-config", "doctor", "report", "central", "demo"}
    for name, command in cli.COMMANDS.items():
        assert f"    {name}" in listed and command.help.split()[0] in listed


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_its_own_help(name, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([name, "--help"])
    assert done.value.code == 0
    assert f"usage: motcua {name}" in capsys.readouterr().out


def test_a_command_runs_through_the_registry(capsys, monkeypatch) -> None:
    assert cli.main(["check-config", str(example_config())]) == 0
    assert ": ok (" in capsys.readouterr().out
    ran = []
    monkeypatch.setitem(cli.COMMANDS, "doctor", cli.Command("x", lambda sub: None,
                                                           lambda options: ran.append(options) or 7))
    assert cli.main(["doctor"]) == 7 and ran[0].command == "doctor"
