# probe: is anything of Kubernetes on this machine? (DESIGN.md P2)
# Prints one JSON object: {"processes": [...], "containers": [...], "paths": [...], "units": [...]}.
# Exit 0 whatever it finds; the executor judges the evidence. Cheap on purpose (one pgrep,
# file tests, no interpreter started) because facts runs it across whole fleets.
K8S_NAMES="kubelet etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy rke2"
# A process counts only when it shares this shell's mount namespace (a process of the
# machine itself, not of a container or of another machine that shares its PID namespace);
# containerised components are found below, from docker's own records.
own_process() {
  local self_ns
  self_ns=$(readlink /proc/$$/ns/mnt 2>/dev/null) || return 0
  [ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" = "$self_ns" ]
}
K8S_RE="(^|[ /])(${K8S_NAMES// /|})( |\$)"  # a name as a word of a command line
probe_candidates() {  # "pid command line" of each process whose command line names one
  if have pgrep; then
    pgrep -a -f "$K8S_RE" 2>/dev/null
    return 0
  fi
  local d argv  # no procps on this machine: read /proc ourselves (slower, same answer)
  for d in /proc/[0-9]*; do
    mapfile -d '' argv < "$d/cmdline" 2>/dev/null || continue
    [[ "${argv[*]-}" =~ $K8S_RE ]] && printf '%s %s\n' "${d#/proc/}" "${argv[*]}"
  done
  return 0
}
probe_components() {
  local procs=() ctrs=() paths=() units=() pid comm args name word f p d hit
  # One pgrep keeps only candidate processes (a name as the program or as a bare word of the
  # command line); the shell then checks those few: the name must be the program, or a word
  # of the program part of its arguments (as in "hyperkube kubelet --…").
  while read -r pid args; do
    { read -r comm < "/proc/$pid/comm"; } 2>/dev/null || continue  # ended meanwhile
    for name in $K8S_NAMES; do
      hit=""
      if [ "$comm" = "$name" ]; then hit="$name"
      else
        for word in ${args%% -*}; do  # the program path and bare words before any flag
          case "$word" in */"$name"|"$name") hit="$name ($comm)"; break ;; esac
        done
      fi
      if [ -n "$hit" ] && own_process "$pid"; then procs+=("$hit pid $pid"); fi
    done
  done < <(probe_candidates)
  # Containers: docker keeps each one's config in /var/lib/docker/containers/<id>/config.v2.json.
  for f in /var/lib/docker/containers/*/config.v2.json; do
    [ -r "$f" ] || continue
    read -r -n 4096 d < "$f" || true
    for name in $K8S_NAMES etcd-rolling-snapshots; do
      case "$d" in *"\"Name\":\"/$name\""*|*"\"Name\": \"/$name\""*) ctrs+=("$name") ;; esac
    done
  done
  for p in /etc/kubernetes /var/lib/kubelet /etc/rancher/rke2 /var/lib/rancher/rke2; do
    [ -e "$p" ] && paths+=("$p")
  done
  if [ -d /var/lib/etcd ]; then
    local entries
    entries=(/var/lib/etcd/* /var/lib/etcd/.[!.]* /var/lib/etcd/..?*)  # every entry, dot files too
    for f in "${entries[@]}"; do
      if [ -e "$f" ] || [ -L "$f" ]; then paths+=("/var/lib/etcd (not empty)"); break; fi
    done
  fi
  for name in rke2-agent rke2-server kubelet; do
    for d in /etc/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
      if [ -e "$d/$name.service" ]; then units+=("$d/$name.service"); break; fi
    done
  done
  local jp jc jpa ju
  json_list_v jp ${procs[@]+"${procs[@]}"}
  json_list_v jc ${ctrs[@]+"${ctrs[@]}"}
  json_list_v jpa ${paths[@]+"${paths[@]}"}
  json_list_v ju ${units[@]+"${units[@]}"}
  printf '{"processes":%s,"containers":%s,"paths":%s,"units":%s}' "$jp" "$jc" "$jpa" "$ju"
}
if [ "${AUTORKE_SCRIPT-}" = probe ]; then
  probe_components
  echo
fi
