"""deploy/k8s: every overlay and every base+component combination, rendered and checked.

Rendering uses the pinned kustomize of deploy/k8s/tools.py (built into .cache/bin once;
later runs are offline). Core objects are validated against the Kubernetes JSON schemas
shipped in the kubernetes-validate package (strict: unknown fields fail); the custom
resources (Strimzi, KEDA, the Prometheus Operator) get structural checks written here, as
their schemas are not available offline.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from support import load_file

pytestmark = pytest.mark.long

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"

# Kubernetes minor the core schemas are checked against.
KUBERNETES_VERSION = "1.33.0"
IMAGE_REGISTRY = "ghcr.io/chorus-platform"
CHORUS_UID = 10001
# The container port of /healthz, /readyz and /metrics in every Chorus pod (docs/runtime.md).
OPS = "ops"

# Topics of the platform (one per event type and major version), each with a .dlq twin.
# The topics of contracts/topics.py are added to these when the test runs.
TOPICS = [
    "chorus.content-published.v1",
    "chorus.content-updated.v1",
    "chorus.content-retired.v1",
    "chorus.post-shared.v1",
    "chorus.engagement-observed.v1",
    "chorus.advocate-enrolled.v1",
    "chorus.advocate-opted-out.v1",
    "chorus.points-awarded.v1",
    "chorus.badge-earned.v1",
    "chorus.reward-redeemed.v1",
    "chorus.guidelines-acknowledged.v1",
]
TOPIC_PARTITIONS = 6

# The two ways Prometheus finds the processes: the PodMonitors of one component, the pod
# annotations of the other. Each overlay uses exactly one, or Prometheus scrapes twice.
POD_MONITORS = "monitoring"
SCRAPE_ANNOTATIONS = "prometheus-annotations"
ANNOTATIONS = ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")
# What reads the target labels the scrape copies from the pods (app_kubernetes_io_*).
TARGET_LABEL_READERS = [
    K8S_DIR / "components" / "alerts" / "rules.yaml",
    *sorted((K8S_DIR / "components" / "dashboards" / "dashboards").glob("*.json")),
]

# Infrastructure containers (local-infra) whose image must write its root filesystem.
WRITABLE_ROOT_ALLOWED = {"kafka"}


tools = load_file("chorus_k8s_tools", K8S_DIR / "tools.py")
COMBINATIONS = tools.combinations()
OVERLAYS = [c for c in COMBINATIONS if c.startswith("overlays/")]

Obj = dict[str, Any]


# --- rendering -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kustomize() -> Path:
    try:
        return tools.ensure_kustomize()
    except tools.ToolError as error:
        pytest.fail(f"pinned kustomize unavailable: {error}")


@pytest.fixture(scope="session")
def render(kustomize: Path) -> Callable[[str], list[Obj]]:
    @functools.cache
    def rendered(combination: str) -> list[Obj]:
        try:
            text = tools.render(combination, kustomize)
        except tools.ToolError as error:
            pytest.fail(str(error))
        return [doc for doc in yaml.safe_load_all(text) if doc]

    return rendered


@pytest.fixture(scope="session")
def k8s_validate() -> Iterator[Callable[[Obj], None]]:
    """kubernetes_validate.validate in strict mode, with its schema files read once."""
    import kubernetes_validate
    import kubernetes_validate.utils as utils

    original = getattr(utils, "schema_contents", None)
    if original is not None:  # it re-reads ~2 MB of definitions per object otherwise
        utils.schema_contents = functools.cache(original)

    def validate(obj: Obj) -> None:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(f"{where}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            pytest.fail(f"{where}: {error.message} (a custom resource without a check here?)")

    yield validate
    if original is not None:
        utils.schema_contents = original


def components_in(combination: str) -> set[str]:
    """The components a combination renders: those it lists and those they list."""
    if combination == "base":
        listed = set()
    elif combination.startswith("base+"):
        listed = {combination.removeprefix("base+")}
    else:
        listed = _listed_components(K8S_DIR / combination)
    found: set[str] = set()
    while listed:
        name = listed.pop()
        found.add(name)
        listed |= _listed_components(K8S_DIR / "components" / name) - found
    return found


def _listed_components(directory: Path) -> set[str]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return {Path(path).name for path in kustomization.get("components") or []}


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def labels(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def chorus_workloads(objects: list[Obj]) -> list[tuple[str, str, Obj]]:
    """(service, role, Deployment) of every Chorus process."""
    found = []
    for deployment in of_kind(objects, "Deployment"):
        role = labels(deployment).get("app.kubernetes.io/component")
        if role in ("api", "worker"):
            service = deployment["metadata"]["name"].removesuffix(f"-{role}")
            found.append((service, role, deployment))
    return found


def pod_spec(workload: Obj) -> Obj:
    return workload["spec"]["template"]["spec"]


def matches(selector: Obj, pod_labels: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels + matchExpressions In/NotIn/Exists)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if pod_labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and pod_labels.get(key) not in values:
            return False
        if operator == "NotIn" and pod_labels.get(key) in values:
            return False
        if operator == "Exists" and key not in pod_labels:
            return False
        if operator == "DoesNotExist" and key in pod_labels:
            return False
    return True


# --- custom resources: structural checks -----------------------------------------------


def _only_keys(obj: Obj, allowed: set[str], where: str) -> None:
    unknown = set(obj) - allowed
    assert not unknown, f"{where}: unknown fields {sorted(unknown)}"


def _is_int(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_selector(selector: Obj, where: str) -> None:
    _only_keys(selector, {"matchLabels", "matchExpressions"}, where)
    for key, value in (selector.get("matchLabels") or {}).items():
        assert isinstance(value, str), f"{where}: {key} must be a string"


def check_kafka(obj: Obj) -> None:
    spec = obj["spec"]
    _only_keys(spec, {"kafka", "entityOperator", "cruiseControl", "kafkaExporter"}, "Kafka.spec")
    kafka = spec["kafka"]
    # kafka.strimzi.io/v1: replicas and storage live in KafkaNodePools only.
    assert "replicas" not in kafka and "storage" not in kafka and "zookeeper" not in spec
    _only_keys(
        kafka,
        # The fields of kafka.strimzi.io/v1 (resources, storage: the node pools').
        {
            "version",
            "metadataVersion",
            "image",
            "listeners",
            "config",
            "authorization",
            "rack",
            "brokerRackInitImage",
            "livenessProbe",
            "readinessProbe",
            "jvmOptions",
            "jmxOptions",
            "metricsConfig",
            "logging",
            "template",
            "tieredStorage",
            "quotas",
        },
        "Kafka.spec.kafka",
    )
    listeners = kafka["listeners"]
    assert listeners, "Kafka needs at least one listener"
    names = set()
    for listener in listeners:
        _only_keys(
            listener,
            {
                "name",
                "port",
                "type",
                "tls",
                "authentication",
                "configuration",
                "networkPolicyPeers",
            },
            "listener",
        )
        assert re.fullmatch(r"[a-z0-9]{1,11}", listener["name"]), listener
        if "authentication" in listener:
            authentication = listener["authentication"]
            assert authentication["type"] in {"tls", "scram-sha-512", "custom"}, listener
            assert authentication["type"] != "tls" or listener["tls"], "mTLS needs TLS"
        for peer in listener.get("networkPolicyPeers") or []:
            _only_keys(peer, {"podSelector", "namespaceSelector", "ipBlock"}, "peer")
            for key in ("podSelector", "namespaceSelector"):
                if key in peer:
                    _check_selector(peer[key], f"peer {key}")
        assert _is_int(listener["port"], 9092) and listener["port"] not in (9404, 9999), listener
        assert listener["type"] in {
            "internal",
            "route",
            "loadbalancer",
            "nodeport",
            "ingress",
            "cluster-ip",
        }, listener
        assert isinstance(listener["tls"], bool), listener
        names.add(listener["name"])
    assert len(names) == len(listeners), "listener names must be unique"
    for key, value in (kafka.get("config") or {}).items():
        assert isinstance(value, str | int | bool | float), f"config {key} must be a scalar"
    if "authorization" in kafka:
        _only_keys(
            kafka["authorization"],
            {"type", "superUsers", "authorizerClass", "supportsAdminApi"},
            "Kafka.spec.kafka.authorization",
        )
        assert kafka["authorization"]["type"] in {"simple", "custom"}
    _only_keys(spec["entityOperator"], {"topicOperator", "userOperator", "template"}, "entity")
    assert isinstance(spec["entityOperator"]["topicOperator"], dict)


ACL_RESOURCES = {"topic", "group", "cluster", "transactionalId"}
ACL_OPERATIONS = {
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "ClusterAction",
    "AlterConfigs",
    "DescribeConfigs",
    "IdempotentWrite",
    "All",
}


def check_kafka_user(obj: Obj) -> None:
    assert labels(obj).get("strimzi.io/cluster"), "KafkaUser needs strimzi.io/cluster"
    spec = obj["spec"]
    _only_keys(spec, {"authentication", "authorization", "quotas", "template"}, "KafkaUser.spec")
    authentication = spec.get("authentication")
    if authentication is not None:
        _only_keys(authentication, {"type", "password"}, "KafkaUser.spec.authentication")
        assert authentication["type"] in {"tls", "tls-external", "scram-sha-512"}
    authorization = spec.get("authorization")
    if authorization is not None:
        _only_keys(authorization, {"type", "acls"}, "KafkaUser.spec.authorization")
        assert authorization["type"] == "simple"
        assert isinstance(authorization["acls"], list)
        for rule in authorization["acls"]:
            # kafka.strimzi.io/v1: `operations` only (v1beta2's single `operation` is gone).
            _only_keys(rule, {"type", "resource", "host", "operations"}, "acl")
            assert rule.get("type", "allow") in {"allow", "deny"}, rule
            resource = rule["resource"]
            _only_keys(resource, {"type", "name", "patternType"}, "acl resource")
            assert resource["type"] in ACL_RESOURCES, rule
            assert resource.get("patternType", "literal") in {"literal", "prefix"}, rule
            assert resource["type"] == "cluster" or resource.get("name"), rule
            operations = rule["operations"]
            assert operations and set(operations) <= ACL_OPERATIONS, rule
            assert len(set(operations)) == len(operations), rule


def check_kafka_node_pool(obj: Obj) -> None:
    assert labels(obj).get("strimzi.io/cluster"), "KafkaNodePool needs strimzi.io/cluster"
    spec = obj["spec"]
    _only_keys(
        spec,
        {"replicas", "roles", "storage", "resources", "jvmOptions", "template"},
        "KafkaNodePool.spec",
    )
    assert _is_int(spec["replicas"])
    assert spec["roles"] and set(spec["roles"]) <= {"controller", "broker"}
    storage = spec["storage"]
    assert storage["type"] in {"ephemeral", "persistent-claim", "jbod"}
    volumes = storage.get("volumes", [storage]) if storage["type"] == "jbod" else [storage]
    assert volumes
    for volume in volumes:
        assert volume["type"] in {"ephemeral", "persistent-claim"}
        if storage["type"] == "jbod":
            assert _is_int(volume["id"])
        if volume["type"] == "persistent-claim":
            assert re.fullmatch(r"[0-9]+(Ki|Mi|Gi|Ti)", str(volume["size"]))
    assert sum(1 for v in volumes if v.get("kraftMetadata") == "shared") <= 1


def check_kafka_topic(obj: Obj) -> None:
    assert labels(obj).get("strimzi.io/cluster"), "KafkaTopic needs strimzi.io/cluster"
    spec = obj["spec"]
    _only_keys(spec, {"topicName", "partitions", "replicas", "config"}, "KafkaTopic.spec")
    assert _is_int(spec["partitions"], 1)
    assert _is_int(spec["replicas"], 1) and spec["replicas"] <= 32767
    for key, value in (spec.get("config") or {}).items():
        assert isinstance(value, str | int | bool | float), f"config {key} must be a scalar"


def check_scaled_object(obj: Obj) -> None:
    spec = obj["spec"]
    _only_keys(
        spec,
        {
            "scaleTargetRef",
            "pollingInterval",
            "cooldownPeriod",
            "initialCooldownPeriod",
            "idleReplicaCount",
            "minReplicaCount",
            "maxReplicaCount",
            "fallback",
            "advanced",
            "triggers",
        },
        "ScaledObject.spec",
    )
    assert spec["scaleTargetRef"]["name"]
    minimum, maximum = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    assert _is_int(minimum) and _is_int(maximum, 1) and minimum <= maximum
    assert spec["triggers"], "a ScaledObject needs triggers"
    for trigger in spec["triggers"]:
        _only_keys(
            trigger,
            {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"},
            "trigger",
        )
        assert isinstance(trigger["type"], str)
        # KEDA's metadata is map[string]string: a bare number fails admission.
        for key, value in trigger["metadata"].items():
            assert isinstance(value, str), f"trigger metadata {key} must be a string"


def check_trigger_authentication(obj: Obj) -> None:
    spec = obj["spec"]
    # The sources of keda.sh/v1alpha1 TriggerAuthentication this project may use.
    _only_keys(
        spec,
        {"secretTargetRef", "configMapTargetRef", "env", "podIdentity"},
        "TriggerAuthentication.spec",
    )
    assert spec, "a TriggerAuthentication without parameters"
    parameters = []
    for source in ("secretTargetRef", "configMapTargetRef"):
        for ref in spec.get(source) or []:
            _only_keys(ref, {"parameter", "name", "key"}, source)
            assert all(isinstance(ref[key], str) and ref[key] for key in ref), ref
            parameters.append(ref["parameter"])
    assert len(parameters) == len(set(parameters)), f"parameters given twice: {parameters}"


def check_prometheus_rule(obj: Obj) -> None:
    # Only the shape here; tests/deploy/test_alerts.py runs promtool on the rules.
    spec = obj["spec"]
    _only_keys(spec, {"groups"}, "PrometheusRule.spec")
    assert spec["groups"], "a PrometheusRule needs groups"
    for group in spec["groups"]:
        _only_keys(
            group,
            {"name", "interval", "rules", "partial_response_strategy", "limit", "labels"},
            "group",
        )
        assert group["name"] and group["rules"], group.get("name")
        for rule in group["rules"]:
            _only_keys(
                rule,
                {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"},
                "rule",
            )
            assert ("record" in rule) != ("alert" in rule), rule
            assert isinstance(rule["expr"], str | int), rule
            for key, value in {**rule.get("labels", {}), **rule.get("annotations", {})}.items():
                assert isinstance(value, str), f"{key} must be a string"


def check_pod_monitor(obj: Obj) -> None:
    spec = obj["spec"]
    _only_keys(
        spec,
        {
            "jobLabel",
            "podTargetLabels",
            "podMetricsEndpoints",
            "selector",
            "selectorMechanism",
            "namespaceSelector",
            "sampleLimit",
            "targetLimit",
            "labelLimit",
            "labelNameLengthLimit",
            "labelValueLengthLimit",
            "keepDroppedTargets",
            "attachMetadata",
            "scrapeClass",
            "scrapeProtocols",
            "fallbackScrapeProtocol",
            "bodySizeLimit",
        },
        "PodMonitor.spec",
    )
    selector = spec["selector"]
    _only_keys(selector, {"matchLabels", "matchExpressions"}, "PodMonitor.spec.selector")
    assert selector, "an empty selector scrapes every pod of the namespace"
    for key, value in (selector.get("matchLabels") or {}).items():
        assert isinstance(value, str), f"selector {key} must be a string"
    for label in spec.get("podTargetLabels") or []:
        assert isinstance(label, str) and label, "podTargetLabels are label names"
    assert spec["podMetricsEndpoints"], "a PodMonitor needs podMetricsEndpoints"
    for endpoint in spec["podMetricsEndpoints"]:
        _only_keys(
            endpoint,
            {
                "port",
                "portNumber",
                "path",
                "scheme",
                "params",
                "interval",
                "scrapeTimeout",
                "honorLabels",
                "honorTimestamps",
                "trackTimestampsStaleness",
                "relabelings",
                "metricRelabelings",
                "filterRunning",
                "followRedirects",
                "enableHttp2",
                "authorization",
                "basicAuth",
                "oauth2",
                "bearerTokenSecret",
                "tlsConfig",
                "proxyUrl",
                "noProxy",
            },
            "podMetricsEndpoint",
        )
        assert isinstance(endpoint.get("port"), str) or _is_int(endpoint.get("portNumber"), 1)
        assert str(endpoint.get("path", "/metrics")).startswith("/"), endpoint
        for key in ("interval", "scrapeTimeout"):
            if key in endpoint:
                assert re.fullmatch(r"([0-9]+(ms|s|m|h))+", endpoint[key]), endpoint


CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("kafka.strimzi.io/v1", "Kafka"): check_kafka,
    ("kafka.strimzi.io/v1", "KafkaNodePool"): check_kafka_node_pool,
    ("kafka.strimzi.io/v1", "KafkaTopic"): check_kafka_topic,
    ("kafka.strimzi.io/v1", "KafkaUser"): check_kafka_user,
    ("keda.sh/v1alpha1", "ScaledObject"): check_scaled_object,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): check_trigger_authentication,
    ("monitoring.coreos.com/v1", "PrometheusRule"): check_prometheus_rule,
    ("monitoring.coreos.com/v1", "PodMonitor"): check_pod_monitor,
}


# --- every combination -----------------------------------------------------------------


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_renders_schema_valid_objects(combination, render, k8s_validate) -> None:
    objects = render(combination)
    assert objects
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", obj["metadata"]["name"])
        check = CUSTOM_RESOURCES.get((obj["apiVersion"], obj["kind"]))
        if check is not None:
            check(obj)
        else:
            k8s_validate(obj)  # raises on a schema violation or an unknown kind


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_chorus_containers_are_hardened(combination, render, runtime) -> None:
    workloads = chorus_workloads(render(combination))
    assert {(s, r) for s, r, _ in workloads} == {(s, r) for s in runtime for r in ("api", "worker")}
    for service, role, deployment in workloads:
        spec = pod_spec(deployment)
        pod_security = spec.get("securityContext") or {}
        assert spec["automountServiceAccountToken"] is False
        assert spec.get("enableServiceLinks") is False, (
            "service links inject <SVC>_API_PORT=tcp://... and break the port settings"
        )
        tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        assert len(spec["containers"]) == 1
        for container in spec["containers"]:
            where = f"{combination}: {deployment['metadata']['name']}/{container['name']}"
            security = container.get("securityContext") or {}

            def effective(key: str, sc: Obj = security, pod: Obj = pod_security) -> Any:
                return sc.get(key, pod.get(key))

            assert effective("runAsNonRoot") is True, where
            assert effective("runAsUser") == CHORUS_UID, where
            assert (effective("seccompProfile") or {}).get("type") == "RuntimeDefault", where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("privileged", False) is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not security.get("capabilities", {}).get("add"), where
            assert any(
                m["mountPath"] == "/tmp" and m["name"] in tmp_volumes
                for m in container.get("volumeMounts", [])
            ), f"{where}: an emptyDir at /tmp (read-only root filesystem)"
            # Probes: alive on /healthz, ready on /readyz, on the documented operations port.
            port = runtime[service].ops_port(role)
            container_ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
            assert list(container_ports.values()) == runtime[service].all_ports(role), where
            assert container_ports.get(OPS) == port, f"{where}: a port named {OPS}"
            probes = ("startupProbe", "livenessProbe", "readinessProbe")
            for probe, path in zip(probes, ("/healthz", "/healthz", "/readyz"), strict=True):
                get = container[probe]["httpGet"]
                assert get["path"] == path, f"{where}: {probe}"
                assert get["port"] == OPS, f"{where}: {probe}"
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"
            # The image's entrypoint is `python -m <svc>`; only the role is passed.
            assert "command" not in container, f"{where}: must not override the entrypoint"
            assert container["args"] == [role], where
            image, _, tag = container["image"].rpartition(":")
            assert image == f"{IMAGE_REGISTRY}/{runtime[service].package}", where
            assert tag, where


def pod_specs(obj: Obj) -> list[Obj]:
    """The pod specs inside a rendered object: a Pod's own, a workload's template, a
    CronJob's job template."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if obj["kind"] == "Pod":
        return [spec]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    template = spec.get("template")
    return [template["spec"]] if isinstance(template, dict) and "spec" in template else []


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_image_names_a_version(combination, render, pinned) -> None:
    images = {}
    for obj in render(combination):
        for spec in pod_specs(obj):
            for group in ("initContainers", "containers", "ephemeralContainers"):
                for container in spec.get(group) or []:
                    where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
                    images[where] = container["image"]
    pinned(images)
    # The Chorus images all run the one release the base names.
    kustomization = yaml.safe_load((K8S_DIR / "base" / "kustomization.yaml").read_text())
    releases = {entry["newTag"] for entry in kustomization["images"]}
    assert len(releases) == 1 and "latest" not in releases
    chorus = {i for i in images.values() if i.startswith(f"{IMAGE_REGISTRY}/")}
    assert chorus and {i.rsplit(":", 1)[1] for i in chorus} == releases


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_other_workloads_are_hardened(combination, render) -> None:
    objects = render(combination)
    chorus = {id(d) for _, _, d in chorus_workloads(objects)}
    others = [
        w
        for kind in ("Deployment", "StatefulSet", "DaemonSet")
        for w in of_kind(objects, kind)
        if id(w) not in chorus
    ]
    for workload in others:
        spec = pod_spec(workload)
        pod_security = spec.get("securityContext") or {}
        assert spec.get("automountServiceAccountToken") is False
        assert spec.get("enableServiceLinks") is False
        for container in spec["containers"]:
            where = f"{combination}: {workload['metadata']['name']}/{container['name']}"
            security = container.get("securityContext") or {}
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            seccomp = security.get("seccompProfile", pod_security.get("seccompProfile")) or {}
            assert seccomp.get("type") == "RuntimeDefault", where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            if container["name"] not in WRITABLE_ROOT_ALLOWED:
                assert security.get("readOnlyRootFilesystem") is True, where
            assert "livenessProbe" in container and "readinessProbe" in container, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"].get(bound, {})), where


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_workload_has_its_own_service_account(combination, render) -> None:
    objects = render(combination)
    accounts = {sa["metadata"]["name"]: sa for sa in of_kind(objects, "ServiceAccount")}
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "StatefulSet"):
        name = pod_spec(workload).get("serviceAccountName")
        assert name, f"{workload['metadata']['name']} runs as the namespace's default account"
        assert name in accounts, f"ServiceAccount {name} is not part of the rendering"
        assert accounts[name].get("automountServiceAccountToken") is False
    used = {pod_spec(w).get("serviceAccountName") for w in of_kind(objects, "Deployment")}
    assert len(used) == len(of_kind(objects, "Deployment")), "one ServiceAccount per workload"


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_process_has_a_service_on_its_port(combination, render, runtime) -> None:
    objects = render(combination)
    for service, role, deployment in chorus_workloads(objects):
        svc = named(objects, "Service", deployment["metadata"]["name"])
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert matches({"matchLabels": svc["spec"]["selector"]}, pod_labels)
        assert matches(deployment["spec"]["selector"], pod_labels)
        ports = svc["spec"]["ports"]
        assert [p["port"] for p in ports] == runtime[service].all_ports(role)
        assert ports[0]["targetPort"] in ("http", OPS, runtime[service].ports[role])
        for port, (name, number) in zip(
            ports[1:], runtime[service].further_ports.get(role, {}).items(), strict=True
        ):
            assert port["name"] == name and port["targetPort"] in (name, number)


