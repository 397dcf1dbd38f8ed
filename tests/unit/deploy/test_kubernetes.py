"""deploy/kubernetes stays deployable (no cluster runs here, so it is rendered and checked,
not applied): ``kubectl kustomize`` renders every overlay, every object validates against
the Kubernetes API schemas (kubernetes-validate, strict), and the invariants hold that a
reviewer of a platform holding root on the fleet would ask for:

* every service of ``services/`` is a Deployment with readiness on ``/readyz`` and
  liveness on ``/healthz``, resources, the ``restricted`` security context and no
  service-account token; NATS too (its own health endpoint); the namespace enforces
  ``restricted``;
* a PodDisruptionBudget per workload; in the HA overlay two replicas of each service spread
  over nodes, a three-node NATS cluster and the streams at three replicas;
* the NATS cluster's routes (6222) use mutual TLS with a CA of their own: every node
  verifies the other's certificate, which names the pods and is both server and client,
  and only the HA overlay's NATS pods mount it;
* ingress denied by default, the console alone reachable from anywhere, each service only
  from its callers, NATS's clients only from the services and its routes only from itself;
* the Secrets ``make-secrets.sh`` writes (for either overlay) validate, each service mounts only its own, and
  holds only what it may (M6: the sealing key only in inventory, executor and netcfg; the
  SSH key only in the executor; each signing key only in its signer), and every key a pod
  names exists in its Secret.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .test_compose import ROOT, service_folders

KUBE = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBE / "overlays").iterdir() if (p / "kustomization.yaml").exists())
#: the Kubernetes version the objects are validated against (kubernetes-validate's newest)
KUBE_VERSION = kubernetes_validate.latest_version()
#: who calls whose REST API (console: the gateway; inventory and netcfg create changes; the
#: executor fetches claims from the orchestrator and the inventory, the inventory from it)
CALLERS = {"inventory": {"console", "executor"}, "orchestrator": {"console", "executor", "inventory", "netcfg"},
           "executor": {"console", "inventory"}, "netcfg": {"console"}}
#: what each service's own Secret may hold (M6)
HOLDS = {"console": {"session-secret", "nats.nk", "oidc-client-secret"},
         "inventory": {"secret-key", "nats.nk", "signing.pem", "command-signers", "claim-readers", "cmdb-token"},
         "orchestrator": {"nats.nk", "signing.pem", "claim-readers"},
         "executor": {"ssh-key", "secret-key", "nats.nk", "command-signers", "signing.pem", "claim-readers"},
         "netcfg": {"secret-key", "nats.nk", "command-signers", "vcalico-secret"}}


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is on the machine image"
    out = subprocess.run([kubectl, "kustomize", str(KUBE / "overlays" / overlay)], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request) -> tuple[str, dict[tuple[str, str], dict]]:
    return request.param, {(o["kind"], o["metadata"]["name"]): o for o in render(request.param)}


def of_kind(objects: dict, kind: str) -> dict[str, dict]:
    return {name: o for (k, name), o in objects.items() if k == kind}


def pod(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def test_both_overlays_are_there():
    assert OVERLAYS == ["ha", "single-node"]


def test_every_object_validates_against_the_kubernetes_schemas(rendered):
    _, objects = rendered
    for obj in objects.values():
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_every_service_is_a_deployment_with_probes_resources_and_the_restricted_context(rendered):
    _, objects = rendered
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == service_folders()
    workloads = {**deployments, **of_kind(objects, "StatefulSet")}
    assert "nats" in workloads
    for name, workload in workloads.items():
        spec = pod(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        [container] = spec["containers"]
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True, name
        assert ctx["capabilities"]["drop"] == ["ALL"], name
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
        ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
        if name == "nats":
            assert ready["path"].startswith("/healthz") and live["path"].startswith("/healthz")
            continue
        assert (ready["path"], live["path"]) == ("/readyz", "/healthz"), name
        assert container["args"] == ["python", "-m", f"autorke_{name}"], name
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert {e["name"]: e.get("value") for e in container["env"]}["AUTORKE_PORT"] == str(ports["http"])
    namespace = of_kind(objects, "Namespace")["autorke"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_a_disruption_budget_per_workload_and_ha_means_replicas(rendered):
    overlay, objects = rendered
    workloads = {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}
    budgets = of_kind(objects, "PodDisruptionBudget")
    for name, workload in workloads.items():
        selects = workload["spec"]["selector"]["matchLabels"].items()
        [budget] = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= selects]
        assert budget["spec"]["maxUnavailable"] == 1, name
    if overlay != "ha":
        return
    for name, workload in workloads.items():
        assert workload["spec"]["replicas"] == (3 if name == "nats" else 2), name
        [spread] = pod(workload)["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["matchLabelKeys"] == ["app.kubernetes.io/name"], "each workload spread by itself"
    assert of_kind(objects, "ConfigMap")["autorke"]["data"]["AUTORKE_NATS_STREAM_REPLICAS"] == "3"


def _peers(rule: dict) -> list[dict]:
    return rule.get("from", [])


def test_only_the_console_is_reachable_from_outside_and_each_service_from_its_callers(rendered):
    _, objects = rendered
    policies = of_kind(objects, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    labels = {name: w["spec"]["template"]["metadata"]["labels"]
              for name, w in {**of_kind(objects, "Deployment"), **of_kind(objects, "StatefulSet")}.items()}

    def admitted(target: str) -> list[dict]:
        """The ingress rules of every policy that selects ``target``'s pods."""
        return [rule for p in policies.values()
                if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels[target].items()
                and p["spec"]["podSelector"] != {} for rule in p["spec"].get("ingress", [])]

    def sources(rule: dict) -> set[str]:
        """The workloads a rule admits (every one, for a rule without ``from``)."""
        if not _peers(rule):
            return {"anywhere"}
        out = set()
        for peer in _peers(rule):
            assert set(peer) == {"podSelector"}, f"no namespace or IP block admitted: {peer}"
            selector = peer["podSelector"]
            for name, have in labels.items():
                wanted = selector.get("matchLabels", {})
                expressions = selector.get("matchExpressions", [])
                if wanted.items() <= have.items() and all(
                        have.get(e["key"]) in e["values"] for e in expressions if e["operator"] == "In"):
                    out.add(name)
        return out

    assert [sources(r) for r in admitted("console")] == [{"anywhere"}]
    for service, callers in CALLERS.items():
        assert set().union(*(sources(r) for r in admitted(service))) == callers, service
    nats = {frozenset(p["port"] for p in r["ports"]): sources(r) for r in admitted("nats")}
    assert nats == {frozenset({"client"}): service_folders(), frozenset({"cluster"}): {"nats"}}


