"""Real Prometheus, Alertmanager and warden processes on free loopback ports, for the live tests.

Each process gets a temp data folder and a log file, is polled until its readiness endpoint
answers (with a deadline, never a fixed sleep), and is stopped with SIGTERM (SIGKILL after a
grace period). The configs are the shipped ones from deploy/, with only what must change for a
test rewritten: targets, intervals, webhook URLs, paths.

The binaries are Debian's packages `prometheus` (prometheus, promtool) and
`prometheus-alertmanager` (prometheus-alertmanager, amtool); upstream's `alertmanager` name is
found too. When one is missing the tests skip, unless WARDEN_REQUIRE_PROMSTACK=1 (CI), when
they fail.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
WARDEN = Path(sys.executable).with_name("warden")
REQUIRE_ENV = "WARDEN_REQUIRE_PROMSTACK"

# Each tool: the names it goes by, and the Debian package that has it.
TOOLS = {
    "prometheus": (("prometheus",), "prometheus"),
    "promtool": (("promtool",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
    "amtool": (("amtool",), "prometheus-alertmanager"),
}


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def find(tool: str) -> str | None:
    names, _package = TOOLS[tool]
    return next((p for p in map(shutil.which, names) if p), None)


def need(*tools: str) -> dict[str, str]:
    """The tools' paths. A missing one skips the test, or fails it under
    WARDEN_REQUIRE_PROMSTACK=1."""
    found = {t: find(t) for t in tools}
    missing = [t for t, path in found.items() if path is None]
    if missing:
        packages = sorted({TOOLS[t][1] for t in missing})
        why = (
            f"{', '.join(missing)} not installed (Debian packages: {' '.join(packages)}; "
            f".ci/run installs them)"
        )
        if required():
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1", pytrace=False)
        pytest.skip(why)
    return {t: p for t, p in found.items() if p is not None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """Poll `check` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (requests.RequestException, AssertionError, KeyError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        time.sleep(every)


class Process:
    """A server process with its output in a log file, ready once `ready_path` answers 200."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        ready_path: str,
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.log_path = log
        self._log: IO[str] = open(log, "w+")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-4000:]}"
                )
            with contextlib.suppress(requests.ConnectionError):
                return requests.get(self.url + self.ready_path, timeout=2).status_code == 200
            return False

        try:
            wait_until(f"{self.name} at {self.url}{self.ready_path}", ready, timeout, 0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.name} output:\n{self.output()[-4000:]}") from None

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._log.close()


@contextlib.contextmanager
def running(process: Process, timeout: float = 30) -> Iterator[Process]:
    try:
        process.wait_ready(timeout)
        yield process
    finally:
        process.stop()


# --- warden ---------------------------------------------------------------------------------


def warden_config(tmp: Path, port: int) -> Path:
    """deploy/demo/warden.yaml for a test: SQLite and a copy of the demo logs in `tmp`, the feed
    and the evaluation every second, plus deploy/compose/thresholds.yaml (the demo thresholds
    the compose stack adds: a frontier one and an early-warning one)."""
    config = yaml.safe_load((DEPLOY / "demo" / "warden.yaml").read_text())
    logs = tmp / "demo-logs"
    shutil.copytree(DEPLOY / "demo" / "logs", logs)
    config["database_url"] = f"sqlite:///{tmp / 'warden.db'}"
    config["catalog"] = [c if c == "bundled" else str(REPO / c) for c in config["catalog"]] + [
        str(DEPLOY / "compose" / "thresholds.yaml")
    ]
    config["http"] = {"host": "127.0.0.1", "port": port}
    config["evaluate_every"] = 1
    config["log_format"] = "json"
    (feed,) = config["feeds"]
    feed["every"] = 1
    feed["options"]["path"] = str(logs)
    path = tmp / "warden.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_warden(tmp: Path) -> Process:
    port = free_port()
    config = warden_config(tmp, port)
    argv = [str(WARDEN), "run", "--config", str(config)]
    # The config file says everything: no WARDEN_* variable of the test run (warden refuses
    # those it does not know) reaches it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    return Process("warden", argv, port, "/readyz", tmp / "warden.log", env)


# --- Alertmanager ---------------------------------------------------------------------------


def alertmanager_config(webhook_base: str) -> dict[str, Any]:
    """deploy/alertmanager/alertmanager.yml with every webhook sent to `webhook_base` (keeping
    each URL's path, one per receiver) and notifications sent at once instead of after 30 s."""
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "alertmanager" / "alertmanager.yml").read_text()
    )
    config = copy.deepcopy(config)
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            path = "/" + hook["url"].split("://", 1)[1].split("/", 1)[1]
            hook["url"] = webhook_base.rstrip("/") + path
    config["route"]["group_wait"] = "0s"
    config["route"]["group_interval"] = "1s"
    return config


def start_alertmanager(binary: str, tmp: Path, webhook_base: str) -> Process:
    port = free_port()
    folder = tmp / "alertmanager"
    folder.mkdir()
    config = folder / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(webhook_base), sort_keys=False))
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip port: a single, local instance
        "--log.level=warn",
    ]
    return Process("alertmanager", argv, port, "/-/ready", folder / "alertmanager.log")


# --- Prometheus -----------------------------------------------------------------------------


def prometheus_config(prometheus_port: int, warden: str, alertmanager: str) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml scraping and evaluating every second, with the shipped
    rules.yml, the given warden and Alertmanager (host:port) as targets."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(DEPLOY / "prometheus" / name) for name in config["rule_files"]]
    (alerting,) = config["alerting"]["alertmanagers"]
    alerting["static_configs"] = [{"targets": [alertmanager]}]
    targets = {"warden": warden, "prometheus": f"127.0.0.1:{prometheus_port}"}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


def start_prometheus(binary: str, tmp: Path, warden: str, alertmanager: str) -> Process:
    port = free_port()
    folder = tmp / "prometheus"
    folder.mkdir()
    config = folder / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(prometheus_config(port, warden, alertmanager), sort_keys=False)
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    return Process("prometheus", argv, port, "/-/ready", folder / "prometheus.log")


def query(prometheus: Process, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector; raises AssertionError naming the expression on an
    error (a bad expression, a many-to-many join)."""
    r = requests.get(prometheus.url + "/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    if body.get("status") != "success":
        raise AssertionError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    result: list[dict[str, Any]] = data["result"]
    return result