# What the drain after SIGTERM may take at most (docs/runtime.md, "Stopping"): uvicorn's
# 10 s for requests in flight, the links listener's 5 s for clicks, and closing.
DRAIN_SECONDS = 20


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_pods_stop_gracefully(combination, render) -> None:
    """An api sleeps in preStop, so that its Service and the Ingress stop sending to it
    before SIGTERM, and the sleep and the drain fit in the grace period; rolling updates
    keep every replica until a new one is ready."""
    for _, role, deployment in chorus_workloads(render(combination)):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        [container] = pod["containers"]
        pre_stop = container.get("lifecycle", {}).get("preStop")
        if role == "api":
            assert pre_stop == {"sleep": {"seconds": 5}}, name
            assert pre_stop["sleep"]["seconds"] + DRAIN_SECONDS <= grace, name
            rollout = deployment["spec"]["strategy"]["rollingUpdate"]
            assert rollout == {"maxSurge": 1, "maxUnavailable": 0}, name
        else:
            # A worker takes no requests: nothing to wait for before SIGTERM.
            assert pre_stop is None, name
            assert DRAIN_SECONDS <= grace, name


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_api_deployments_have_disruption_budgets(combination, render) -> None:
    objects = render(combination)
    budgets = of_kind(objects, "PodDisruptionBudget")
    for _, role, deployment in chorus_workloads(objects):
        if role != "api":
            continue
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if matches(b["spec"]["selector"], pod_labels)]
        assert len(covering) == 1, deployment["metadata"]["name"]
        spec = covering[0]["spec"]
        # maxUnavailable keeps node drains possible at one replica; minAvailable=1 would not.
        assert spec.get("maxUnavailable") == 1 or (
            "minAvailable" in spec and spec["minAvailable"] < deployment["spec"].get("replicas", 1)
        )


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_environment_follows_the_runtime_contract(
    combination, render, runtime, env_contract
) -> None:
    objects = render(combination)
    config_maps = {c["metadata"]["name"]: c for c in of_kind(objects, "ConfigMap")}
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    for service, role, deployment in chorus_workloads(objects):
        for container in pod_spec(deployment)["containers"]:
            names: set[str] = set()
            for source in container.get("envFrom", []):
                ref = source["configMapRef"]["name"]
                assert ref.startswith("chorus-config"), ref
                assert ref in config_maps, f"ConfigMap {ref} is not part of the rendering"
                names.update(config_maps[ref]["data"])
            explicit = {e["name"]: e for e in container.get("env", [])}
            names.update(explicit)
            unknown = names - env_contract(service)
            assert not unknown, f"{deployment['metadata']['name']}: unread variables {unknown}"
            port_var = f"{service.upper()}_{role.upper()}_PORT"
            assert explicit[port_var]["value"] == str(runtime[service].ports[role])
            if role == "api":
                ops = explicit[f"{service.upper()}_API_OPS_PORT"]["value"]
                assert ops == str(runtime[service].ops_port(role))
            # The pseudonym key too: every process keys erased people alike.
            for name in ("CHORUS_JWT_SECRET", "CHORUS_OIDC_PROVIDERS", "CHORUS_PSEUDONYM_KEY"):
                ref = explicit[name]["valueFrom"]["secretKeyRef"]
                assert ref["name"].startswith("chorus-secrets") and ref["key"] == name
                assert ref["name"] in secrets or ref.get("optional") is True


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_settings_point_at_the_infrastructure_in_the_rendering(combination, render) -> None:
    objects = render(combination)
    [config] = [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].startswith("chorus-config")
    ]
    data = config["data"]
    components = components_in(combination)
    assert data["CHORUS_ENV"] == ("local" if combination == "overlays/local" else "production")
    assert data["CHORUS_TOPIC_PARTITIONS"] == str(TOPIC_PARTITIONS)
    host, _, port = data["KAFKA_BOOTSTRAP_SERVERS"].partition(":")
    if "local-infra" in components:
        kafka = named(objects, "Service", host)
        assert int(port) in [p["port"] for p in kafka["spec"]["ports"]]
        mongo_host = re.fullmatch(r"mongodb://([^:/]+):(\d+)", data["MONGODB_URL"])
        assert mongo_host
        named(objects, "Service", mongo_host.group(1))
        brokers = named(objects, "StatefulSet", "kafka")["spec"]["replicas"]
        assert int(data["CHORUS_TOPIC_REPLICATION"]) <= brokers
    if "strimzi" in components:
        [kafka] = of_kind(objects, "Kafka")
        assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
        # test_each_process_signs_in_to_kafka_as_its_own_service checks how.
        assert int(port) in [x["port"] for x in kafka["spec"]["kafka"]["listeners"]]
        brokers = sum(
            p["spec"]["replicas"]
            for p in of_kind(objects, "KafkaNodePool")
            if "broker" in p["spec"]["roles"]
        )
        assert int(data["CHORUS_TOPIC_REPLICATION"]) <= brokers
    secrets = of_kind(objects, "Secret")
    if "local-infra" in components:
        assert [s["metadata"]["name"].rsplit("-", 1)[0] for s in secrets] == ["chorus-secrets"]
    else:
        assert not secrets, "only the local-infra component may ship a (development) secret"


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_everything_is_labelled_part_of_chorus(combination, render) -> None:
    for obj in render(combination):
        assert labels(obj).get("app.kubernetes.io/part-of") == "chorus", obj["metadata"]["name"]
    for _, _, deployment in chorus_workloads(render(combination)):
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert template_labels.get("app.kubernetes.io/part-of") == "chorus"


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_no_hand_written_autoscalers(combination, render) -> None:
    assert not of_kind(render(combination), "HorizontalPodAutoscaler"), "KEDA owns the HPAs"


