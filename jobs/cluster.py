"""``lakeforge cluster start|stop|status``: a Spark standalone master and N workers on this machine.

The pyspark wheel has ``spark-daemon.sh`` but not ``start-master.sh``; this starts the same daemons. Everything
(logs, pids, each worker's work and local directories) lives in ``--state-dir`` (default ``./.spark``), never in
site-packages. Each worker is a separate JVM with its own port, web UI port, ``SPARK_WORKER_DIR`` (where executors
run and unpack ``--archives``) and ``SPARK_LOCAL_DIRS`` (shuffle and spill), as on separate machines. Workers do not
inherit the caller's ``PYTHONPATH`` or ``PYSPARK_PYTHON``: executors get their Python from the job (a packed
environment, ``lakeforge pack``), not from this shell.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from jobs.common import JobError, Parser

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
STATE_FILE = "cluster.json"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="lakeforge cluster", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--workers", type=int, default=1, help="workers to start (default 1)")
    p.add_argument("--worker", type=int, default=None, metavar="N", help="stop: only worker N (1-based)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7077, help="master port (0 = pick a free one)")
    p.add_argument("--webui-port", type=int, default=0, help="master web UI port (0 = pick a free one)")
    p.add_argument(
        "--cores", type=int, default=None, help="cores per worker (default: this machine's cores / workers, at least 1)"
    )
    p.add_argument("--memory", default="2g", help="memory per worker (default 2g)")
    p.add_argument("--state-dir", default=".spark", help="logs, pids and worker directories (default ./.spark)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="start/status output format")
    return p


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _env(state: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOG_DIR=str(state / "logs"),
        SPARK_PID_DIR=str(state / "pids"),
        SPARK_IDENT_STRING="lakeforge",  # names the pid and log files (default $USER, unset in some containers)
        SPARK_LOCAL_IP=env.get("SPARK_LOCAL_IP", "127.0.0.1"),
    )
    env.pop("SPARK_NO_DAEMONIZE", None)
    env.update(extra or {})
    return env


def _daemon(state: Path, action: str, cls: str, instance: int, *args: str, env: dict | None = None) -> None:
    script = spark_home() / "sbin" / "spark-daemon.sh"
    if not script.exists():
        raise JobError(f"{script} not found: is pyspark installed?")
    subprocess.run(
        ["bash", str(script), action, cls, str(instance), *args],
        env=_env(state, env),
        check=action == "start",
        stdout=subprocess.DEVNULL,
        stderr=None if action == "start" else subprocess.DEVNULL,
    )


def _pid(state: Path, cls: str, instance: int) -> int | None:
    """The daemon's pid from spark-daemon.sh's pid file, when that process is alive."""
    f = state / "pids" / f"spark-lakeforge-{cls}-{instance}.pid"
    try:
        pid = int(f.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _wait_port(host: str, port: int, timeout: float = 60) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.5)
    return False


def master_json(host: str, webui_port: int) -> dict:
    """The master's own status page as JSON (``http://HOST:WEBUI/json/``: workers, their state, running apps)."""
    with urllib.request.urlopen(f"http://{host}:{webui_port}/json/", timeout=5) as r:
        return json.loads(r.read())