def make_secrets(out: Path, **env: str) -> dict[str, dict[str, str]]:
    """make-secrets.sh run as an operator would: Secret name -> key -> decoded value."""
    key = out / "fleet-key"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    env = {**os.environ, "AUTORKE_DATABASE_URL": "postgresql+psycopg://autorke:pw@autorke-db-rw:5432/autorke",
           "AUTORKE_VCALICO_SECRET": "shared webhook secret",
           "AUTORKE_CLI": str(Path(sys.executable).parent / "autorke"), "PYTHON": sys.executable,
           "AUTORKE_NATS_NODES": "1", **env}
    subprocess.run(["bash", str(KUBE / "make-secrets.sh"), str(out / "made"), str(key)], check=True, env=env,
                   capture_output=True, text=True, timeout=120)
    made = [d for d in yaml.safe_load_all((out / "made" / "secrets.yaml").read_text()) if d]
    for obj in made:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    assert (out / "made").stat().st_mode & 0o077 == 0, "the folder of secrets is the operator's alone"
    return {o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in o["data"].items()} for o in made}


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The Secrets for overlays/single-node."""
    return make_secrets(tmp_path_factory.mktemp("k8s-secrets"))


@pytest.fixture(scope="module")
def ha_secrets(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The Secrets for overlays/ha (README: ``AUTORKE_NATS_NODES=3``)."""
    return make_secrets(tmp_path_factory.mktemp("k8s-ha-secrets"), AUTORKE_NATS_NODES="3")


