"""The one module that reaches into faust-streaming and aiokafka refuses other versions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from agents.internals import SUPPORTED, UnsupportedVersion, check_versions

ROOT = Path(__file__).resolve().parents[2]


def test_the_pinned_versions_pass() -> None:
    check_versions(dict(SUPPORTED))
    check_versions()  # and the installed ones are those


@pytest.mark.parametrize(
    ("installed", "named"),
    [
        ({"faust-streaming": "0.16.0", "aiokafka": "0.14.0"}, "faust-streaming 0.16.0"),
        ({"faust-streaming": "0.15.3", "aiokafka": "0.12.0"}, "aiokafka 0.12.0"),
        ({"faust-streaming": "0.15.3"}, "aiokafka (missing)"),
    ],
)
def test_another_version_is_refused_with_what_to_install(
    installed: dict[str, str], named: str
) -> None:
    with pytest.raises(UnsupportedVersion) as refused:
        check_versions(installed)
    message = str(refused.value)
    assert named in message
    assert "faust-streaming==0.15.3 and aiokafka==0.14.0" in message
    assert "constraints.txt" in message


def test_supported_versions_are_the_exact_pins_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        r.name: str(r.specifier)[2:]
        for r in map(Requirement, project["dependencies"])
        if str(r.specifier).startswith("==")
    }
    assert {name: pins[name] for name in SUPPORTED} == SUPPORTED
