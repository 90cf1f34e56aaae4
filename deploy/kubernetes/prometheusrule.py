"""Print deploy/kubernetes/prometheusrule.yaml: deploy/prometheus/rules.yml as a PrometheusRule.

    python deploy/kubernetes/prometheusrule.py > deploy/kubernetes/prometheusrule.yaml

tests/deploy/test_deploy.py fails when the two files' groups differ.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

RULES = Path(__file__).resolve().parents[1] / "prometheus" / "rules.yml"

HEADER = """\
# GENERATED from deploy/prometheus/rules.yml by deploy/kubernetes/prometheusrule.py; do not edit.
# For the Prometheus Operator: your Prometheus's ruleSelector must match these labels
# (kube-prometheus-stack: `release: <name>`). The rules select job="warden", the Service's name.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def prometheus_rule(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "warden", "labels": {"app.kubernetes.io/name": "warden"}},
        "spec": {"groups": rules["groups"]},
    }


def render(rules_text: str) -> str:
    body = yaml.dump(
        prometheus_rule(yaml.safe_load(rules_text)),
        Dumper=_Dumper,
        sort_keys=False,
        width=100,
        allow_unicode=True,
    )
    return HEADER + body


if __name__ == "__main__":
    sys.stdout.write(render(RULES.read_text()))