@pytest.mark.parametrize("combination", OVERLAYS)
def test_overlays_put_everything_in_one_namespace(combination, render) -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    namespaces = {
        obj["metadata"].get("namespace")
        for obj in render(combination)
        if obj["kind"] not in cluster_scoped
    }
    assert len(namespaces) == 1 and None not in namespaces, namespaces


# --- the web service and the public host ------------------------------------------------


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_web_calls_the_service_apis_by_their_services(
    combination, render, runtime, backends
) -> None:
    objects = render(combination)
    [container] = pod_spec(named(objects, "Deployment", "web-api"))["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    for variable, service in backends.items():
        url = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", env.get(variable) or "")
        assert url, f"web-api: {variable}={env.get(variable)!r}, not http://<Service>:<port>"
        deployment, container_port = serving_port(
            objects, url.group(1), {"number": int(url.group(2))}
        )
        assert deployment["metadata"]["name"] == f"{service}-api", variable
        assert container_port["containerPort"] == runtime[service].ports["api"], variable


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_ingress_routes_the_web_app_and_short_links(combination, render, runtime) -> None:
    """`/` to the web api's http port, `/l/` to the share api's links listener."""
    objects = render(combination)
    [ingress] = of_kind(objects, "Ingress")
    routes = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix", path
            backend = path["backend"]["service"]
            deployment, container_port = serving_port(objects, backend["name"], backend["port"])
            routes[path["path"]] = (deployment["metadata"]["name"], container_port["containerPort"])
    assert routes == {
        "/": ("web-api", runtime["web"].ports["api"]),
        "/l/": ("share-api", runtime["share"].further_ports["api"]["links"]),
    }


# --- components ------------------------------------------------------------------------


def with_component(name: str) -> list[str]:
    return [c for c in COMBINATIONS if name in components_in(c)]


def test_every_component_is_rendered_alone_and_used_by_an_overlay() -> None:
    """Each component is rendered on its own, or as part of the one that lists it (as
    strimzi lists kafka-access), and an overlay uses it."""
    every = sorted(
        p.name for p in (K8S_DIR / "components").iterdir() if (p / "kustomization.yaml").is_file()
    )
    for component in every:
        directory = K8S_DIR / "components" / component
        # tools.py reads `components:` without a YAML parser.
        assert sorted(tools.parts_of(component)) == sorted(_listed_components(directory))
        whole = [c for c in tools.components() if component in components_in(f"base+{c}")]
        assert whole and all(f"base+{c}" in COMBINATIONS for c in whole), component
        assert any(component in components_in(overlay) for overlay in OVERLAYS), component
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
        assert kustomization["kind"] == "Component"


def _consumer_definition(service: str) -> Any:
    """The service's ServiceDefinition: what its worker subscribes to, under which name."""
    return importlib.import_module(f"{service}.bootstrap").DEFINITION


@pytest.mark.parametrize("combination", with_component("keda"))
def test_keda_scales_each_consuming_worker_on_its_groups(combination, render, runtime) -> None:
    """One trigger per topic a worker reads, on the consumer group that reads it there:
    the catalogue's subscriptions (tests/rules holds them to the code)."""
    catalogue = importlib.import_module("contracts.catalogue")
    objects = render(combination)
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(objects, "ScaledObject")}
    for service, role, deployment in chorus_workloads(objects):
        if role != "worker":
            continue
        definition = _consumer_definition(service)
        name = deployment["metadata"]["name"]
        if not definition.consumes:
            assert name not in scaled, f"{name} consumes nothing: no lag to scale on"
            continue
        scaled_object = scaled.pop(name)
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        assert spec["minReplicaCount"] >= 1, "workers also run loops (outbox relay)"
        assert spec["maxReplicaCount"] <= TOPIC_PARTITIONS
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        [container] = pod_spec(deployment)["containers"]
        environment: dict[str, str | None] = {}
        for source in container.get("envFrom", []):
            environment.update(named(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        environment.update({e["name"]: e.get("value") for e in container.get("env", [])})
        # The worker's groups are named from <SVC>_CONSUMER_GROUP when set, else from the
        # service name, as the catalogue's are.
        base_group = environment.get(f"{service.upper()}_CONSUMER_GROUP") or definition.name
        assert base_group == service, f"{name}: groups named from {base_group}"
        measured = set()
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            metadata = trigger["metadata"]
            assert metadata.get("offsetResetPolicy") == "earliest"
            measured.add((metadata["consumerGroup"], metadata["topic"]))
        assert len(measured) == len(spec["triggers"]), f"{name}: the same lag measured twice"
        read = {(s.group, topic) for s in catalogue.subscriptions_of(service) for topic in s.topics}
        assert measured == read, (
            f"{name}: triggers on {sorted(measured - read)} that no group reads, "
            f"none on {sorted(read - measured)}"
        )
        assert {topic for _, topic in measured} == set(definition.consumes), name
    assert not scaled, f"ScaledObjects for unknown workers: {sorted(scaled)}"


def test_keda_comes_with_the_strimzi_kafka() -> None:
    """KEDA signs in to the Strimzi Kafka (components/keda/trigger-auth.yaml), so an overlay
    lists keda only with strimzi; base+keda is rendered for its structure alone."""
    with_keda = [overlay for overlay in OVERLAYS if "keda" in components_in(overlay)]
    assert with_keda, "no overlay autoscales"
    for overlay in with_keda:
        assert "strimzi" in components_in(overlay), f"{overlay}: KEDA has no Kafka to sign in to"


def trigger_parameters(authentication: Obj, objects: list[Obj]) -> dict[str, Any]:
    """A TriggerAuthentication's parameters: the value of each read from a ConfigMap of
    the rendering, (Secret, key) of each read from a Secret."""
    found: dict[str, Any] = {}
    for ref in authentication["spec"].get("configMapTargetRef") or []:
        found[ref["parameter"]] = named(objects, "ConfigMap", ref["name"])["data"][ref["key"]]
    for ref in authentication["spec"].get("secretTargetRef") or []:
        found[ref["parameter"]] = (ref["name"], ref["key"])
    return found


# The kafka scaler's names for the listener's authentication (CLIENT_SECURITY's for KEDA).
KEDA_SASL = {"scram-sha-512": "scram_sha512"}
# What a kafka trigger's metadata may say: where to measure, never how to sign in (the
# TriggerAuthentication says that, and TLS verification stays on).
TRIGGER_METADATA = {
    "bootstrapServers",
    "consumerGroup",
    "topic",
    "lagThreshold",
    "offsetResetPolicy",
}


@pytest.mark.parametrize("combination", with_component("keda"))
def test_keda_triggers_sign_in_to_the_authenticated_listener(combination, render) -> None:
    objects = render(combination)
    authentications = {a["metadata"]["name"]: a for a in of_kind(objects, "TriggerAuthentication")}
    kafkas = of_kind(objects, "Kafka")
    triggers = [
        (f"{s['metadata']['name']}/{t['name']}", t)
        for s in of_kind(objects, "ScaledObject")
        for t in s["spec"]["triggers"]
    ]
    assert triggers
    for where, trigger in triggers:
        metadata = trigger["metadata"]
        assert set(metadata) <= TRIGGER_METADATA, (
            f"{where}: {sorted(set(metadata) - TRIGGER_METADATA)}"
        )
        ref = trigger.get("authenticationRef") or {}
        assert ref.get("kind", "TriggerAuthentication") == "TriggerAuthentication", where
        assert ref.get("name") in authentications, f"{where}: signs in with nothing"
        parameters = trigger_parameters(authentications[ref["name"]], objects)
        assert parameters.get("tls") == "enable", f"{where}: credentials in clear"
        if not kafkas:
            continue  # base+keda: no Kafka to hold it to (test_keda_comes_with_the_strimzi_kafka)
        [kafka] = kafkas
        cluster, namespace = kafka["metadata"]["name"], kafka["metadata"].get("namespace")
        host, _, port = metadata.get("bootstrapServers", "").partition(":")
        # KEDA's operator resolves the name in its own namespace: it must name Kafka's.
        assert namespace and host == f"{cluster}-kafka-bootstrap.{namespace}.svc", where
        [listener] = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == int(port)]
        assert listener["tls"] is True, where
        authentication = (listener.get("authentication") or {}).get("type")
        assert parameters.get("sasl") == KEDA_SASL.get(authentication), f"{where}: {authentication}"
        user = parameters.get("username")
        assert user == KEDA_USER, f"{where} signs in as {user}"
        named(objects, "KafkaUser", user)
        assert parameters.get("password") == (user, "password"), where
        assert parameters.get("ca") == (f"{cluster}-cluster-ca-cert", "ca.crt"), where


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_strimzi_cluster_and_topics(combination, render) -> None:
    objects = render(combination)
    [kafka] = of_kind(objects, "Kafka")
    cluster = kafka["metadata"]["name"]
    pools = of_kind(objects, "KafkaNodePool")
    assert pools and all(labels(p)["strimzi.io/cluster"] == cluster for p in pools)
    roles = {role for pool in pools for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}, "KRaft: controllers and brokers from node pools"
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])

    declared = {}
    for topic in of_kind(objects, "KafkaTopic"):
        name = topic["spec"].get("topicName", topic["metadata"]["name"])
        assert labels(topic)["strimzi.io/cluster"] == cluster
        assert topic["spec"]["partitions"] == TOPIC_PARTITIONS, name
        assert topic["spec"]["replicas"] <= brokers, name
        min_isr = int(topic["spec"].get("config", {}).get("min.insync.replicas", 1))
        assert min_isr < topic["spec"]["replicas"], f"{name}: one broker down must not stop writes"
        declared[name] = topic
    contracts_topics = importlib.import_module("contracts.topics")
    in_code = {
        value
        for value in vars(contracts_topics).values()
        if isinstance(value, str) and re.fullmatch(r"chorus\.[a-z-]+\.v\d+", value)
    }
    assert in_code, "no topic constants found in contracts.topics"
    expected = {t for topic in {*TOPICS, *in_code} for t in (topic, topic + ".dlq")}
    assert set(declared) == expected, (
        f"missing KafkaTopics: {sorted(expected - set(declared))}, "
        f"unknown: {sorted(set(declared) - expected)}"
    )


