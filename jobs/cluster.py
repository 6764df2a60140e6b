"""``lakeforge cluster start|stop|status``: a Spark standalone master and worker on this machine.

The pyspark wheel has ``spark-daemon.sh`` but not ``start-master.sh``; this starts the same daemons.
State (logs, pids, worker scratch) lives in ``--state-dir`` (default ``./.spark``), never in site-packages.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from jobs.common import JobError, Parser

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="lakeforge cluster", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7077, help="master port (0 = pick a free one)")
    p.add_argument("--webui-port", type=int, default=0, help="master web UI port (0 = pick a free one)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="worker cores")
    p.add_argument("--memory", default="2g", help="worker memory")
    p.add_argument("--state-dir", default=".spark", help="logs, pids and worker scratch (default ./.spark)")
    return p


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _env(state: Path) -> dict:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOG_DIR=str(state / "logs"),
        SPARK_PID_DIR=str(state / "pids"),
        SPARK_WORKER_DIR=str(state / "work"),
        SPARK_LOCAL_IP=env.get("SPARK_LOCAL_IP", "127.0.0.1"),
        PYSPARK_PYTHON=env.get("PYSPARK_PYTHON", sys.executable),
        SPARK_NO_DAEMONIZE="",
    )
    env.pop("SPARK_NO_DAEMONIZE")
    return env


def _daemon(state: Path, action: str, cls: str, *args: str) -> None:
    script = spark_home() / "sbin" / "spark-daemon.sh"
    if not script.exists():
        raise JobError(f"{script} not found: is pyspark installed?")
    subprocess.run(
        ["bash", str(script), action, cls, "1", *args], env=_env(state), check=True, stdout=subprocess.DEVNULL
    )


def _wait_port(host: str, port: int, timeout: float = 60) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.5)
    return False


def start(host: str, port: int, cores: int, memory: str, state_dir: str, webui_port: int = 0) -> str:
    """Start master + one worker; returns the master URL once the worker has registered."""
    state = Path(state_dir).resolve()
    for sub in ("logs", "pids", "work"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    port = port or _free_port(host)
    ui = webui_port or _free_port(host)
    _daemon(state, "start", MASTER, "--host", host, "--port", str(port), "--webui-port", str(ui))
    if not _wait_port(host, port):
        raise JobError(f"master did not open {host}:{port}; see {state / 'logs'}")
    url = f"spark://{host}:{port}"
    _daemon(
        state,
        "start",
        WORKER,
        "--host",
        host,
        "--cores",
        str(cores),
        "--memory",
        memory,
        "--webui-port",
        str(_free_port(host)),
        url,
    )
    if not _wait_worker(state, timeout=90):
        raise JobError(f"the worker did not register with {url}; see {state / 'logs'}")
    (state / "master-url").write_text(url)
    return url


def _wait_worker(state: Path, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        for log in (state / "logs").glob("*Master*.out"):
            if "Registering worker" in log.read_text(errors="replace"):
                return True
        time.sleep(0.5)
    return False


def stop(state_dir: str) -> None:
    state = Path(state_dir).resolve()
    for cls in (WORKER, MASTER):
        subprocess.run(
            ["bash", str(spark_home() / "sbin" / "spark-daemon.sh"), "stop", cls, "1"],
            env=_env(state),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    (state / "master-url").unlink(missing_ok=True)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.action == "start":
        url = start(args.host, args.port, args.cores, args.memory, args.state_dir, args.webui_port)
        print(url)
    elif args.action == "stop":
        stop(args.state_dir)
    else:
        f = Path(args.state_dir) / "master-url"
        print(f.read_text() if f.exists() else "not running")
    return 0
