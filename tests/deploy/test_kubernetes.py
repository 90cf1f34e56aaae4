"""deploy/kubernetes as a whole, with its PostgreSQL (postgres.yaml): every object the
kustomization builds, checked against the others it names (Secrets and their keys, the
StatefulSet's Service, the database URL against the database), images pinned, and, where
`kubernetes-validate` is installed, each object against the Kubernetes API schemas. No cluster is
available: `kubectl kustomize` (when installed) or the files themselves are what is read.
"""

from __future__ import annotations

import re
import shutil
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.deployfiles import COMPOSE, KUBERNETES, load, run

# A tag that names a release: not `latest`, and with a version number in it.
PINNED = re.compile(r"[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*")
KUSTOMIZE_TAG = "0.1.0"  # warden's image is pinned by kustomization.yaml's `images:`


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((KUBERNETES / name).read_text()) if d is not None]


def objects() -> list[dict[str, Any]]:
    """What `kubectl apply -k` applies: the kustomization's resources, as built by kubectl
    when it is installed, else read from the files (without kustomize's labels and tags)."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        r = run([kubectl, "kustomize", str(KUBERNETES)])
        assert r.returncode == 0, r.stderr
        return [d for d in yaml.safe_load_all(r.stdout) if d is not None]
    kustomization = documents("kustomization.yaml")[0]
    return [d for f in kustomization["resources"] for d in documents(f)]


def named(kind: str, name: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


def secret() -> dict[str, Any]:
    (doc,) = documents("secret.example.yaml")
    assert doc["kind"] == "Secret"
    return doc


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def test_the_kustomization_applies_a_postgresql_statefulset_and_its_headless_service() -> None:
    docs = objects()
    database = named("StatefulSet", "postgres", docs)
    spec = database["spec"]
    service = named("Service", spec["serviceName"], docs)
    assert service["spec"]["clusterIP"] == "None"  # headless: the pod by its own name
    assert spec["replicas"] == 1
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = spec["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in ports and port["port"] == ports[port["targetPort"]] == 5432
    # Its data on a claim of its own, where the image keeps it (PGDATA below the mount).
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["PGDATA"]["value"].startswith(mounts[claim["metadata"]["name"]] + "/")
    # Ready only once it answers over TCP, as warden connects.
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[0] == "pg_isready" and "127.0.0.1" in probe
    assert container["livenessProbe"]["exec"]["command"][0] == "pg_isready"
    # Credentials from the Secret, not the manifest.
    assert "value" not in env["POSTGRES_PASSWORD"]
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "warden"
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_postgres_image_is_the_official_one_pinned_as_in_compose() -> None:
    (container,) = named("StatefulSet", "postgres", objects())["spec"]["template"]["spec"][
        "containers"
    ]
    image = container["image"]
    assert image.split(":")[0] == "postgres" and PINNED.fullmatch(image), image
    assert image == load(COMPOSE)["services"]["postgres"]["image"]
    major = int(image.split(":")[1].split(".")[0])
    assert major >= 14  # idle_session_timeout ends a stalled leader's session (store/leader.py)


def test_every_image_the_kustomization_applies_is_pinned() -> None:
    docs = objects()
    images = [c["image"] for s in pod_specs(docs).values() for c in s["containers"]]
    images += [c["image"] for s in pod_specs(docs).values() for c in s.get("initContainers", [])]
    assert len(images) >= 2
    kustomization = documents("kustomization.yaml")[0]
    tags = {i["name"]: i["newTag"] for i in kustomization.get("images", [])}
    assert tags == {"warden": KUSTOMIZE_TAG}
    for image in images:
        pinned = image if ":" in image else f"{image}:{tags.get(image, 'latest')}"
        assert PINNED.fullmatch(pinned), f"unpinned image {image}"


def test_every_secret_key_a_pod_reads_is_in_the_example_secret() -> None:
    example = secret()
    keys = set(example["stringData"])
    refs = [
        (where, e["name"], e["valueFrom"]["secretKeyRef"])
        for where, spec in pod_specs(objects()).items()
        for c in spec["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert {name for _, name, _ in refs} >= {
        "WARDEN_DATABASE_URL",
        "WARDEN_API_TOKEN",
        "POSTGRES_PASSWORD",
    }
    for where, name, ref in refs:
        assert ref["name"] == example["metadata"]["name"], f"{where} {name}: {ref}"
        assert ref["key"] in keys, f"{where} {name}: no key {ref['key']!r} in the Secret"
    # Every key of the example is read by something (none left over from an older layout).
    assert keys == {ref["key"] for _, _, ref in refs}


def test_warden_s_database_url_reaches_the_statefulset_s_database() -> None:
    docs = objects()
    example = secret()["stringData"]
    url = urlsplit(example["database-url"])
    database = named("StatefulSet", "postgres", docs)
    (container,) = database["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    service = named("Service", database["spec"]["serviceName"], docs)
    assert url.scheme in ("postgresql", "postgresql+psycopg")
    assert url.hostname == service["metadata"]["name"]
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.username == env["POSTGRES_USER"]
    assert url.path == f"/{env['POSTGRES_DB']}"
    assert url.password == example["postgres-password"]  # the same password, twice


def test_the_servicemonitor_scrapes_warden_and_not_the_database() -> None:
    docs = objects()
    monitor = named("ServiceMonitor", "warden", docs)
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    selected = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Service" and wanted <= d["metadata"].get("labels", {}).items()
    ]
    assert selected == ["warden"]


def test_the_readme_says_how_to_use_an_external_database_instead() -> None:
    readme = (KUBERNETES.parent / "README.md").read_text()
    assert "postgres.yaml" in readme and "postgres-password" in readme
    assert "database-url" in readme


def test_the_manifests_validate_against_the_kubernetes_schemas() -> None:
    """Strict: an unknown or misspelt field fails, as `kubectl apply` would refuse it. The
    Prometheus Operator's kinds have no schema there (custom resources): they are checked by
    test_deploy.py and test_monitoring.py."""
    validate = pytest.importorskip("kubernetes_validate")
    version = validate.latest_version()
    checked = []
    docs = [*objects(), secret()]
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        validate.validate(doc, version, strict=True)
        checked.append(doc["kind"])
    assert {"Deployment", "StatefulSet", "Service", "Secret"} <= set(checked)
    broken = {**named("StatefulSet", "postgres", docs), "spec": {"replica": 1}}
    with pytest.raises(validate.ValidationError):
        validate.validate(broken, version, strict=True)