# --- who may use the Strimzi Kafka (components/strimzi, with its kafka-access) -----------

# What the services send for the listener's authentication (docs/runtime.md).
CLIENT_SECURITY = {"scram-sha-512": ("SASL_SSL", "SCRAM-SHA-512")}


def kafka_user_of(service: str) -> str:
    return f"chorus-{service}"


# The users no process signs in as: KEDA's operator measures lag with the first, people
# read the dead-letter topics with the second (components/kafka-access/generate.py).
KEDA_USER = "chorus-keda"
OPERATOR_USER = "chorus-operator"
# KEDA's operator pods (the labels of KEDA's Helm chart and manifests) in the namespace
# components/strimzi/kafka.yaml expects them in.
KEDA_OPERATOR = (
    {"kubernetes.io/metadata.name": "keda"},
    {"app": "keda-operator", "name": "keda-operator", "app.kubernetes.io/name": "keda-operator"},
)


def chorus_config(objects: list[Obj]) -> dict[str, str]:
    [config] = [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].startswith("chorus-config")
    ]
    return config["data"]


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_kafka_lets_in_signed_in_chorus_pods_and_keda_only(combination, render) -> None:
    objects = render(combination)
    [kafka] = of_kind(objects, "Kafka")
    spec = kafka["spec"]["kafka"]
    # Kafka's authorizer: what no ACL allows is denied; Strimzi's operators are its only
    # super users.
    authorization = spec.get("authorization") or {}
    assert authorization.get("type") == "simple", "without an authorizer every user may do all"
    assert not authorization.get("superUsers")
    config = spec.get("config") or {}
    assert str(config.get("allow.everyone.if.no.acl.found", "false")).lower() == "false"
    assert "super.users" not in config
    for listener in spec["listeners"]:
        where = f"listener {listener['name']}"
        authentication = (listener.get("authentication") or {}).get("type")
        assert authentication == "scram-sha-512", f"{where}: lets in clients that do not sign in"
        assert listener["tls"] is True, f"{where}: events and credentials in clear"
        peers = listener.get("networkPolicyPeers")
        assert peers, f"{where}: open to every pod of the cluster"
        assert not any("ipBlock" in peer for peer in peers), f"{where}: open to addresses"
        # The Chorus pods of Kafka's namespace, and KEDA's operator in KEDA's; nobody else.
        for _, _, deployment in chorus_workloads(objects):
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert admitted([peers], pod_labels), (
                f"{where}: {deployment['metadata']['name']} cannot reach it"
            )
        keda_namespace, keda_operator = KEDA_OPERATOR
        assert admitted([peers], keda_operator, keda_namespace), f"{where}: KEDA cannot measure lag"
        chorus_pod = {"app.kubernetes.io/part-of": "chorus"}
        others = [
            ({"app": "anything"}, None),
            (keda_operator, None),
            # KEDA's other pods, which never ask Kafka anything.
            ({"app": "keda-operator-metrics-apiserver"}, keda_namespace),
            ({"app": "keda-admission-webhooks"}, keda_namespace),
            ({"app": "anything"}, keda_namespace),
            (keda_operator, {"kubernetes.io/metadata.name": "default"}),
            (chorus_pod, {"kubernetes.io/metadata.name": "default"}),
        ]
        for pod_labels, namespace in others:
            assert not admitted([peers], pod_labels, namespace), (
                f"{where}: open to {pod_labels} in {namespace or 'its namespace'}"
            )
    # The User Operator turns the KafkaUsers into credentials and ACLs.
    assert isinstance(kafka["spec"]["entityOperator"].get("userOperator"), dict)


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_each_process_signs_in_to_kafka_as_its_own_service(combination, render) -> None:
    objects = render(combination)
    [kafka] = of_kind(objects, "Kafka")
    cluster = kafka["metadata"]["name"]
    config = chorus_config(objects)
    host, _, port = config["KAFKA_BOOTSTRAP_SERVERS"].partition(":")
    assert host == f"{cluster}-kafka-bootstrap"
    [listener] = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == int(port)]
    authentication = (listener.get("authentication") or {}).get("type")
    assert authentication in CLIENT_SECURITY, f"port {port} is not an authenticated listener"
    protocol, mechanism = CLIENT_SECURITY[authentication]
    assert config["KAFKA_SECURITY_PROTOCOL"] == protocol
    assert config["KAFKA_SASL_MECHANISM"] == mechanism
    assert not {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} & set(config), (
        "each service has its own user, and a password is no ConfigMap value"
    )
    cafile = PurePosixPath(config["KAFKA_SSL_CAFILE"])
    users = {user["metadata"]["name"]: user for user in of_kind(objects, "KafkaUser")}
    signed_in = set()
    for service, _, deployment in chorus_workloads(objects):
        where = deployment["metadata"]["name"]
        [container] = pod_spec(deployment)["containers"]
        env = {e["name"]: e for e in container.get("env", [])}
        user = env.get("KAFKA_SASL_USERNAME", {}).get("value")
        assert user == kafka_user_of(service), f"{where} signs in as {user}"
        assert user in users, f"{where}: no KafkaUser {user}"
        assert labels(users[user])["strimzi.io/cluster"] == cluster
        # The password the User Operator keeps in the Secret of the user's name; no
        # `optional`: without it the process must not start.
        secret = env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
        assert secret == {"name": user, "key": "password"}, where
        # The cluster CA that signs the brokers' certificates, where KAFKA_SSL_CAFILE says.
        mounts = [
            m
            for m in container.get("volumeMounts", [])
            if PurePosixPath(m["mountPath"]) == cafile.parent
        ]
        assert len(mounts) == 1, f"{where}: nothing mounted at {cafile.parent}"
        [mount] = mounts
        assert mount.get("readOnly") is True and "subPath" not in mount, where
        [volume] = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == f"{cluster}-cluster-ca-cert", where
        items = volume["secret"].get("items") or [{"key": "ca.crt", "path": "ca.crt"}]
        assert {"key": "ca.crt", "path": cafile.name} in items, where
        signed_in.add(user)
    # KEDA's and the operators' users are the only others.
    assert set(users) - signed_in == {KEDA_USER, OPERATOR_USER}, set(users) - signed_in


