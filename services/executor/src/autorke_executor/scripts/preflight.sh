# preflight: can this machine take a Kubernetes node? One JSON object of checks
# {"checks": [{"name", "ok", "detail"}...]}; exits 1 when any check fails.
# Arguments: none. Environment: MIN_MEMORY_GB (default 4), MIN_FREE_GB (default 10).
checks="" failed=0
check() {  # check NAME OK DETAIL
  checks+="${checks:+,}{\"name\":$(json_str "$1"),\"ok\":$2,\"detail\":$(json_str "$3")}"
  [ "$2" = true ] || failed=1
}
mem_kb=$(while read -r k v _; do [ "$k" = MemTotal: ] && echo "$v" && break; done < /proc/meminfo)
min_mem=${MIN_MEMORY_GB:-4}
[ "${mem_kb:-0}" -ge $((min_mem * 1024 * 1024)) ] && check memory true "${mem_kb} kB" || check memory false "${mem_kb:-0} kB < ${min_mem} GB"
swap=$(while read -r k v _; do [ "$k" = SwapTotal: ] && echo "$v" && break; done < /proc/meminfo)
[ "${swap:-0}" = 0 ] && check swap_off true "no swap" || check swap_off false "swap ${swap} kB"
free_kb=$(df -Pk /var 2>/dev/null | awk 'NR==2{print $4}')
min_free=${MIN_FREE_GB:-10}
[ "${free_kb:-0}" -ge $((min_free * 1024 * 1024)) ] && check disk_var true "${free_kb} kB free" || check disk_var false "${free_kb:-0} kB free on /var < ${min_free} GB"
if touch /var/.autorke-preflight 2>/dev/null; then rm -f /var/.autorke-preflight; check var_writable true ""; else check var_writable false "cannot write /var"; fi
have docker && check container_runtime true "docker" || check container_runtime false "docker not found"
components=$(probe_components)
case "$components" in
  '{"processes":[],"containers":[],"paths":[],"units":[]}') check no_kubernetes true "" ;;
  *) check no_kubernetes false "$components" ;;
esac
printf '{"checks":[%s]}\n' "$checks"
exit $failed