def test_each_service_holds_only_its_own_secret_and_only_what_it_may(ha_secrets):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render("ha")}
    for name, deployment in of_kind(objects, "Deployment").items():
        spec = pod(deployment)
        own = f"autorke-{name}"
        mounted = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        assert mounted == {own, "autorke-nats-ca"}, name
        env = spec["containers"][0]["env"]
        referenced = {e["valueFrom"]["secretKeyRef"]["name"] for e in env if "valueFrom" in e}
        assert referenced <= {own, "autorke-database"}, name
        assert set(ha_secrets[own]) <= HOLDS[name], f"{name} holds {set(ha_secrets[own]) - HOLDS[name]}"
        for e in env:  # every key a pod names is there (or optional)
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in ha_secrets[ref["name"]], (name, ref)
        [volume] = [v for v in spec["volumes"] if v["name"] == "own-secrets"]
        assert {i["key"] for i in volume["secret"]["items"]} <= set(ha_secrets[own]), name
    holders = {name for name, held in ha_secrets.items() if "secret-key" in held}
    assert holders == {"autorke-inventory", "autorke-executor", "autorke-netcfg"}
    assert {name for name, held in ha_secrets.items() if "ssh-key" in held} == {"autorke-executor"}
    assert ha_secrets["autorke-inventory"]["signing.pem"] != ha_secrets["autorke-orchestrator"]["signing.pem"]
    assert ha_secrets["autorke-netcfg"]["vcalico-secret"] == "shared webhook secret"
    assert ha_secrets["autorke-database"]["url"].startswith("postgresql+psycopg://")
    nats = of_kind(objects, "StatefulSet")["nats"]
    assert {v["secret"]["secretName"] for v in pod(nats)["volumes"] if "secret" in v} == {
        "autorke-nats-server", "autorke-nats-routes"}
    conf = yaml.safe_load(ha_secrets["autorke-nats-server"]["nats-server.conf"])  # JSON
    assert conf["tls"]["cert_file"] == "/etc/nats/server.crt" and conf["jetstream"]["store_dir"] == "/data"
    assert {"server.crt", "server.key"} <= set(ha_secrets["autorke-nats-server"])


def test_the_ha_nats_routes_use_mutual_tls_with_a_ca_of_their_own(ha_secrets):
    nats = of_kind({(o["kind"], o["metadata"]["name"]): o for o in render("ha")}, "StatefulSet")["nats"]
    [container] = pod(nats)["containers"]
    conf = yaml.safe_load(ha_secrets["autorke-nats-server"]["nats-server.conf"])  # JSON
    cluster = conf["cluster"]
    assert cluster["listen"] == "0.0.0.0:6222"
    assert cluster["routes"] == [f"nats-route://nats-{i}.nats-cluster:6222" for i in range(3)]
    tls = cluster["tls"]
    assert tls["verify"] is True, "each end of a route proves itself with a certificate of the routes' CA"
    # the files it names are the route Secret's, mounted read-only (0440) where it names them
    [volume] = [v for v in pod(nats)["volumes"] if v.get("secret", {}).get("secretName") == "autorke-nats-routes"]
    assert volume["secret"]["defaultMode"] == 0o440
    [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    routes = ha_secrets["autorke-nats-routes"]
    for field in ("cert_file", "key_file", "ca_file"):
        folder, _, file = tls[field].rpartition("/")
        assert folder == mount["mountPath"] and file in routes, field
    # one file for the three nodes: each takes its name from its pod and advertises it
    args = container["args"]
    assert "server_name" not in conf and args[args.index("--name") + 1] == "$(POD_NAME)"
    assert args[args.index("--cluster_advertise") + 1] == "$(POD_NAME).nats-cluster:6222"

    cert = x509.load_pem_x509_certificate(routes[tls["cert_file"].rpartition("/")[2]].encode())
    ca = x509.load_pem_x509_certificate(routes[tls["ca_file"].rpartition("/")[2]].encode())
    cert.verify_directly_issued_by(ca)
    assert routes["ca.crt"] != ha_secrets["autorke-nats-ca"]["ca.crt"], "not the clients' CA"
    names = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                .get_values_for_type(x509.DNSName))
    for i in range(3):
        assert {f"nats-{i}.nats-cluster", f"nats-{i}.nats-cluster.autorke",
                f"nats-{i}.nats-cluster.autorke.svc"} <= names
    usage = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= usage


def test_a_single_nats_node_has_no_routes(secrets):
    nats = of_kind({(o["kind"], o["metadata"]["name"]): o for o in render("single-node")}, "StatefulSet")["nats"]
    assert {v["secret"]["secretName"] for v in pod(nats)["volumes"] if "secret" in v} == {"autorke-nats-server"}
    assert "cluster" not in yaml.safe_load(secrets["autorke-nats-server"]["nats-server.conf"])
    assert "autorke-nats-routes" not in secrets


def test_the_postgresql_example_is_reachable_only_from_the_services():
    docs = [d for d in yaml.safe_load_all((KUBE / "examples" / "cnpg-cluster.yaml").read_text()) if d]
    cluster = next(d for d in docs if d["kind"] == "Cluster")
    assert cluster["spec"]["instances"] >= 2, "a primary and a standby"
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")
    kubernetes_validate.validate(policy, KUBE_VERSION, strict=True)
    peers = policy["spec"]["ingress"][0]["from"]
    assert {"autorke.dev/bus-client": "true"} in [p.get("podSelector", {}).get("matchLabels") for p in peers]