def granted(user: Obj) -> list[Any]:
    """The ACLs of a KafkaUser, as contracts.catalogue.access.Acl, after checking that none
    allows every operation, every name, the cluster or a transactional id."""
    access = importlib.import_module("contracts.catalogue.access")
    name = user["metadata"]["name"]
    spec = user["spec"]
    assert spec["authentication"]["type"] == "scram-sha-512", name
    assert spec["authorization"]["type"] == "simple", name
    acls = []
    for rule in spec["authorization"]["acls"]:
        where = f"{name}: {rule}"
        assert rule.get("type", "allow") == "allow" and rule.get("host", "*") == "*", where
        resource = rule["resource"]
        assert resource["type"] in {"topic", "group"}, f"{where}: no cluster, no transactions"
        assert resource.get("name") and "*" not in resource["name"], f"{where}: every name"
        assert "All" not in rule["operations"], where
        acls += [
            access.Acl(
                resource["type"], resource["name"], resource.get("patternType", "literal"), op
            )
            for op in rule["operations"]
        ]
    return sorted(acls)


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_kafka_users_allow_what_the_catalogue_says(combination, render) -> None:
    """Each service's KafkaUser allows exactly `kafka_acls(service)`, and nothing allows
    every operation, every name, the cluster or a transactional id."""
    access = importlib.import_module("contracts.catalogue.access")
    services = importlib.import_module("contracts.catalogue").service_names()
    users = {user["metadata"]["name"]: user for user in of_kind(render(combination), "KafkaUser")}
    others = {KEDA_USER, OPERATOR_USER}
    assert set(users) == {kafka_user_of(service) for service in services} | others
    for name in others:
        granted(users[name])  # test_keda_user_... and test_operator_user_... say what
    for service in services:
        name = kafka_user_of(service)
        assert granted(users[name]) == access.kafka_acls(service), (
            f"{name}: run .venv/bin/python deploy/k8s/components/kafka-access/generate.py"
        )


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_keda_user_may_describe_the_measured_groups_and_topics_only(combination, render) -> None:
    """KEDA's Kafka scaler asks for topic metadata, last offsets (ListOffsets) and a
    group's committed offsets (FindCoordinator, OffsetFetch): Kafka authorizes each with
    Describe on the topic or group. It never consumes: no Read."""
    objects = render(combination)
    acls = granted(named(objects, "KafkaUser", KEDA_USER))
    assert {acl.operation for acl in acls} == {"Describe"}, KEDA_USER
    assert {acl.pattern for acl in acls} == {"literal"}, f"{KEDA_USER}: no prefixes"
    if "keda" in components_in(combination):
        # What the ScaledObjects measure.
        measured = [
            t["metadata"] for s in of_kind(objects, "ScaledObject") for t in s["spec"]["triggers"]
        ]
        groups = {m["consumerGroup"] for m in measured}
        topics = {m["topic"] for m in measured}
    else:
        # What they would measure: the catalogue's subscriptions, which the triggers follow
        # (test_keda_scales_each_consuming_worker_on_its_groups).
        catalogue = importlib.import_module("contracts.catalogue")
        subscriptions = [
            s for service in catalogue.service_names() for s in catalogue.subscriptions_of(service)
        ]
        groups = {s.group for s in subscriptions}
        topics = {topic for s in subscriptions for topic in s.topics}
    assert {acl.name for acl in acls if acl.resource == "group"} == groups, KEDA_USER
    assert {acl.name for acl in acls if acl.resource == "topic"} == topics, KEDA_USER


@pytest.mark.parametrize("combination", with_component("strimzi"))
def test_operator_user_may_read_the_dead_letter_topics_only(combination, render) -> None:
    """People read `<topic>.dlq` with the console consumer (docs/runbooks.md), in groups
    of their own; they write nothing and read no other topic."""
    objects = render(combination)
    acls = granted(named(objects, "KafkaUser", OPERATOR_USER))
    dead_letters = {
        topic["spec"].get("topicName", topic["metadata"]["name"])
        for topic in of_kind(objects, "KafkaTopic")
    }
    dead_letters = {topic for topic in dead_letters if topic.endswith(".dlq")}
    assert dead_letters
    allowed: dict[tuple[str, str, str], set[str]] = {}
    for acl in acls:
        allowed.setdefault((acl.resource, acl.name, acl.pattern), set()).add(acl.operation)
    expected = {("topic", topic, "literal"): {"Read", "Describe"} for topic in dead_letters}
    expected[("group", OPERATOR_USER, "prefix")] = {"Read", "Describe"}
    extra = {key: ops for key, ops in allowed.items() if expected.get(key) != ops}
    lacking = {key: ops for key, ops in expected.items() if allowed.get(key) != ops}
    assert not extra and not lacking, f"{OPERATOR_USER} allows {extra}, lacks {lacking}"
    # Its groups are nobody else's: joining a service's group would take its partitions.
    catalogue = importlib.import_module("contracts.catalogue")
    for service in catalogue.service_names():
        for subscription in catalogue.subscriptions_of(service):
            assert not subscription.group.startswith(OPERATOR_USER), subscription.group


# Where the network-policies component expects the pods that reach Chorus from outside its
# namespace (its comments say to adjust them to the cluster).
PROMETHEUS = (
    {"kubernetes.io/metadata.name": "monitoring"},
    {"app.kubernetes.io/name": "prometheus"},
)
INGRESS_CONTROLLER = (
    {"kubernetes.io/metadata.name": "ingress-nginx"},
    {"app.kubernetes.io/name": "ingress-nginx"},
)


def ingress_sources(
    policies: list[Obj], pod_labels: dict[str, str], port_name: str, port: int
) -> list[list[Obj]]:
    """The `from` lists of every rule admitting traffic to this pod and port."""
    sources = []
    for policy in policies:
        if not matches(policy["spec"]["podSelector"], pod_labels):
            continue
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports is None or any(p.get("port") in (port_name, port) for p in ports):
                sources.append(rule.get("from") or [])
    return sources


def admitted(
    sources: list[list[Obj]],
    pod_labels: dict[str, str],
    namespace_labels: dict[str, str] | None = None,
) -> bool:
    """Whether one of the `from` lists admits a pod: of the policies' own namespace when
    `namespace_labels` is None, else of a namespace with those labels."""
    for peers in sources:
        if not peers:
            return True  # no `from`: every source
        for peer in peers:
            if "ipBlock" in peer:
                continue
            namespace_selector = peer.get("namespaceSelector")
            if namespace_selector is None:
                if namespace_labels is not None:
                    continue  # a bare podSelector selects in the policy's namespace only
            elif namespace_selector != {} and (
                namespace_labels is None or not matches(namespace_selector, namespace_labels)
            ):
                continue
            if matches(peer.get("podSelector") or {}, pod_labels):
                return True
    return False


def serving_port(objects: list[Obj], service_name: str, port_ref: Obj) -> tuple[Obj, Obj]:
    """The Deployment behind a Service and its container port a Service port refers to
    (`port_ref`: {"name": ...} or {"number": ...}, as in an Ingress backend)."""
    service = named(objects, "Service", service_name)
    [service_port] = [
        p
        for p in service["spec"]["ports"]
        if p.get("name") == port_ref.get("name") or p["port"] == port_ref.get("number")
    ]
    [deployment] = [
        d
        for d in of_kind(objects, "Deployment")
        if matches(
            {"matchLabels": service["spec"]["selector"]},
            d["spec"]["template"]["metadata"]["labels"],
        )
    ]
    target = service_port.get("targetPort", service_port["port"])
    [container_port] = [
        p
        for c in pod_spec(deployment)["containers"]
        for p in c["ports"]
        if target in (p.get("name"), p["containerPort"])
    ]
    return deployment, container_port


