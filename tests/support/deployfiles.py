"""The files under deploy/ and how the deploy tests read and check them
(tests/deploy/test_deploy.py,
tests/deploy/test_monitoring.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.promstack import DEPLOY, WARDEN

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules.yml"
# The relays of warden's threshold states: the alternative path to Alertmanager, not loaded by
# default (warden's own Alertmanager sink is the default; never both).
RELAYS = PROMETHEUS / "relays.yml"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"
DASHBOARD = DEPLOY / "grafana" / "warden.json"
DOCKERFILE = DEPLOY / "Dockerfile"
SYSTEMD = DEPLOY / "systemd"


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rule_groups(path: Path = RULES) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = load(path)["groups"]
    return groups


def alerts(path: Path = RULES) -> list[str]:
    return [r["alert"] for g in rule_groups(path) for r in g["rules"] if "alert" in r]


def warden_check(config: Path, env: dict[str, str] | None = None) -> str:
    """`warden check --config-only --config CONFIG`; fails the test with warden's message unless
    it is ok. Only the config: the paths and hosts it names are those of the machine it is made
    for (the image, the host), not this one."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    argv = [str(WARDEN), "check", "--config-only", "--config", str(config)]
    r = run(argv, env={**environ, **(env or {})})
    assert r.returncode == 0, f"warden check {config}:\n{r.stdout}{r.stderr}"
    assert r.stdout.startswith("ok: "), r.stdout
    return r.stdout