def _wait_workers(host: str, webui_port: int, ports: set[int], timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        try:
            alive = {w["port"] for w in master_json(host, webui_port)["workers"] if w["state"] == "ALIVE"}
            if ports <= alive:
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def start(
    host: str,
    port: int,
    cores: int | None,
    memory: str,
    state_dir: str,
    webui_port: int = 0,
    workers: int = 1,
) -> str:
    """Start a master and ``workers`` workers; returns the master URL once every worker has registered."""
    if workers < 1:
        raise JobError(f"--workers {workers}: at least one worker")
    state = Path(state_dir).resolve()
    if (state / STATE_FILE).exists() and _pid(state, MASTER, 1):
        url = json.loads((state / STATE_FILE).read_text())["master"]["url"]
        raise JobError(f"a cluster from {state} is already running ({url}): `lakeforge cluster stop` it first")
    for sub in ("logs", "pids"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    cores = cores or max(1, (os.cpu_count() or 2) // workers)
    port = port or _free_port(host)
    ui = webui_port or _free_port(host)
    _daemon(state, "start", MASTER, 1, "--host", host, "--port", str(port), "--webui-port", str(ui))
    if not _wait_port(host, port):
        raise JobError(f"the master did not open {host}:{port}; see {state / 'logs'}")
    url = f"spark://{host}:{port}"
    info = {"master": {"url": url, "host": host, "port": port, "webui_port": ui}, "workers": []}
    for n in range(1, workers + 1):
        w = {
            "id": n,
            "port": _free_port(host),
            "webui_port": _free_port(host),
            "cores": cores,
            "memory": memory,
            "work_dir": str(state / f"worker-{n}" / "work"),
            "local_dir": str(state / f"worker-{n}" / "local"),
        }
        Path(w["work_dir"]).mkdir(parents=True, exist_ok=True)
        Path(w["local_dir"]).mkdir(parents=True, exist_ok=True)
        info["workers"].append(w)
        args = ["--host", host, "--port", str(w["port"]), "--webui-port", str(w["webui_port"])]
        args += ["--cores", str(cores), "--memory", memory, "--work-dir", w["work_dir"], url]
        dirs = {"SPARK_WORKER_DIR": w["work_dir"], "SPARK_LOCAL_DIRS": w["local_dir"]}
        _daemon(state, "start", WORKER, n, *args, env=dirs)
    (state / STATE_FILE).write_text(json.dumps(info, indent=1))
    if not _wait_workers(host, ui, {w["port"] for w in info["workers"]}, timeout=120):
        raise JobError(f"not every worker registered with {url}; see {state / 'logs'}")
    return url


def status(state_dir: str) -> dict:
    """The state file with each daemon's pid and whether it is alive (``running``), plus the master's view."""
    state = Path(state_dir).resolve()
    f = state / STATE_FILE
    if not f.exists():
        return {"running": False, "state_dir": str(state), "master": None, "workers": []}
    info = json.loads(f.read_text())
    m = info["master"]
    m["pid"] = _pid(state, MASTER, 1)
    m["running"] = m["pid"] is not None
    registered = {}
    if m["running"]:
        try:
            registered = {w["port"]: w["state"] for w in master_json(m["host"], m["webui_port"])["workers"]}
        except OSError:
            pass
    for w in info["workers"]:
        w["pid"] = _pid(state, WORKER, w["id"])
        w["running"] = w["pid"] is not None
        w["master_state"] = registered.get(w["port"])  # ALIVE, DEAD (after a heartbeat timeout) or None
    info["running"] = m["running"]
    info["state_dir"] = str(state)
    return info


def stop(state_dir: str, worker: int | None = None) -> None:
    """Stop every worker, then the master; with ``worker``, only that worker."""
    state = Path(state_dir).resolve()
    f = state / STATE_FILE
    ids = [w["id"] for w in json.loads(f.read_text())["workers"]] if f.exists() else [1]
    if worker is not None:
        if worker not in ids:
            raise JobError(f"--worker {worker}: this cluster has workers {ids}")
        ids = [worker]
    for n in ids:
        _stop_daemon(state, WORKER, n)
    if worker is None:
        _stop_daemon(state, MASTER, 1)
        f.unlink(missing_ok=True)
        (state / "master-url").unlink(missing_ok=True)


def _stop_daemon(state: Path, cls: str, instance: int) -> None:
    """spark-daemon.sh stop sends SIGTERM, removes the pid file and returns: wait for the JVM to go, SIGKILL it
    after 10 s."""
    pid = _pid(state, cls, instance)
    _daemon(state, "stop", cls, instance)
    end = time.time() + 10
    while pid and time.time() < end:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.2)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.action == "start":
        url = start(args.host, args.port, args.cores, args.memory, args.state_dir, args.webui_port, args.workers)
        print(json.dumps(status(args.state_dir)) if args.format == "json" else url)
    elif args.action == "stop":
        stop(args.state_dir, args.worker)
    else:
        info = status(args.state_dir)
        if args.format == "json":
            print(json.dumps(info))
        elif not info["running"]:
            print("not running")
        else:
            m = info["master"]
            print(f"master {m['url']}  web UI http://{m['host']}:{m['webui_port']}  pid {m['pid']}")
            for w in info["workers"]:
                where = f"port {w['port']}  web UI {w['webui_port']}  work {w['work_dir']}"
                print(f"worker {w['id']}  {'running' if w['running'] else 'stopped'}  pid {w['pid']}  {where}")
    return 0
