# Shared by every executor script (prepended by the executor, never run alone):
# strict mode and a JSON string encoder in pure bash (no interpreter started per value).
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
json_str() {
  local s=${1-}
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
  printf '"%s"' "$s"
}
json_list() {  # json_list item... -> ["item", ...]
  local first=1 item
  printf '['
  for item in "$@"; do
    [ $first -eq 1 ] || printf ','
    first=0
    json_str "$item"
  done
  printf ']'
}
have() { command -v "$1" >/dev/null 2>&1; }
