"""environment.yml (conda) and pyproject.toml (pip) must list the same packages and versions."""

import re
import tomllib

import yaml

from helpers.paths import PROJECT_ROOT

CONDA_NAMES = {"pyyaml": "pyyaml"}  # conda-forge names that differ from PyPI would go here


def _pyproject() -> dict[str, str]:
    meta = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] + [r for extra in meta["optional-dependencies"].values() for r in extra]
    out = {}
    for r in reqs:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(==|~=)([\w.]+)", r.strip())
        assert m, f"pyproject requirement {r!r} is not pinned with == or ~="
        out[CONDA_NAMES.get(m[1].lower(), m[1].lower())] = m[3] if m[2] == "==" else _compatible(m[3])
    return out


def _compatible(version: str) -> str:
    """'~=0.3.7' as a conda range: '>=0.3.7,<0.4' (and '~=2.2' as '>=2.2,<3')."""
    parts = version.split(".")
    upper = parts[:-1]
    upper[-1] = str(int(upper[-1]) + 1)
    return f">={version},<{'.'.join(upper)}"


def _conda() -> dict[str, str]:
    deps = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())["dependencies"]
    out = {}
    for d in deps:
        if isinstance(d, str) and "=" in d and not d.startswith("python="):
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)=?(.+)", d).groups()
            out[name.lower()] = version
    return out


def test_environment_yml_matches_pyproject():
    assert _conda() == _pyproject()


def test_environment_yml_installs_the_project():
    deps = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip
