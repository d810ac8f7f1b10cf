"""Cross-file checks that no single tool makes: selectors that match, references that resolve, memory limits that
agree with the alert rules, and the pod settings docs/operations.md promises. Prints one line per problem and
exits 1 if there is any. Usage: python3 deploy/tools/consistency.py (from the repository top level)."""
import json
import re
import sys
from pathlib import Path

import yaml

root = Path(__file__).resolve().parents[2]
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def quantity_bytes(text):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9,
             "g": 2**30, "m": 2**20}  # compose's g/m are binary, like Docker's
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", str(text))
    return int(match.group(1)) * units.get(match.group(2), 1)


# Kubernetes objects, with the Secret template standing in for the real Secret.
k8s_dir = root / "deploy" / "k8s"
kustomization = yaml.safe_load((k8s_dir / "kustomization.yaml").read_text())
objects = []
for name in kustomization["resources"] + ["secret.example.yaml"]:
    objects += [doc for doc in yaml.safe_load_all((k8s_dir / name).read_text()) if doc]
by_kind = {}
for obj in objects:
    by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
deployments = by_kind.get("Deployment", {})


def selected(selector):
    return [name for name, d in deployments.items()
            if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]


for name, service in by_kind.get("Service", {}).items():
    check(len(selected(service["spec"]["selector"])) == 1, f"Service {name} does not select exactly one Deployment")
for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
    check(len(selected(pdb["spec"]["selector"]["matchLabels"])) == 1, f"PodDisruptionBudget {name} does not select exactly one Deployment")
for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
    target = hpa["spec"]["scaleTargetRef"]
    check(target["kind"] == "Deployment" and target["name"] in deployments, f"HPA {name} targets a missing {target['kind']} {target['name']}")

expected_hpa = {"formanova-api": (3, 20), "formanova-worker": (5, 50)}
for name, (low, high) in expected_hpa.items():
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
    check(hpa is not None and (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (low, high),
          f"HPA {name} should scale between {low} and {high} (the seed's scaling strategy)")

# Memory limits restated by the recording rule formanova:memory_limit_bytes.
alerts = yaml.safe_load((root / "deploy" / "prometheus" / "alerts.yml").read_text())
rule_limits = {}
for group in alerts["groups"]:
    for rule in group["rules"]:
        if rule.get("record") == "formanova:memory_limit_bytes":
            rule_limits[rule["labels"]["role"]] = int(re.search(r"vector\((\d+)\)", rule["expr"]).group(1))

for name, deployment in deployments.items():
    spec = deployment["spec"]["template"]["spec"]
    role = deployment["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true", f"{name}: pods are not annotated for Prometheus scraping")
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: runAsNonRoot is not set")
    check("replicas" not in deployment["spec"], f"{name}: replicas is set, which fights the HPA on every apply")
    for container in spec["containers"]:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        check(env.get("Formanova__Roles") == role, f"{name}: Formanova__Roles should be {role}")
        check(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready", f"{name}: readiness probe is not /health/ready")
        check(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health/live", f"{name}: liveness probe is not /health/live")
        limits = container.get("resources", {}).get("limits", {})
        check("memory" in limits and "cpu" in container.get("resources", {}).get("requests", {}), f"{name}: resources are incomplete")
        if "memory" in limits:
            check(quantity_bytes(limits["memory"]) == rule_limits.get(role),
                  f"{name}: memory limit {limits['memory']} differs from formanova:memory_limit_bytes{{role=\"{role}\"}} in alerts.yml")
        check(container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation is not false")
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                check(source["configMapRef"]["name"] in by_kind.get("ConfigMap", {}), f"{name}: ConfigMap {source['configMapRef']['name']} is missing")
            if "secretRef" in source:
                check(source["secretRef"]["name"] in by_kind.get("Secret", {}), f"{name}: Secret {source['secretRef']['name']} has no template")

# Every alert has a unit test in which it fires (promtool only runs the tests there are).
rule_tests = yaml.safe_load((root / "deploy" / "prometheus" / "alerts.test.yml").read_text())
fired = {case["alertname"] for test in rule_tests["tests"] for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
for group in alerts["groups"]:
    for rule in group["rules"]:
        if "alert" in rule:
            check(rule["alert"] in fired, f"alert {rule['alert']} has no test in alerts.test.yml in which it fires")

# docker-compose: the same limits, and every file it mounts from the repository exists.
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
for service, role in (("formanova-api", "api"), ("formanova-worker", "worker")):
    definition = compose["services"][service]
    check(definition["environment"].get("Formanova__Roles") == role, f"compose {service}: Formanova__Roles should be {role}")
    check(quantity_bytes(definition.get("mem_limit", "0")) == rule_limits.get(role),
          f"compose {service}: mem_limit differs from formanova:memory_limit_bytes{{role=\"{role}\"}} in alerts.yml")
for service, definition in compose["services"].items():
    for volume in definition.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./"):
            check((root / source).exists(), f"compose {service}: mounts missing {source}")

# The worker's drain ends before the container is killed: on SIGTERM the host waits up to
# Temporal:GracefulShutdownSeconds for running activities, plus TemporalOptions.ShutdownMarginSeconds for the
# cancelled ones to be handed back and the host to stop; the kubelet (or compose) must wait longer than that.
def duration_seconds(text):
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", str(text))
    check(parts and "".join(n + u for n, u in parts) == str(text), f"compose: cannot read the duration {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


appsettings = json.loads((root / "appsettings.json").read_text())
margin = int(re.search(r"ShutdownMarginSeconds = (\d+);",
                       (root / "Formanova.Host" / "Temporal" / "TemporalOptions.cs").read_text()).group(1))
configmap = by_kind.get("ConfigMap", {}).get("formanova-config", {}).get("data", {})
default_grace = int(configmap.get("Temporal__GracefulShutdownSeconds", appsettings["Temporal"]["GracefulShutdownSeconds"]))
worker = deployments.get("formanova-worker")
check(worker is not None, "no formanova-worker Deployment")
if worker is not None:
    pod = worker["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
    grace = int(env.get("Temporal__GracefulShutdownSeconds") or default_grace)
    period = pod.get("terminationGracePeriodSeconds", 30)
    check(period > grace + margin,
          f"formanova-worker: terminationGracePeriodSeconds {period} does not outlast the drain "
          f"(Temporal:GracefulShutdownSeconds {grace} + {margin} s)")
compose_worker = compose["services"]["formanova-worker"]
grace = int(compose_worker["environment"].get("Temporal__GracefulShutdownSeconds") or appsettings["Temporal"]["GracefulShutdownSeconds"])
stop = duration_seconds(compose_worker.get("stop_grace_period", "10s"))
check(stop > grace + margin,
      f"compose formanova-worker: stop_grace_period {stop:g} s does not outlast the drain "
      f"(Temporal:GracefulShutdownSeconds {grace} + {margin} s)")

# Prometheus scrapes exactly the compose services it names.
prometheus = yaml.safe_load((root / "deploy" / "prometheus" / "prometheus.yml").read_text())
for job in prometheus["scrape_configs"]:
    for static in job.get("static_configs", []):
        for target in static["targets"]:
            host = target.split(":")[0]
            check(host == "localhost" or host in compose["services"], f"prometheus job {job['job_name']}: {host} is not a compose service")

# The dashboard reads the provisioned data source and every panel has a query.
dashboard = json.loads((root / "deploy" / "grafana" / "dashboards" / "formanova.json").read_text())
datasources = yaml.safe_load((root / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text())
check(any(d["uid"] == "prometheus" and d["type"] == "prometheus" for d in datasources["datasources"]), "no provisioned Prometheus data source with uid prometheus")
for panel in dashboard["panels"]:
    if panel["type"] != "row":
        check(panel.get("targets"), f"dashboard panel {panel['title']!r} has no query")

# Image pins: a rebuild or a restart gets the same bytes until a pin is moved on purpose (deploy/tools/pin-images.sh).
# An exact version tag names the release; the digest makes it immutable. Two images keep only the exact tag until a
# machine that can reach their registry resolves the digest: say so here, not by loosening the rule.
PINNED = re.compile(r"^[^:@\s]+:v?\d+(?:\.\d+)+[^@\s]*@sha256:[0-9a-f]{64}$")
EXACT_TAG_ONLY = {
    "otel/opentelemetry-collector-contrib:0.114.0": "digest not yet resolved (no registry access where it was pinned)",
    "jaegertracing/all-in-one:1.63.0": "digest not yet resolved (no registry access where it was pinned)",
}
dockerfile_images = re.findall(r"^FROM\s+(\S+)", (root / "Dockerfile").read_text(), re.MULTILINE)
check(dockerfile_images, "Dockerfile: no FROM found")
for image in dockerfile_images:
    check(PINNED.match(image), f"Dockerfile: base image {image} is not pinned by exact version and digest")
for service, definition in compose["services"].items():
    image = definition.get("image", "")
    if image.startswith("formanova:"):
        continue
    check(PINNED.match(image) or image in EXACT_TAG_ONLY, f"compose {service}: image {image} is not pinned by exact version and digest")
tag = next((i.get("newTag") for i in kustomization.get("images", []) if i["name"] == "formanova"), None)
check(tag and tag != "latest", f"kustomization: the formanova image tag is {tag!r}; use an immutable version")

# Compose: every long-running service has a healthcheck (the formanova image brings its own HEALTHCHECK), except those
# whose images have no shell or HTTP client to run one; and everything that takes a secret waits for the preflight.
NO_PROBE = {"otel-collector", "redis-exporter", "preflight"}
image_healthcheck = "HEALTHCHECK" in (root / "Dockerfile").read_text()
for service, definition in compose["services"].items():
    own = definition.get("image", "").startswith("formanova:") and image_healthcheck
    check("healthcheck" in definition or own or service in NO_PROBE, f"compose {service}: no healthcheck")


def waits_for(service, target, seen=()):
    depends = compose["services"][service].get("depends_on", {})
    return target in depends or any(waits_for(d, target, seen + (service,)) for d in depends if d not in seen)


secrets = ("POSTGRES_PASSWORD", "TEMPORAL_DB_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "FORMANOVA_BOOTSTRAP_KEY")
for service, definition in compose["services"].items():
    text = yaml.safe_dump(definition.get("environment", {}))
    if service != "preflight" and any("${" + name in text for name in secrets):
        check(waits_for(service, "preflight"), f"compose {service}: takes a secret but does not wait for the preflight")
preflight = (root / "deploy" / "compose" / "preflight.sh").read_text()
check(all(re.search(rf"^check {name}\b", preflight, re.MULTILINE) for name in secrets),
      "deploy/compose/preflight.sh does not check every secret the compose file uses")

# NetworkPolicy: the ports the settings name are allowed out, and every policy selects Formanova pods.
config = by_kind["ConfigMap"]["formanova-config"]["data"]
secret = by_kind["Secret"]["formanova-secrets"]["stringData"]
needed = {
    "Temporal__Address": int(config["Temporal__Address"].rsplit(":", 1)[1]),
    "OTEL_EXPORTER_OTLP_ENDPOINT": int(config["OTEL_EXPORTER_OTLP_ENDPOINT"].rsplit(":", 1)[1]),
    "Database__ConnectionString": int(re.search(r"Port=(\d+)", secret["Database__ConnectionString"]).group(1)),
    "Cache__Redis": int(re.search(r":(\d+)", secret["Cache__Redis"]).group(1)),
}
policies = by_kind.get("NetworkPolicy", {})
check(any(p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") and not p["spec"].get("egress")
          for p in policies.values()), "no default-deny NetworkPolicy")
allowed_out = {port["port"] for p in policies.values() for rule in p["spec"].get("egress", []) for port in rule.get("ports", [])}
for setting, port in needed.items():
    check(port in allowed_out, f"NetworkPolicy: no egress rule allows port {port} ({setting})")
for name, policy in policies.items():
    labels = policy["spec"]["podSelector"].get("matchLabels", {})
    check(not labels or selected(labels), f"NetworkPolicy {name} selects no Deployment")

for problem in problems:
    print(f"FAIL {problem}")
print(f"consistency: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