@pytest.mark.parametrize("combination", with_component("network-policies"))
def test_network_policies(combination, render, runtime, backends) -> None:
    objects = render(combination)
    policies = of_kind(objects, "NetworkPolicy")
    deny_all = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
    ]
    assert deny_all, "a default deny of ingress for the whole namespace"

    def allowed(pod_labels: dict[str, str], port_name: str, port: int) -> list[list[Obj]]:
        return ingress_sources(policies, pod_labels, port_name, port)

    workloads = {d["metadata"]["name"]: d for _, _, d in chorus_workloads(objects)}
    web_pod_labels = workloads["web-api"]["spec"]["template"]["metadata"]["labels"]
    for service, role, deployment in chorus_workloads(objects):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        [container] = pod_spec(deployment)["containers"]
        port = container["ports"][0]
        sources = allowed(pod_labels, port["name"], port["containerPort"])
        where = deployment["metadata"]["name"]
        if service == "web":
            # The browser's back end is reached through the Ingress, not from anywhere.
            assert [] not in sources, f"{where}: only the Ingress controller reaches it"
        elif role == "api":
            assert [] in sources, f"{where}: its API must be reachable from any source"
        else:
            assert [] not in sources, f"{where}: a worker is not open to everyone"
        for further in container["ports"][1:]:
            if further["name"] == OPS:
                continue
            reachable = allowed(pod_labels, further["name"], further["containerPort"])
            assert [] in reachable, f"{where}: port {further['name']} must be reachable"
        # The operations port (/metrics names tenants and their volumes): Prometheus only.
        [ops] = [p for p in container["ports"] if p["name"] == OPS]
        scrape = allowed(pod_labels, OPS, ops["containerPort"])
        assert admitted(scrape, PROMETHEUS[1], PROMETHEUS[0]), (
            f"{where}: Prometheus must be able to scrape it"
        )
        others = [
            (web_pod_labels, None),
            (pod_labels, None),
            (INGRESS_CONTROLLER[1], INGRESS_CONTROLLER[0]),
            ({"app.kubernetes.io/name": "prometheus"}, {"kubernetes.io/metadata.name": "default"}),
            ({"app": "anything"}, {"kubernetes.io/metadata.name": "monitoring"}),
        ]
        for other, namespace in others:
            assert not admitted(scrape, other, namespace), f"{where}: {OPS} open to {other}"

    # The web app calls each service's api with the person's token.
    web_pod = workloads["web-api"]["spec"]["template"]["metadata"]["labels"]
    for variable, service in backends.items():
        api = workloads[f"{service}-api"]
        [container] = pod_spec(api)["containers"]
        port = container["ports"][0]
        sources = allowed(
            api["spec"]["template"]["metadata"]["labels"], port["name"], port["containerPort"]
        )
        assert admitted(sources, web_pod), f"web-api cannot reach {service}-api ({variable})"

    # The Ingress controller reaches every backend of the Ingress.
    for ingress in of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                deployment, container_port = serving_port(objects, backend["name"], backend["port"])
                sources = allowed(
                    deployment["spec"]["template"]["metadata"]["labels"],
                    container_port.get("name", ""),
                    container_port["containerPort"],
                )
                assert admitted(sources, INGRESS_CONTROLLER[1], INGRESS_CONTROLLER[0]), (
                    f"the Ingress controller cannot reach {backend['name']} for {path['path']}"
                )

    if "local-infra" in components_in(combination):
        chorus_pod = {"app.kubernetes.io/part-of": "chorus", "app.kubernetes.io/component": "api"}
        for infra, port_name in (("kafka", "kafka"), ("mongo", "mongo")):
            workload = named(objects, "StatefulSet", infra)
            pod_labels = workload["spec"]["template"]["metadata"]["labels"]
            [container] = pod_spec(workload)["containers"]
            number = next(p["containerPort"] for p in container["ports"] if p["name"] == port_name)
            sources = allowed(pod_labels, port_name, number)
            assert any(
                any(
                    "namespaceSelector" not in peer and matches(peer["podSelector"], chorus_pod)
                    for peer in peers
                    if "podSelector" in peer
                )
                for peers in sources
            ), f"Chorus pods must reach {infra} under the default deny"


def ops_container_port(deployment: Obj) -> Obj | None:
    ports = [p for c in pod_spec(deployment)["containers"] for p in c.get("ports", [])]
    return next((p for p in ports if p.get("name") == OPS), None)


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_every_process_is_scraped_one_way(combination, render) -> None:
    """Production: one PodMonitor per process, on its `ops` port, and no prometheus.io
    annotations for an annotation job to scrape again; locally the annotations alone."""
    objects = render(combination)
    components = components_in(combination)
    if combination.startswith("overlays/"):
        ways = sorted(components & {POD_MONITORS, SCRAPE_ANNOTATIONS})
        assert len(ways) == 1, f"{combination}: scraped by {ways or 'nothing'}, not one way"
    if combination == "overlays/production":
        assert POD_MONITORS in components
    if combination == "overlays/local":
        assert SCRAPE_ANNOTATIONS in components
    monitors = of_kind(objects, "PodMonitor")
    policies = of_kind(objects, "NetworkPolicy")
    scraped = [d for d in of_kind(objects, "Deployment") if ops_container_port(d)]
    assert scraped
    for deployment in scraped:
        name = deployment["metadata"]["name"]
        template = deployment["spec"]["template"]["metadata"]
        annotations = template.get("annotations") or {}
        port = ops_container_port(deployment)
        assert port
        selecting = [m for m in monitors if matches(m["spec"]["selector"], template["labels"])]
        if POD_MONITORS in components:
            assert [m["metadata"]["name"] for m in selecting] == [name], f"{combination}: {name}"
            [endpoint] = selecting[0]["spec"]["podMetricsEndpoints"]
            assert endpoint["port"] == OPS and endpoint.get("path", "/metrics") == "/metrics"
            if policies:
                sources = ingress_sources(policies, template["labels"], OPS, port["containerPort"])
                assert admitted(sources, PROMETHEUS[1], PROMETHEUS[0]), name
        else:
            assert not selecting, f"{combination}: {name}"
        if SCRAPE_ANNOTATIONS in components:
            assert annotations.get("prometheus.io/scrape") == "true", name
            assert annotations.get("prometheus.io/port") == str(port["containerPort"]), name
            assert annotations.get("prometheus.io/path") == "/metrics", name
        else:
            assert not set(ANNOTATIONS) & set(annotations), f"{combination}: {name} annotated"
    for monitor in monitors:
        selected = [
            d
            for d in of_kind(objects, "Deployment")
            if matches(monitor["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, f"PodMonitor {monitor['metadata']['name']} selects {selected}"


@pytest.mark.parametrize("combination", with_component(POD_MONITORS))
def test_pod_monitors_copy_the_pod_labels_alerts_and_dashboards_read(combination, render) -> None:
    read = {
        label
        for path in TARGET_LABEL_READERS
        for label in re.findall(r"\bapp_kubernetes_io_[a-z_]+", path.read_text())
    }
    assert "app_kubernetes_io_part_of" in read
    for monitor in of_kind(render(combination), "PodMonitor"):
        # The Operator turns a pod label into a target label as Prometheus does.
        copied = {
            re.sub(r"[^a-zA-Z0-9_]", "_", label) for label in monitor["spec"]["podTargetLabels"]
        }
        assert read <= copied, f"{monitor['metadata']['name']}: copies no {sorted(read - copied)}"


@pytest.mark.parametrize("combination", with_component("dashboards"))
def test_dashboards_reach_grafana(combination, render) -> None:
    """tests/deploy/test_dashboards.py checks the JSON; here, what the sidecar is given."""
    boards = [
        c for c in of_kind(render(combination), "ConfigMap") if "grafana_dashboard" in labels(c)
    ]
    assert boards
    for config_map in boards:
        assert labels(config_map)["grafana_dashboard"] == "1"
        [(key, text)] = config_map["data"].items()
        assert key.endswith(".json") and json.loads(text)["uid"] == key.removesuffix(".json")


@pytest.mark.parametrize("combination", with_component("otel"))
def test_otel_endpoint_on_every_process(combination, render) -> None:
    for _, _, deployment in chorus_workloads(render(combination)):
        for container in pod_spec(deployment)["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            assert endpoint and re.fullmatch(r"https?://[^/]+:\d+", endpoint), endpoint


@pytest.mark.parametrize("combination", with_component("local-infra"))
def test_local_infrastructure_images_and_kraft(combination, render) -> None:
    objects = render(combination)
    kafka = named(objects, "StatefulSet", "kafka")
    [container] = pod_spec(kafka)["containers"]
    assert container["image"].startswith("apache/kafka:4.")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(env["KAFKA_NODE_ID"] + "@")
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    for variable in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    ):
        assert env[variable] == "1"
    [mongo] = pod_spec(named(objects, "StatefulSet", "mongo"))["containers"]
    assert mongo["image"] == "mongo:8"
