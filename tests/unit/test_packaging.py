"""`pip install .` installs the whole project: every module and data file of both packages.

One wheel build (as `pip wheel .` makes it, offline: no build isolation), installed with
`--no-deps` into a fresh virtual environment; then, in that environment's interpreter, every
module is imported from it (third-party packages resolve from this test's environment, placed
after it on `sys.path`) and every data file is found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Import name -> the folder it is built from (pyproject's package-dir).
PACKAGES = {
    name: ROOT / folder
    for name, folder in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ].items()
}
# What the build reads besides the package folders.
PROJECT_FILES = ("pyproject.toml", "README.md")


def source_modules() -> list[str]:
    """Every module on disk under both package folders, by its import name."""
    modules = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules.append(".".join([package, *parts]))
    return modules


def source_data_files() -> list[str]:
    """Every file under the package folders that is not Python source, as `package/relative path`."""
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                found.append(f"{package}/{path.relative_to(folder).as_posix()}")
    return found


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{command[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site-packages of a fresh virtual environment holding only the project's wheel."""
    work = tmp_path_factory.mktemp("packaging")
    # Built from a copy, so the build's own folders (build/, *.egg-info) stay out of the checkout.
    source = work / "source"
    for name in PROJECT_FILES:
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for folder in PACKAGES.values():
        shutil.copytree(
            folder, source / folder.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__")
        )
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "-w", str(work / "dist")],
        env=offline,
    )  # fmt: skip
    wheels = list((work / "dist").glob("agentgw-*.whl"))
    assert len(wheels) == 1, wheels

    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)  # this environment's pip installs into it
    python = env_dir / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheels[0])],
        env=offline,
    )
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site = Path(purelib.stdout.strip())
    assert (site / "agentgw").is_dir() and (env_dir / "bin" / "agentgw").is_file()
    return site


# Run by the fresh environment's interpreter, from a folder outside the checkout.
IMPORT_ALL = textwrap.dedent(
    """
    import importlib, json, sys
    modules, dependencies = json.loads(sys.argv[1]), sys.argv[2]
    sys.path.append(dependencies)  # after the fresh environment's own site-packages
    report = {}
    for name in modules:
        try:
            report[name] = {"file": importlib.import_module(name).__file__}
        except Exception as exc:
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        from agentgw.tools import tool_definitions
        report["tool_definitions"] = sorted(tool["name"] for tool in tool_definitions())
    except Exception as exc:
        report["tool_definitions"] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(report))
    """
)


def test_the_wheel_installs_every_module_and_data_file(installed: Path, tmp_path: Path) -> None:
    modules = source_modules()
    assert {"agentgw.agent.service", "agentgw.tools.local_time", "agentgw_local.search.index"} <= set(modules)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = installed.parents[2] / "bin" / "python"
    done = _run(
        [str(python), "-c", IMPORT_ALL, json.dumps(modules), sysconfig.get_path("purelib")],
        cwd=tmp_path,
        env=env,
    )
    report = json.loads(done.stdout.splitlines()[-1])

    failed = {name: result["error"] for name, result in report.items() if "error" in result}
    assert failed == {}
    elsewhere = {
        name: result["file"]
        for name, result in report.items()
        if name in modules and not Path(result["file"]).resolve().is_relative_to(installed.resolve())
    }
    assert elsewhere == {}  # each from the fresh environment, none from the checkout
    assert report["tool_definitions"] == ["get_time", "get_weather"]  # schemas.json, read as a resource

    data = source_data_files()
    assert {"agentgw/tools/schemas.json", "agentgw_local/search/query_adapter.json"} <= set(data)
    missing = [name for name in data if not (installed / name).is_file()]
    assert missing == []
