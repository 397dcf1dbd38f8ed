#!/usr/bin/env bash
# make-secrets.sh DIR SSH_KEY: every Secret the manifests name, as one file to apply
# (`kubectl apply -n autorke -f DIR/secrets.yaml`), each service's Secret holding only what
# that service may (M6: the sealing key only for inventory, executor and netcfg; the fleet's
# SSH key only for the executor; each signing key only for its signer; each NATS seed only
# for its user). What it makes is kept in DIR (mode 0700) and reused when run again:
#   DIR/nats/        `autorke nats-config`: the bus users' seeds, the server configuration
#                    and (unless DIR/nats/tls/server.crt is yours already) a CA and a
#                    certificate for the host name `nats`; DIR/nats/creds/dashboards.nk is
#                    the read-only user for ops dashboards; with AUTORKE_NATS_NODES=3
#                    (overlays/ha) also the cluster's routes to nats-N.nats-cluster:6222 over
#                    mutual TLS, with a CA of their own and a certificate for the pods' names
#                    (DIR/nats/routes/, Secret autorke-nats-routes)
#   DIR/keys/        the orchestrator's and the inventory's command signing keys
#   DIR/secret-key   the sealing key (32 random bytes, base64)
#   DIR/session-secret  the console's own session secret
# The database URL comes from AUTORKE_DATABASE_URL; AUTORKE_OIDC_CLIENT_SECRET,
# AUTORKE_CMDB_TOKEN and AUTORKE_VCALICO_SECRET go in when set. Needs `autorke` (or
# AUTORKE_CLI), the Python that has autorke_common (PYTHON) and kubectl (client only).
set -euo pipefail
dir=${1:?usage: make-secrets.sh DIR SSH_KEY}
ssh_key=${2:?usage: make-secrets.sh DIR SSH_KEY (the fleet private key the executor dials with)}
: "${AUTORKE_DATABASE_URL:?set AUTORKE_DATABASE_URL, e.g. postgresql+psycopg://autorke:PASSWORD@autorke-db-rw:5432/autorke}"
autorke=${AUTORKE_CLI:-autorke}
python=${PYTHON:-python3}
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"
nodes=${AUTORKE_NATS_NODES:-1}
[[ $nodes =~ ^[1-9][0-9]*$ ]] ||
  { echo "AUTORKE_NATS_NODES is the count of NATS pods (3 for overlays/ha)" >&2; exit 2; }

# a cluster's routes: every pod by its name under the headless Service nats-cluster (the
# route certificate also names it as seen from other namespaces); the Secret
# autorke-nats-routes is mounted at /etc/nats-routes
cluster=()
if ((nodes > 1)); then
  hosts=() names=()
  for ((i = 0; i < nodes; i++)); do
    hosts+=("nats-$i.nats-cluster")
    names+=("nats-$i.nats-cluster.autorke" "nats-$i.nats-cluster.autorke.svc"
            "nats-$i.nats-cluster.autorke.svc.cluster.local")
  done
  cluster=(--cluster-routes "$(IFS=,; echo "${hosts[*]}")" --route-names "$(IFS=,; echo "${names[*]}")"
           --route-tls-dir /etc/nats-routes)
fi
"$autorke" nats-config --out "$dir/nats" --self-signed-tls nats \
  --tls-cert /etc/nats/server.crt --tls-key /etc/nats/server.key ${cluster[@]+"${cluster[@]}"} >&2
signers=$("$python" -m autorke_common.signing "$dir/keys")
[ -s "$dir/secret-key" ] || "$python" -m autorke_common.secrets > "$dir/secret-key"
[ -s "$dir/session-secret" ] || "$python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$dir/session-secret"

signers_of() { sed -n "s/^AUTORKE_$1_COMMAND_SIGNERS=//p" <<<"$signers"; }
readers_of() { sed -n "s/^AUTORKE_$1_CLAIM_READERS=//p" <<<"$signers"; }
# a value from the environment, as a file of DIR (never on a command line, which /proc shows)
keep() { printf '%s' "$2" > "$dir/$1"; echo "$dir/$1"; }
secret() {
  local name=$1; shift
  kubectl create secret generic "$name" --dry-run=client -o yaml "$@"
  echo "---"
}
seed() { echo "--from-file=nats.nk=$dir/nats/creds/$1.nk"; }
console_extra=() inventory_extra=() netcfg_extra=()
[ -z "${AUTORKE_OIDC_CLIENT_SECRET:-}" ] ||
  console_extra+=("--from-file=oidc-client-secret=$(keep oidc-client-secret "$AUTORKE_OIDC_CLIENT_SECRET")")
[ -z "${AUTORKE_CMDB_TOKEN:-}" ] ||
  inventory_extra+=("--from-file=cmdb-token=$(keep cmdb-token "$AUTORKE_CMDB_TOKEN")")
[ -z "${AUTORKE_VCALICO_SECRET:-}" ] ||
  netcfg_extra+=("--from-file=vcalico-secret=$(keep vcalico-secret "$AUTORKE_VCALICO_SECRET")")

{
  secret autorke-database --from-file=url="$(keep database-url "$AUTORKE_DATABASE_URL")"
  secret autorke-nats-ca --from-file=ca.crt="$dir/nats/tls/ca.crt"
  secret autorke-nats-server --from-file=nats-server.conf="$dir/nats/nats-server.conf" \
    --from-file=server.crt="$dir/nats/tls/server.crt" --from-file=server.key="$dir/nats/tls/server.key"
  ((nodes == 1)) || secret autorke-nats-routes --from-file=ca.crt="$dir/nats/routes/tls/ca.crt" \
    --from-file=server.crt="$dir/nats/routes/tls/server.crt" --from-file=server.key="$dir/nats/routes/tls/server.key"
  secret autorke-console --from-file=session-secret="$dir/session-secret" "$(seed console)" \
    ${console_extra[@]+"${console_extra[@]}"}
  secret autorke-inventory --from-file=secret-key="$dir/secret-key" "$(seed inventory)" \
    --from-file=signing.pem="$dir/keys/inventory.pem" --from-literal=command-signers="$(signers_of INVENTORY)" \
    --from-literal=claim-readers="$(readers_of INVENTORY)" \
    ${inventory_extra[@]+"${inventory_extra[@]}"}
  secret autorke-orchestrator "$(seed orchestrator)" --from-file=signing.pem="$dir/keys/orchestrator.pem" \
    --from-literal=claim-readers="$(readers_of ORCHESTRATOR)"
  secret autorke-executor --from-file=ssh-key="$ssh_key" --from-file=secret-key="$dir/secret-key" \
    "$(seed executor)" --from-literal=command-signers="$(signers_of EXECUTOR)" \
    --from-file=signing.pem="$dir/keys/executor.pem" --from-literal=claim-readers="$(readers_of EXECUTOR)"
  secret autorke-netcfg --from-file=secret-key="$dir/secret-key" "$(seed netcfg)" \
    --from-literal=command-signers="$(signers_of NETCFG)" ${netcfg_extra[@]+"${netcfg_extra[@]}"}
} > "$dir/secrets.yaml"
echo "wrote $dir/secrets.yaml: kubectl apply -n autorke -f $dir/secrets.yaml" >&2
