# facts: what this machine is, as one JSON object on stdout: hardware (CPU, memory, disks,
# GPUs), software (OS, kernel, container runtime), kubernetes (the probe's findings) and
# network (addresses, default route). Reads /proc and /etc directly where it can, so one
# run costs the machine little even across a fleet.
hostname_v=$(cat /etc/hostname 2>/dev/null || hostname)
os_name="" os_version="" os_id=""
if [ -r /etc/os-release ]; then
  os_name=$(. /etc/os-release; echo "${PRETTY_NAME-}")
  os_id=$(. /etc/os-release; echo "${ID-}")
  os_version=$(. /etc/os-release; echo "${VERSION_ID-}")
fi
kernel=$(uname -r 2>/dev/null)
cpu_model="" cpus=0
while IFS=: read -r key value; do
  case "$key" in
    "model name"*) cpu_model=${value# } ;;
    processor*) cpus=$((cpus + 1)) ;;
  esac
done < /proc/cpuinfo
mem_kb=$(while read -r k v _; do [ "$k" = MemTotal: ] && echo "$v" && break; done < /proc/meminfo)
machine_id=$(cat /etc/machine-id 2>/dev/null)
disks=null
have lsblk && disks=$(lsblk -J -d -o NAME,SIZE,TYPE,ROTA 2>/dev/null | tr -d '\n') && [ -n "$disks" ] || disks=null
gpus="" driver=""
if have nvidia-smi; then
  while IFS=, read -r idx name mem drv uuid; do
    [ -n "$idx" ] || continue
    case "$idx" in *[!0-9\ ]*) continue ;; esac
    driver=${drv# }
    gpus+="${gpus:+,}{\"index\":${idx// /},\"model\":$(json_str "${name# }"),\"memory_mb\":${mem// /},\"uuid\":$(json_str "${uuid# }")}"
  done < <(nvidia-smi --query-gpu=index,name,memory.total,driver_version,uuid --format=csv,noheader,nounits 2>/dev/null)
fi
runtime="" runtime_version=""
if have docker; then
  runtime=docker
  runtime_version=$(docker version 2>/dev/null | while read -r k v _; do [ "$k" = Version: ] && echo "$v"; done | tail -n1)
elif have containerd; then
  runtime=containerd
  runtime_version=$(containerd --version 2>/dev/null | awk '{print $3}')
fi
addrs=()
if have ip; then
  while read -r _ ifname _ cidr _; do
    [ "$ifname" = lo ] && continue
    addrs+=("$ifname $cidr")
  done < <(ip -o -4 addr show 2>/dev/null)
  route=$(ip -4 route show default 2>/dev/null | head -n1)
fi
addr_json=""
for a in ${addrs[@]+"${addrs[@]}"}; do
  addr_json+="${addr_json:+,}{\"interface\":$(json_str "${a%% *}"),\"cidr\":$(json_str "${a#* }")}"
done
printf '{"hostname":%s,"machine_id":%s,' "$(json_str "$hostname_v")" "$(json_str "$machine_id")"
printf '"hardware":{"cpu_model":%s,"cpus":%d,"memory_kb":%d,"disks":%s,"gpus":[%s],"gpu_driver":%s},' \
  "$(json_str "$cpu_model")" "$cpus" "${mem_kb:-0}" "$disks" "$gpus" "$(json_str "$driver")"
printf '"software":{"os":%s,"os_id":%s,"os_version":%s,"kernel":%s,"container_runtime":%s,"container_runtime_version":%s},' \
  "$(json_str "$os_name")" "$(json_str "$os_id")" "$(json_str "$os_version")" "$(json_str "$kernel")" \
  "$(json_str "$runtime")" "$(json_str "$runtime_version")"
printf '"kubernetes":%s,' "$(probe_components)"
printf '"network":{"addresses":[%s],"default_route":%s}}\n' "$addr_json" "$(json_str "${route-}")"
