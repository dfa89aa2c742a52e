"""The Helm chart: what it installs, for each option, rendered by Helm itself (its Go SDK, the
``helm_python`` module) where it is installed and by the Go-template stand-in otherwise; every
manifest valid for the oldest and the newest Kubernetes that ``kubernetes-validate`` knows, every
pod acceptable to the restricted Pod Security Standard and OpenShift's restricted-v2 SCC.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import sqlalchemy as sa
import yaml
from kubernetes_validate.utils import all_versions

from bridgeline.config import load_settings
from bridgeline.store.migrate import current_revision, head_revision

from . import gotemplate
from .gotemplate import Fail, InvalidValues, render_chart
from .scratch_database import scratch_database

try:
    import helm_python
except (ImportError, OSError):  # no wheel for this platform, or its library does not load
    helm_python = None

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "bridgeline"
VERSIONS = sorted({all_versions()[0], all_versions()[-1]})  # 1.25.0 and 1.37.0 with 1.37.x
SECRETISH = re.compile(r"(TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE)", re.I)
SQLITE = {"replicaCount": 1, "database": {"existingSecret": ""}}

# One values set per option the chart offers; each is rendered, validated and compared.
CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "sqlite on an emptyDir": SQLITE,
    "sqlite on a new claim": {
        **SQLITE,
        "persistence": {"enabled": True, "size": "5Gi", "storageClass": "fast"},
        "podSecurityContext": {"fsGroup": 10001},
    },
    "sqlite on an existing claim": {**SQLITE, "persistence": {"enabled": True, "existingClaim": "kept"}},
    "no secret files": {"secrets": {"existingSecret": "", "keys": None}},
    "migrating at start": {"migrationJob": {"enabled": False}},
    "ingress for the webhooks": {"ingress": {"enabled": True}},
    "ingress for webhooks and status page": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
            "hosts": ["bridgeline.example.com"],
            "statusPage": True,
            "tls": [{"secretName": "bridgeline-tls", "hosts": ["bridgeline.example.com"]}],
        },
        "config": {"server": {"public_url": "https://bridgeline.example.com"}},
    },
    "an existing service account": {"serviceAccount": {"create": False, "name": "bridgeline-ops"}},
    "minAvailable": {"replicaCount": 3, "podDisruptionBudget": {"minAvailable": 2}},
    "fixed user and group": {
        "podSecurityContext": {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
    },
    "external mappings": {"existingMappingsConfigMap": "team-mappings"},
    "mappings in values": {"mappings": {"release.yaml": "apiVersion: bridgeline/v1\n"}},
    "service monitor": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "secrets": {"keys": {"jira.api_token": "jira-api-token", "server.metrics_token": "metrics-token"}},
    },
    "scheduling": {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "imagePullSecrets": [{"name": "registry"}],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 2,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"team": "ops"}},
            }
        ],
    },
}


@dataclass
class Rendered:
    manifests: dict[str, list[dict[str, Any]]]  # by kind
    notes: str

    def one(self, kind: str) -> dict[str, Any]:
        (found,) = self.manifests[kind]
        return found

    def all(self) -> list[dict[str, Any]]:
        return [m for kind in sorted(self.manifests) for m in self.manifests[kind]]

    def pod(self, kind: str = "Deployment") -> dict[str, Any]:
        spec: dict[str, Any] = self.one(kind)["spec"]["template"]["spec"]
        return spec

    def container(self, kind: str = "Deployment") -> dict[str, Any]:
        (main,) = self.pod(kind)["containers"]
        result: dict[str, Any] = main
        return result

    def env(self, kind: str = "Deployment") -> dict[str, str | None]:
        return {e["name"]: e.get("value") for e in self.container(kind)["env"]}

    def annotations(self) -> dict[str, str]:
        found: dict[str, str] = self.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
        return found


def texts_by_helm(values: dict[str, Any] | None) -> dict[str, str]:
    assert helm_python is not None
    with helm_python.Chart.load(str(CHART)) as chart:
        try:
            out = chart.render(values, name="bridgeline", namespace="default", is_install=True)
        except helm_python.HelmValuesError as exc:
            raise InvalidValues(str(exc)) from None
        except helm_python.HelmRenderError as exc:
            raise Fail(str(exc)) from None
    return {name.rsplit("/", 1)[-1]: text for name, text in out.items()}


def texts_by_stand_in(values: dict[str, Any] | None) -> dict[str, str]:
    return render_chart(CHART, values)


def parse(texts: dict[str, str]) -> Rendered:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for name, text in sorted(texts.items()):
        if name.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if doc:
                    by_kind.setdefault(doc["kind"], []).append(doc)
    return Rendered(by_kind, texts.get("NOTES.txt", ""))


def render(values: dict[str, Any] | None = None) -> Rendered:
    """The chart rendered as `helm template` would, by Helm where it is installed."""
    return parse(texts_by_helm(values) if helm_python is not None else texts_by_stand_in(values))


# -- what it installs --------------------------------------------------------------------------------


def test_the_chart_runs_replicas_on_postgresql_with_probes_and_secret_references() -> None:
    rendered = render()
    assert sorted(rendered.manifests) == [
        "ConfigMap",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    spec = rendered.one("Deployment")["spec"]
    pod = rendered.pod()
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["terminationGracePeriodSeconds"] >= 60  # in-flight work finishes after SIGTERM
    main = rendered.container()
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["ports"][0] == {"name": "http", "containerPort": 8080, "protocol": "TCP"}

    env = rendered.env()
    for name in env:
        assert not SECRETISH.search(name) or name.endswith("_FILE"), f"{name} carries a secret"
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env["BRIDGELINE_DATABASE_URL_FILE"] == mounts["database"] + "/url"
    assert volumes["database"]["secret"]["secretName"] == "bridgeline-database"
    for name in ("BRIDGELINE_JIRA__API_TOKEN_FILE", "BRIDGELINE_SERVICENOW__PASSWORD_FILE"):
        assert str(env[name]).startswith(mounts["credentials"] + "/")
    assert volumes["credentials"]["secret"]["secretName"] == "bridgeline-credentials"
    assert volumes["mappings"]["configMap"]["name"] == "bridgeline-mappings"
    assert mounts["mappings"] == "/etc/bridgeline/mappings"
    assert env["BRIDGELINE_MAPPINGS"] == '["/etc/bridgeline/mappings"]'

    service = rendered.one("Service")
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_chart_configuration_is_one_bridgeline_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = (ROOT / "mappings" / "servicenow-release.yaml").read_text(encoding="utf-8")
    rendered = render({"mappings": {"servicenow-release.yaml": mapping}})
    maps = {m["metadata"]["name"]: m["data"] for m in rendered.manifests["ConfigMap"]}
    assert maps["bridgeline-mappings"]["servicenow-release.yaml"].strip() == mapping.strip()
    config = tmp_path / "bridgeline.yaml"
    config.write_text(maps["bridgeline-config"]["bridgeline.yaml"], encoding="utf-8")
    for name, value in rendered.env().items():
        assert value is not None
        if name.endswith("_FILE"):  # the mounted Secret keys, as files
            secret = tmp_path / Path(value).name
            secret.write_text("postgresql+psycopg://u:p@db/bridgeline" if "DATABASE" in name else "s3cret")
            monkeypatch.setenv(name, str(secret))
        elif name != "BRIDGELINE_CONFIG":
            monkeypatch.setenv(name, value)
    settings = load_settings(config)
    assert settings.jira is not None and settings.jira.api_token is not None
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.server.host == "0.0.0.0" and settings.mappings == [Path("/etc/bridgeline/mappings")]
    assert settings.migrate_on_start is False  # the migration Job does it


def test_the_chart_options() -> None:
    with pytest.raises(Fail, match="needs PostgreSQL"):
        render({"database": {"existingSecret": ""}})
    env = render(SQLITE).env()
    assert str(env["BRIDGELINE_DATABASE_URL"]).startswith("sqlite:////var/lib/bridgeline/")

    monitored = render(CASES["service monitor"])
    monitor = monitored.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    token = {"name": "bridgeline-credentials", "key": "metrics-token"}
    assert monitor["spec"]["endpoints"][0]["bearerTokenSecret"] == token  # /metrics needs a credential
    assert monitored.env()["BRIDGELINE_SERVER__METRICS_TOKEN_FILE"]
    with pytest.raises(Fail, match=r"add server\.metrics_token to secrets\.keys"):
        render({"serviceMonitor": {"enabled": True}})
    opened = render({"serviceMonitor": {"enabled": True}, "config": {"server": {"metrics_open": True}}})
    assert "bearerTokenSecret" not in opened.one("ServiceMonitor")["spec"]["endpoints"][0]
    service = monitored.one("Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()

    external = render(CASES["external mappings"])
    assert [m["metadata"]["name"] for m in external.manifests["ConfigMap"]] == ["bridgeline-config"]
    volumes = {v["name"]: v for v in external.pod()["volumes"]}
    assert volumes["mappings"]["configMap"]["name"] == "team-mappings"
    empty = {m["metadata"]["name"]: m for m in render().manifests["ConfigMap"]}["bridgeline-mappings"]
    assert empty["data"] == {}


# -- valid for Kubernetes, acceptable to restricted clusters -----------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_the_oldest_and_newest_kubernetes(version: str) -> None:
    checked: set[str] = set()
    for case, values in CASES.items():
        for manifest in render(values).all():
            if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # a CRD of the Prometheus Operator: no schema in Kubernetes itself
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{case}: {manifest['kind']} {manifest['metadata']['name']}: {exc.message}")
            checked.add(manifest["kind"])
    assert checked == {
        "ConfigMap",
        "Deployment",
        "Ingress",
        "Job",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    }


RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the restricted Pod Security Standard (and OpenShift's restricted-v2) would refuse."""
    found = []
    context = pod.get("securityContext", {})
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {kinds}")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            found.append(flag)
    for container in pod["containers"] + pod.get("initContainers", []):
        own = container.get("securityContext", {})
        name = container["name"]
        if own.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if own.get("privileged"):
            found.append(f"{name}: privileged")
        if "ALL" not in own.get("capabilities", {}).get("drop", []):
            found.append(f"{name}: capabilities must drop ALL")
        if set(own.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities")
        if not own.get("runAsNonRoot", context.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot must be true")
        if own.get("runAsUser", context.get("runAsUser")) == 0:
            found.append(f"{name}: runs as root")
        seccomp = own.get("seccompProfile", context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
        if container.get("ports") and any(p.get("hostPort") for p in container["ports"]):
            found.append(f"{name}: hostPort")
    return found


def test_the_pods_are_accepted_by_restricted_policies_and_fix_no_user_by_default() -> None:
    for case, values in CASES.items():
        rendered = render(values)
        for kind in ("Deployment", "Job"):
            if kind not in rendered.manifests:
                continue
            pod = rendered.pod(kind)
            assert restricted_violations(pod) == [], case
            main = rendered.container(kind)
            assert main["securityContext"]["readOnlyRootFilesystem"] is True
            assert pod["automountServiceAccountToken"] is False
            if case != "fixed user and group" and case != "sqlite on a new claim":
                # OpenShift's restricted-v2 picks the user and group from the namespace's range
                assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod["securityContext"]), case
                assert "runAsUser" not in main["securityContext"]
    fixed = render(CASES["fixed user and group"])
    assert fixed.pod()["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert fixed.pod("Job")["securityContext"] == fixed.pod()["securityContext"]
    # the checker itself refuses what it should
    loose = {"containers": [{"name": "c", "securityContext": {}}], "volumes": [{"name": "h", "hostPath": {}}]}
    assert len(restricted_violations(loose)) == 5


def test_the_pods_mount_no_service_account_token() -> None:
    rendered = render()
    account = rendered.one("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert rendered.pod()["serviceAccountName"] == account["metadata"]["name"] == "bridgeline"
    assert rendered.pod()["automountServiceAccountToken"] is False
    # the chart's account does not exist yet before the first install: the Job runs without it
    assert "serviceAccountName" not in rendered.pod("Job")

    existing = render(CASES["an existing service account"])
    assert "ServiceAccount" not in existing.manifests
    assert existing.pod()["serviceAccountName"] == "bridgeline-ops"
    assert existing.pod("Job")["serviceAccountName"] == "bridgeline-ops"
    role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
    annotated = render({"serviceAccount": {"annotations": role}})
    assert annotated.one("ServiceAccount")["metadata"]["annotations"] == role


# -- availability ---------------------------------------------------------------------------------


def test_replicas_are_spread_and_kept_through_voluntary_disruptions() -> None:
    rendered = render()
    selector = rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    budget = rendered.one("PodDisruptionBudget")["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    spread = rendered.pod()["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    for constraint in spread:
        assert constraint["labelSelector"] == {"matchLabels": selector}
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"  # a one-node cluster still schedules
    strategy = rendered.one("Deployment")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}

    three = render(CASES["minAvailable"]).one("PodDisruptionBudget")["spec"]
    assert three["minAvailable"] == 2 and "maxUnavailable" not in three
    assert "PodDisruptionBudget" not in render(SQLITE).manifests  # one pod: a budget would block drains
    assert "PodDisruptionBudget" not in render({"podDisruptionBudget": {"enabled": False}}).manifests

    own = render(CASES["scheduling"]).pod()["topologySpreadConstraints"]
    assert own == CASES["scheduling"]["topologySpreadConstraints"]  # a labelSelector given is kept


def test_sqlite_mode_recreates_its_one_pod_on_an_optional_volume() -> None:
    trial = render(SQLITE)
    assert trial.one("Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in trial.pod()["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert "PersistentVolumeClaim" not in trial.manifests and "Job" not in trial.manifests
    assert "BRIDGELINE_MIGRATE_ON_START" not in trial.env()  # the one pod migrates its file at start
    assert "emptyDir: the state is lost with the pod" in trial.notes

    kept = render(CASES["sqlite on a new claim"])
    claim = kept.one("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "bridgeline-data"
    assert claim["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    volumes = {v["name"]: v for v in kept.pod()["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "bridgeline-data"}
    mounts = {m["name"]: m["mountPath"] for m in kept.container()["volumeMounts"]}
    assert mounts["data"] == "/var/lib/bridgeline"
    assert kept.one("Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    assert "PersistentVolumeClaim bridgeline-data" in kept.notes

    existing = render(CASES["sqlite on an existing claim"])
    assert "PersistentVolumeClaim" not in existing.manifests
    volumes = {v["name"]: v for v in existing.pod()["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "kept"}
    assert "fsGroup: 10001" in existing.notes  # outside OpenShift, a root-owned volume needs it

    with pytest.raises(Fail, match="persistence is for SQLite"):
        render({"persistence": {"enabled": True}})


def test_missing_secrets_are_refused_or_left_out() -> None:
    with pytest.raises(Fail, match=r"set secrets\.existingSecret"):
        render({"secrets": {"existingSecret": ""}})
    with pytest.raises(Fail, match=r"database\.urlKey"):
        render({"database": {"urlKey": ""}})
    bare = render(CASES["no secret files"])
    assert "credentials" not in {v["name"] for v in bare.pod()["volumes"]}
    assert "credentials" not in {m["name"] for m in bare.container()["volumeMounts"]}
    assert [n for n in bare.env() if n.endswith("_FILE")] == ["BRIDGELINE_DATABASE_URL_FILE"]
    for case, values in CASES.items():  # never a Secret volume without a Secret
        rendered = render(values)
        for kind in ("Deployment", "Job"):
            for volume in rendered.pod(kind)["volumes"] if kind in rendered.manifests else []:
                if "secret" in volume:
                    assert volume["secret"]["secretName"], f"{case}: {kind} volume {volume['name']}"


def test_pods_roll_when_the_configuration_or_the_mappings_change() -> None:
    base = render().annotations()
    assert set(base) == {"checksum/config", "checksum/mappings", "checksum/secrets"}
    assert render().annotations() == base  # the same values, the same pods
    config = render({"config": {"worker": {"concurrency": 8}}}).annotations()
    assert config["checksum/config"] != base["checksum/config"]
    assert config["checksum/mappings"] == base["checksum/mappings"]
    mapped = render(CASES["mappings in values"]).annotations()
    assert mapped["checksum/mappings"] != base["checksum/mappings"]
    assert mapped["checksum/config"] == base["checksum/config"]
    # mappings managed elsewhere are hot-reloaded from the mounted ConfigMap, not rolled
    assert "checksum/mappings" not in render(CASES["external mappings"]).annotations()
    assert render({"podAnnotations": {"team": "ops"}}).annotations()["team"] == "ops"


def test_a_rotated_secret_rolls_the_pods_at_the_next_upgrade_without_telling_its_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On install and upgrade Helm reads the Secrets (``lookup``); the stand-in plays the cluster."""
    cluster = {
        "bridgeline-database": {"metadata": {"resourceVersion": "41"}, "data": {"url": "cG9zdGdyZXM="}},
        "bridgeline-credentials": {"metadata": {"resourceVersion": "7"}, "data": {"jira-api-token": "czNj"}},
    }

    def lookup(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        assert (api_version, kind, namespace) == ("v1", "Secret", "default")
        return cluster.get(name, {})

    monkeypatch.setitem(gotemplate.FUNCTIONS, "lookup", lookup)
    before = parse(texts_by_stand_in(None)).annotations()["checksum/secrets"]
    cluster["bridgeline-database"]["data"] = {"url": "b3RoZXI="}  # the content alone tells nothing
    assert parse(texts_by_stand_in(None)).annotations()["checksum/secrets"] == before
    cluster["bridgeline-credentials"]["metadata"]["resourceVersion"] = "8"  # rotated
    assert parse(texts_by_stand_in(None)).annotations()["checksum/secrets"] != before
    monkeypatch.setitem(gotemplate.FUNCTIONS, "lookup", lambda *a: {})  # `helm template`: no cluster
    assert (
        parse(texts_by_stand_in(None)).annotations()["checksum/secrets"]
        == render().annotations()["checksum/secrets"]
    )


# -- migrations ------------------------------------------------------------------------------------


def test_the_migration_job_runs_before_install_and_upgrade_and_the_pods_then_do_not_migrate() -> None:
    rendered = render()
    job = rendered.one("Job")
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hooks["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    pod = rendered.pod("Job")
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 1
    migrate = rendered.container("Job")
    assert migrate["args"] == ["db", "upgrade"]
    assert migrate["image"] == rendered.container()["image"]
    assert rendered.env("Job") == {
        "BRIDGELINE_CONFIG": "",
        "BRIDGELINE_DATABASE_URL_FILE": rendered.env()["BRIDGELINE_DATABASE_URL_FILE"],
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["database"] == {v["name"]: v for v in rendered.pod()["volumes"]}["database"]
    assert rendered.env()["BRIDGELINE_MIGRATE_ON_START"] == "false"
    # its pod is neither served nor counted as a replica
    labels = job["spec"]["template"]["metadata"]["labels"]
    for selector in (
        rendered.one("Service")["spec"]["selector"],
        rendered.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        rendered.one("Deployment")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= labels.items()
    assert "Migrated by the Job bridgeline-migrate" in rendered.notes

    at_start = render(CASES["migrating at start"])
    assert "Job" not in at_start.manifests and "BRIDGELINE_MIGRATE_ON_START" not in at_start.env()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return scratch_database(request, tmp_path, "chart_job")


def test_the_migration_jobs_command_migrates_the_database_with_only_the_jobs_environment(
    tmp_path: Path, empty_database: str
) -> None:
    rendered = render()
    secret = tmp_path / "url"
    secret.write_text(empty_database + "\n", encoding="utf-8")  # a mounted Secret key
    env = {"PATH": os.environ["PATH"], "BRIDGELINE_CONFIG": "/etc/bridgeline/bridgeline.yaml"}  # the image's
    for name, value in rendered.env("Job").items():
        assert value is not None
        env[name] = str(secret) if name == "BRIDGELINE_DATABASE_URL_FILE" else value
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", *rendered.container("Job")["args"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    engine = sa.create_engine(empty_database)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    engine.dispose()
    assert "newest schema" in done.stdout and empty_database.split("@")[-1] not in done.stderr


# -- the ingress -----------------------------------------------------------------------------------


def test_the_ingress_publishes_the_webhooks_and_optionally_the_status_page() -> None:
    assert "Ingress" not in render().manifests
    plain = render(CASES["ingress for the webhooks"])
    ingress = plain.one("Ingress")
    service = plain.one("Service")
    (rule,) = ingress["spec"]["rules"]
    assert "host" not in rule  # every host
    (path,) = rule["http"]["paths"]
    assert path == {
        "path": "/webhooks",
        "pathType": "Prefix",
        "backend": {
            "service": {
                "name": service["metadata"]["name"],
                "port": {"number": service["spec"]["ports"][0]["port"]},
            }
        },
    }
    assert "ingressClassName" not in ingress["spec"] and "tls" not in ingress["spec"]

    full = render(CASES["ingress for webhooks and status page"])
    ingress = full.one("Ingress")
    wanted = CASES["ingress for webhooks and status page"]["ingress"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == wanted["annotations"]
    assert ingress["spec"]["tls"] == wanted["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "bridgeline.example.com"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/webhooks", "/status", "/api"]
    assert "https://bridgeline.example.com/webhooks/jira" in full.notes
    without_url = {"ingress": {**wanted, "enabled": True}}
    with pytest.raises(Fail, match=r"set config\.server\.public_url"):
        render(without_url)


# -- the values schema and the notes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"service": {"type": "Nodeport"}}, "/service/type"),
        ({"service": {"port": 70000}}, "/service/port"),
        ({"databse": {"existingSecret": "db"}}, "databse"),  # a misspelled value is not ignored
        ({"database": {"existingSecret": "Bad_Name"}}, "/database/existingSecret"),
        ({"secrets": {"keys": {"jira.api_token": 7}}}, "/secrets/keys/jira.api_token"),
        ({"mappings": {"release.json": "{}"}}, "release.json"),  # mapping files are YAML
        ({"persistence": {"size": "lots"}}, "/persistence/size"),
        ({"persistence": {"accessModes": ["ReadWriteSometimes"]}}, "/persistence/accessModes/0"),
        ({"ingress": {"pathType": "Exact"}}, "/ingress/pathType"),
        ({"ingress": {"tls": [{"hosts": ["a.example.com"]}]}}, "/ingress/tls/0"),
        ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, "/topologySpreadConstraints/0"),
        ({"podSecurityContext": {"runAsUser": "bridgeline"}}, "/podSecurityContext/runAsUser"),
        ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval"),
        ({"migrationJob": {"enabled": "yes"}}, "/migrationJob/enabled"),
    ],
)
def test_the_values_schema_refuses_bad_values_saying_where(values: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidValues, match=where):
        render(values)


def test_the_values_schema_is_a_valid_schema_and_accepts_every_option() -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert set(schema["properties"]) - {"global"} == set(defaults)  # every value is described
    for values in CASES.values():
        render(values)  # no InvalidValues


def test_the_notes_tell_what_was_installed_and_what_to_do_next() -> None:
    notes = render().notes
    assert "bridgeline 0.1.0 is starting as bridgeline (2 replicas)" in notes
    assert "kubectl port-forward svc/bridgeline 8080:8080" in notes
    assert "PostgreSQL, the URL read from the Secret bridgeline-database (key url)" in notes
    assert "kubectl logs job/bridgeline-migrate" in notes
    assert "kubectl rollout restart deploy/bridgeline" in notes
    assert "Webhooks:" not in notes
    single = render(SQLITE).notes
    assert "(1 replica)" in single and "Recreate" in single and "Migrated" not in single
    assert "Migrated by the pods at start" in render(CASES["migrating at start"]).notes
    assert "Secrets:" not in render(CASES["no secret files"]).notes


# -- Helm itself -----------------------------------------------------------------------------------


needs_helm = pytest.mark.skipif(
    helm_python is None, reason="the Helm SDK (helm-python-sdk) has no wheel here; the stand-in renders"
)


def _comparable(rendered: Rendered) -> list[dict[str, Any]]:
    """Manifests in a stable order; checksums as a fact (64 hex digits), since the two YAML
    printers quote and wrap differently (the parsed documents are equal)."""
    out = []
    for manifest in rendered.all():
        manifest = json.loads(json.dumps(manifest))
        if manifest["kind"] == "Deployment":
            notes = manifest["spec"]["template"]["metadata"]["annotations"]
            for key, value in notes.items():
                if key.startswith("checksum/"):
                    assert len(value) == 64 and int(value, 16) >= 0
                    notes[key] = "sha256"
        out.append(manifest)
    return sorted(out, key=lambda m: (m["kind"], m["metadata"]["name"]))


@needs_helm
def test_the_stand_in_renders_what_helm_renders() -> None:
    for case, values in CASES.items():
        by_helm, by_stand_in = parse(texts_by_helm(values)), parse(texts_by_stand_in(values))
        assert _comparable(by_stand_in) == _comparable(by_helm), case
        assert by_stand_in.notes.strip() == by_helm.notes.strip(), case
    refused: list[dict[str, Any]] = [
        {"database": {"existingSecret": ""}},
        {"secrets": {"existingSecret": ""}},
        {"persistence": {"enabled": True}},
        {"replicaCount": "two"},
        {"databse": {}},
    ]
    for values in refused:
        errors = []
        for texts in (texts_by_helm, texts_by_stand_in):
            with pytest.raises((Fail, InvalidValues)) as caught:
                texts(values)
            errors.append(caught.type)
        assert errors[0] is errors[1], values


@needs_helm
@pytest.mark.parametrize("version", VERSIONS)
def test_helm_lints_the_chart(version: str) -> None:
    assert helm_python is not None
    for case in ("defaults", "sqlite on a new claim", "ingress for webhooks and status page"):
        report = helm_python.lint(str(CHART), CASES[case], strict=True, kube_version=f"v{version}")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert problems == [], f"{case}: {problems}"
