"""pyproject.toml (ranges), requirements.lock (exact versions + hashes) and environment.yml (conda) agree.

`make install` installs requirements.lock with pip --require-hashes, so the lock must pin every
package the project needs, with hashes, for each supported Python; `make lock` regenerates it from
pyproject.toml. environment.yml (the conda route) pins the same direct dependencies at the lock's
versions.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers.paths import PROJECT_ROOT

SUPPORTED = ("3.11", "3.12", "3.13")
PLATFORMS = ("linux", "darwin", "win32")
CONDA_NAMES: dict[str, str] = {}  # conda-forge names that differ from PyPI would go here
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


SEPARATE = {"spark": "requirements-spark.lock"}  # large extras locked on their own


def _declared(separate: bool = False) -> list[Requirement]:
    """The project's requirements in pyproject.toml: dependencies and every extra in
    requirements.lock (``separate=True``: those of the extras with a lock of their own)."""
    meta = PYPROJECT["project"]
    extras = meta["optional-dependencies"]
    if separate:
        return [Requirement(r) for name in SEPARATE for r in extras[name]]
    reqs = meta["dependencies"] + [r for name, extra in extras.items() if name not in SEPARATE
                                   for r in extra]
    return [Requirement(r) for r in reqs]


def _build() -> list[Requirement]:
    """The build backend ([build-system] requires), installed from the lock too."""
    return [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]


def _lock(name: str = "requirements.lock") -> dict[str, list[tuple[Version, Marker | None, int]]]:
    """A lock file as {name: [(version, marker, number of hashes)]}."""
    text = (PROJECT_ROOT / name).read_text()
    entries = re.sub(r"\\\n\s*", " ", text).splitlines()
    out: dict[str, list[tuple[Version, Marker | None, int]]] = defaultdict(list)
    for line in entries:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        hashes = re.findall(r"--hash=sha256:[0-9a-f]{64}", line)
        req = Requirement(re.sub(r"\s*--hash=\S+", "", line))
        (spec,) = req.specifier
        assert spec.operator == "==", f"requirements.lock: {line[:60]} is not pinned with =="
        out[canonicalize_name(req.name)].append((Version(spec.version), req.marker, len(hashes)))
    return out


def _env(python: str, platform: str) -> dict[str, str]:
    full = f"{python}.0"
    return {"python_version": python, "python_full_version": full, "sys_platform": platform,
            "os_name": "nt" if platform == "win32" else "posix", "implementation_name": "cpython",
            "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[platform],
            "platform_python_implementation": "CPython", "extra": ""}


def _locked_version(lock: dict, name: str, python: str, platform: str) -> Version | None:
    versions = [v for v, marker, _ in lock.get(canonicalize_name(name), [])
                if marker is None or marker.evaluate(_env(python, platform))]
    assert len(versions) <= 1, f"requirements.lock: {name} has {versions} on Python {python}"
    return versions[0] if versions else None


def test_requires_python_has_no_upper_bound_and_lock_starts_at_its_floor() -> None:
    assert PYPROJECT["project"]["requires-python"] == f">={SUPPORTED[0]}"
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert f"--python-version {SUPPORTED[0]}" in makefile  # `make lock` resolves from the floor up
    build = re.search(r"^BUILD_REQ := (.+)$", makefile, re.M)
    assert build and [build[1]] == PYPROJECT["build-system"]["requires"]


def test_lock_pins_every_package_with_hashes() -> None:
    lock = _lock()
    assert len(lock) > 100  # transitive dependencies too, not only the direct ones
    no_hash = [name for name, rows in lock.items() for _, _, n in rows if n == 0]
    assert not no_hash, f"requirements.lock entries without hashes: {no_hash}"


@pytest.mark.parametrize("python", SUPPORTED)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_lock_satisfies_pyproject_on_each_supported_python(python: str, platform: str) -> None:
    lock = _lock()
    for req in _declared() + _build():
        version = _locked_version(lock, req.name, python, platform)
        assert version is not None, f"requirements.lock lacks {req.name} on Python {python} ({platform})"
        assert version in req.specifier, f"requirements.lock: {req.name}=={version} is outside {req}"


@pytest.mark.parametrize("extra", sorted(SEPARATE))
def test_separately_locked_extras_pin_their_packages_with_the_main_versions(extra: str) -> None:
    lock, main = _lock(SEPARATE[extra]), _lock()
    assert all(n > 0 for rows in lock.values() for _, _, n in rows)
    for req in _declared(separate=True):
        version = _locked_version(lock, req.name, SUPPORTED[0], "linux")
        assert version is not None and version in req.specifier, f"{SEPARATE[extra]}: {req}"
    for name, rows in lock.items():   # resolved against requirements.lock: no other version
        if name in main:
            assert {v for v, _, _ in rows} <= {v for v, _, _ in main[name]}, name
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert f"install-{extra}:" in makefile and f"--extra {extra} -c $(LOCK)" in makefile


def test_ranges_are_compatible_releases() -> None:
    for req in _declared() + _declared(separate=True):
        (spec,) = req.specifier
        assert spec.operator == "~=", f"pyproject.toml: {req} is not a compatible-release (~=) range"


def _conda() -> tuple[str, dict[str, str]]:
    deps = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())["dependencies"]
    def is_python(d: object) -> bool:  # the interpreter, not python-stdnum and the like
        return isinstance(d, str) and re.match(r"python([<>=!~]|$)", d) is not None

    python = next(d for d in deps if is_python(d))
    out = {}
    for d in deps:
        if isinstance(d, str) and "=" in d and not is_python(d):
            name, version = d.split("=", 1)
            out[name.lower()] = version
    return python, out


def test_environment_yml_pins_the_locked_versions() -> None:
    lock = _lock()
    python, conda = _conda()
    assert SpecifierSet(python.removeprefix("python")) == SpecifierSet(
        f">={SUPPORTED[0]},<3.{int(SUPPORTED[-1].split('.')[1]) + 1}")
    expected = {CONDA_NAMES.get(canonicalize_name(r.name), canonicalize_name(r.name)):
                str(_locked_version(lock, r.name, SUPPORTED[0], "linux")) for r in _declared()}
    assert conda == expected


def test_environment_yml_installs_the_project() -> None:
    deps = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_package_is_type_checked_and_says_so() -> None:
    """`make lint` runs mypy over src/helpers with every function annotated, and the package
    ships its PEP 561 marker so that code importing helpers is checked against its hints."""
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["files"] == ["src/helpers"] and mypy["disallow_untyped_defs"] is True
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert lint and "$(BIN)/mypy" in lint[1]
    assert (PROJECT_ROOT / "src/helpers/py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["helpers"]
