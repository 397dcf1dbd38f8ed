"""What an operator may set in a cluster's ``options`` (H1): an allow-list of cluster.yml
keys, merged by :func:`~autorke_inventory.domain.clusterconfig.render` into every
cluster.yml the inventory renders. Anything else is refused (422
``invalid-cluster-options``, with the field at fault), before anything is stored.

Never an option, because the inventory owns it or because it moves where ``rke`` connects,
with which key, or what runs with cluster-admin:

* ``nodes``, ``cluster_name``, ``bastion_host`` (the members, the name and the jump host
  come from the inventory and the registration; rke dials whatever ``nodes`` says),
* ``ssh_*`` (``ssh_key_path``, ``ssh_key``, ``ssh_cert_path``, ``ssh_agent_auth``...: the SSH
  identity is the executor's, never the cluster's),
* ``addons``, ``addons_include`` (manifests applied with cluster-admin), ``system_images``
  (images run as root on every node), ``prefix_path``, ``cloud_provider``, ``restore``,
  ``rotate_encryption_key``, ``authorization`` (RBAC stays on),
* the service CIDRs (``services.kube-api.service_cluster_ip_range``,
  ``services.kube-controller.cluster_cidr``: the registration's ``pod_cidr`` and
  ``service_cidr``, which netcfg's pool rules read too).

Secrets are refused, not sealed (M5): registry passwords, S3 backup credentials, secret
``extra_env`` values. Options are part of the cluster's registration, shown to every viewer
and copied into every cluster.yml version; a credential has no place there. A registry
that needs credentials, or S3 backups, are configured where rke runs.

Flags of kube-api and kubelet that switch authentication or authorization off are refused
too (``authorization-mode``, ``anonymous-auth``, ...): the approver of a ``config.update``
sees the diff, but no approval should be able to open the API to anyone.

``x_*`` keys are not RKE fields (rke ignores unknown top-level keys) and are refused like any
other unknown key."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from autorke_common.errors import Invalid

#: Why a named key is refused (the message the caller reads); other unknown keys are
#: refused as not on the allow-list.
FORBIDDEN: dict[str, str] = {
    "nodes": "the members come from the inventory, never from options",
    "cluster_name": "the cluster's name is its registration's",
    "bastion_host": "the bastion is part of the registration (bastion), not of options",
    "addons": "addons are applied with cluster-admin and are not an option",
    "addons_include": "addons are applied with cluster-admin and are not an option",
    "system_images": "system images run as root on every node; they follow kubernetes_version",
    "prefix_path": "paths on the nodes are not an option",
    "cloud_provider": "a cloud provider holds credentials and is not an option",
    "restore": "a restore is an etcd.restore change",
    "rotate_encryption_key": "key rotation is not an option",
    "authorization": "RBAC stays on",
    "private_registries": "give private registries as a list of {url, is_default}; credentials are refused",
}
SECRET_NAME = re.compile(r"(?i).*(pass(word|wd)?|secret|token|credential|private|api_?key|access_?key).*")
#: Flags that would turn the API's or the kubelet's authentication or authorization off.
SECURITY_FLAGS = frozenset({
    "authorization-mode", "anonymous-auth", "insecure-port", "insecure-bind-address",
    "token-auth-file", "basic-auth-file", "authentication-token-webhook", "read-only-port",
    "disable-admission-plugins", "client-ca-file", "tls-cert-file",
    "tls-private-key-file", "service-account-key-file", "service-account-signing-key-file",
    "encryption-provider-config",
})
_FLAG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}=[^\n]{0,1024}")
_BIND = re.compile(r"/[^\s:]{0,254}:/[^\s:]{0,254}(:(ro|rw|z|Z|rshared|rslave|shared|slave)(,[a-zA-Z]+)*)?")
_K8S_VERSION = re.compile(r"v1\.[0-9]{1,2}\.[0-9]{1,3}(-rancher[0-9]{1,3}-[0-9]{1,3})?")
_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_./]{0,251}[A-Za-z0-9])?")


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_option", message)


def _flag(value: str) -> str:
    if not _FLAG.fullmatch(value):
        raise _refuse(f"{value!r} is not a flag name (lowercase letters, digits, '-')")
    if value in SECURITY_FLAGS:
        raise _refuse(f"{value!r} decides who may use the API or the kubelet and is not an option")
    return value


def _value(value: str) -> str:
    if len(value) > 1024 or "\n" in value:
        raise _refuse("a flag value is one line of at most 1024 characters")
    return value


def _env(value: str) -> str:
    if not _ENV.fullmatch(value):
        raise _refuse(f"{value[:40]!r} is not NAME=value (one line)")
    if SECRET_NAME.fullmatch(value.split("=", 1)[0]):
        raise _refuse(f"{value.split('=', 1)[0]!r} looks like a secret; secrets are not options")
    return value


def _bind(value: str) -> str:
    if not _BIND.fullmatch(value):
        raise _refuse(f"{value[:60]!r} is not /host/path:/container/path[:options]")
    return value


def _version(value: str) -> str:
    if not _K8S_VERSION.fullmatch(value):
        raise _refuse(f"{value!r} is not an RKE Kubernetes version (v1.28.15-rancher1-1)")
    return value


def _label(value: str) -> str:
    if not _LABEL.fullmatch(value):
        raise _refuse(f"{value!r} is not a label key or value")
    return value


Flag = Annotated[str, AfterValidator(_flag)]
FlagValue = Annotated[str, AfterValidator(_value)]
Env = Annotated[str, AfterValidator(_env)]
Bind = Annotated[str, AfterValidator(_bind)]
Label = Annotated[str, AfterValidator(_label)]
ExtraArgs = Annotated[dict[Flag, FlagValue], Field(max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Service(Strict):
    extra_args: ExtraArgs | None = None
    extra_binds: list[Bind] | None = Field(default=None, max_length=32)
    extra_env: list[Env] | None = Field(default=None, max_length=32)
    image: None = None  # refused by its type: a service's image follows kubernetes_version


class KubeApi(Service):
    service_node_port_range: Annotated[str, Field(pattern=r"^[0-9]{1,5}-[0-9]{1,5}$")] | None = None
    always_pull_images: bool | None = None
    pod_security_policy: bool | None = None


class Kubelet(Service):
    cluster_domain: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")] | None = None
    cluster_dns_server: Annotated[str, Field(pattern=r"^([0-9.]{7,15}|[0-9a-fA-F:]{2,39})$")] | None = None
    fail_swap_on: bool | None = None
    generate_serving_certificate: bool | None = None


class BackupConfig(Strict):
    enabled: bool | None = None
    interval_hours: int | None = Field(default=None, ge=1, le=168)
    retention: int | None = Field(default=None, ge=1, le=100)
    # s3backupconfig holds an access and a secret key: refused (M5)


class Etcd(Service):
    snapshot: bool | None = None
    retention: Annotated[str, Field(pattern=r"^[0-9]{1,4}[hm]$")] | None = None
    creation: Annotated[str, Field(pattern=r"^[0-9]{1,4}[hm]$")] | None = None
    backup_config: BackupConfig | None = None


class Services(Strict):
    kube_api: KubeApi | None = Field(default=None, alias="kube-api")
    kube_controller: Service | None = Field(default=None, alias="kube-controller")
    scheduler: Service | None = None
    kubelet: Kubelet | None = None
    kubeproxy: Service | None = None
    etcd: Etcd | None = None


class CalicoNetwork(Strict):
    cloud_provider: Literal["none"] | None = None


class Network(Strict):
    plugin: Literal["calico", "canal", "flannel", "weave", "aci", "none"] | None = None
    options: Annotated[dict[Label, FlagValue], Field(max_length=32)] | None = None
    mtu: int | None = Field(default=None, ge=0, le=9000)
    calico_network_provider: CalicoNetwork | None = None


class Ingress(Strict):
    provider: Literal["nginx", "none"] | None = None
    options: Annotated[dict[Label, FlagValue], Field(max_length=32)] | None = None
    node_selector: Annotated[dict[Label, Label], Field(max_length=16)] | None = None
    extra_args: ExtraArgs | None = None
    default_backend: bool | None = None
    network_mode: Literal["hostNetwork", "hostPort", "none"] | None = None


class Dns(Strict):
    provider: Literal["coredns", "kube-dns", "none"] | None = None
    upstreamnameservers: list[Annotated[str, Field(pattern=r"^([0-9.]{7,15}|[0-9a-fA-F:]{2,39})$")]] | None = Field(
        default=None, max_length=8)
    node_selector: Annotated[dict[Label, Label], Field(max_length=16)] | None = None


class Monitoring(Strict):
    provider: Literal["metrics-server", "none"] | None = None
    node_selector: Annotated[dict[Label, Label], Field(max_length=16)] | None = None


class Authentication(Strict):
    strategy: Literal["x509"] | None = None
    sans: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9*]([-A-Za-z0-9.:*]{0,251}[A-Za-z0-9])?$")]] | None = Field(
        default=None, max_length=32)


class Registry(Strict):
    url: Annotated[str, Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9.:/]{0,252}[A-Za-z0-9])?$")]
    is_default: bool | None = None
    # user and password are refused (M5): a credential is not an option


class UpgradeStrategy(Strict):
    max_unavailable_worker: Annotated[str, Field(pattern=r"^[0-9]{1,4}%?$")] | None = None
    max_unavailable_controlplane: Annotated[str, Field(pattern=r"^[0-9]{1,4}%?$")] | None = None
    drain: bool | None = None


class ClusterOptions(Strict):
    kubernetes_version: Annotated[str, AfterValidator(_version)] | None = None
    network_plugin: Literal["calico", "canal", "flannel", "weave", "aci", "none"] | None = None  # = network.plugin
    network: Network | None = None
    services: Services | None = None
    ingress: Ingress | None = None
    dns: Dns | None = None
    monitoring: Monitoring | None = None
    authentication: Authentication | None = None
    private_registries: list[Registry] | None = Field(default=None, max_length=8)
    upgrade_strategy: UpgradeStrategy | None = None
    ignore_docker_version: bool | None = None
    enable_cri_dockerd: bool | None = None


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(["options", *(str(p) for p in loc if p != "[key]")])


def _message(error: dict[str, Any]) -> str:
    loc = [p for p in error["loc"] if isinstance(p, str) and p != "[key]"]
    if error["type"] == "extra_forbidden":
        top = str(error["loc"][0])
        if len(loc) == 1 and top in FORBIDDEN:
            return f"{top} is not an option: {FORBIDDEN[top]}"
        if loc and loc[-1].startswith("ssh_"):
            return f"{loc[-1]} is not an option: the SSH identity is the executor's, never the cluster's"
        if loc and loc[-1] in ("service_cluster_ip_range", "cluster_cidr"):
            return f"{loc[-1]} is not an option: it is the registration's pod_cidr / service_cidr"
        if loc and (SECRET_NAME.fullmatch(loc[-1]) or loc[-1] in ("user", "s3backupconfig")):
            return f"{loc[-1]} is not an option: secrets are never options (they would be shown and copied " \
                   "into every cluster.yml)"
        return f"{loc[-1] if loc else top} is not an option the platform allows"
    if error["type"] == "none_required":
        return f"{loc[-1] if loc else 'this key'} is not an option the platform allows"
    return error["msg"]


def checked(options: Any) -> dict[str, Any]:
    """The options as they are stored (absent keys left out), or ``invalid-cluster-options``
    naming every offending field (``field`` is the first, ``errors`` lists them all)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise Invalid("invalid-cluster-options", "options must be a mapping", field="options")
    try:
        model = ClusterOptions.model_validate(options)
    except ValidationError as exc:
        errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in exc.errors()]
        raise Invalid("invalid-cluster-options", "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                      field=errors[0]["field"], errors=errors) from None
    return model.model_dump(by_alias=True, exclude_none=True)
