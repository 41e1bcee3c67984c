"""The project's metadata: one version, declared dependencies that the pinned requirements satisfy."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

import sbrlib

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_the_version_is_declared_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sbrlib.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", sbrlib.__version__)


def test_pinned_requirements_satisfy_the_declared_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for declared, pin_file in ((project["dependencies"], "requirements.txt"),
                               (project["optional-dependencies"]["dev"], "requirements-dev.txt")):
        pins = _pins(ROOT / pin_file)
        wanted = {Requirement(d).name.lower(): Requirement(d) for d in declared}
        assert set(wanted) == set(pins), f"pyproject.toml and {pin_file} name different packages"
        for name, req in wanted.items():
            assert req.specifier.contains(pins[name]), f"{pin_file}: {name}=={pins[name]} is outside {req}"
