# facts: what this machine is, as one JSON object on stdout: hardware (CPU, memory, disks,
# GPUs), software (OS, kernel, container runtime), kubernetes (the probe's findings) and
# network (addresses, default route). Reads /proc and /etc with bash's own `read` and builds
# the JSON in variables (json_str_v): no subshell per value, and a program started only for
# what no file tells (lsblk, nvidia-smi, docker, one `ip` for addresses and route, the
# probe's pgrep). Each started program costs a fleet-wide run one fork and exec per machine.
hostname_v=""
{ read -r hostname_v < /etc/hostname; } 2>/dev/null || hostname_v=${HOSTNAME-}
os_name="" os_version="" os_id=""
if [ -r /etc/os-release ]; then
  while IFS='=' read -r key value; do
    value=${value#[\"\']}; value=${value%[\"\']}
    case "$key" in
      PRETTY_NAME) os_name=$value ;;
      ID) os_id=$value ;;
      VERSION_ID) os_version=$value ;;
    esac
  done < /etc/os-release
fi
kernel=""  # what `uname -r` prints, without starting it
{ read -r kernel < /proc/sys/kernel/osrelease; } 2>/dev/null || read -r kernel < <(uname -r 2>/dev/null) || true
cpu_model="" cpus=0
while IFS=: read -r key value; do
  case "$key" in
    "model name"*) cpu_model=${value# } ;;
    processor*) cpus=$((cpus + 1)) ;;
  esac
done < /proc/cpuinfo
mem_kb=0
while read -r key value _; do
  if [ "$key" = MemTotal: ]; then mem_kb=$value; break; fi
done < /proc/meminfo
machine_id=""
{ read -r machine_id < /etc/machine-id; } 2>/dev/null || true
disks=""
if have lsblk; then
  while IFS= read -r line; do disks+=$line; done < <(lsblk -J -d -o NAME,SIZE,TYPE,ROTA 2>/dev/null)
fi
[ -n "$disks" ] || disks=null
gpus="" driver=""
if have nvidia-smi; then
  while IFS=, read -r idx name mem drv uuid; do
    [ -n "$idx" ] || continue
    case "$idx" in *[!0-9\ ]*) continue ;; esac
    driver=${drv# }
    json_str_v j_name "${name# }"
    json_str_v j_uuid "${uuid# }"
    gpus+="${gpus:+,}{\"index\":${idx// /},\"model\":$j_name,\"memory_mb\":${mem// /},\"uuid\":$j_uuid}"
  done < <(nvidia-smi --query-gpu=index,name,memory.total,driver_version,uuid --format=csv,noheader,nounits 2>/dev/null)
fi
runtime="" runtime_version=""
if have docker; then
  runtime=docker
  while read -r key value _; do  # the last Version: line is the server's
    [ "$key" = Version: ] && runtime_version=$value
  done < <(docker version 2>/dev/null)
elif have containerd; then
  runtime=containerd
  read -r _ _ runtime_version _ < <(containerd --version 2>/dev/null) || true
fi
addr_json="" route=""
if have ip; then  # one `ip` for both: IPv4 addresses (one line each), then the default route
  while IFS= read -r line; do
    case "$line" in default\ *) [ -n "$route" ] || route=$line; continue ;; esac
    read -r _ ifname _ cidr _ <<< "$line"
    [ "$ifname" = lo ] && continue
    json_str_v j_if "$ifname"
    json_str_v j_cidr "$cidr"
    addr_json+="${addr_json:+,}{\"interface\":$j_if,\"cidr\":$j_cidr}"
  done < <(ip -o -4 -batch - 2>/dev/null <<'IP'
addr show
route show default
IP
)
fi
for v in hostname_v machine_id cpu_model driver os_name os_id os_version kernel runtime runtime_version route; do
  json_str_v "j_$v" "${!v}"
done
printf '{"hostname":%s,"machine_id":%s,' "$j_hostname_v" "$j_machine_id"
printf '"hardware":{"cpu_model":%s,"cpus":%d,"memory_kb":%d,"disks":%s,"gpus":[%s],"gpu_driver":%s},' \
  "$j_cpu_model" "$cpus" "${mem_kb:-0}" "$disks" "$gpus" "$j_driver"
printf '"software":{"os":%s,"os_id":%s,"os_version":%s,"kernel":%s,"container_runtime":%s,"container_runtime_version":%s},' \
  "$j_os_name" "$j_os_id" "$j_os_version" "$j_kernel" "$j_runtime" "$j_runtime_version"
printf '"kubernetes":'
probe_components
printf ',"network":{"addresses":[%s],"default_route":%s}}\n' "$addr_json" "$j_route"
