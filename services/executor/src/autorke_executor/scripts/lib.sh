# Shared by every executor script (prepended by the executor, never run alone):
# strict mode and a JSON string encoder in pure bash (no interpreter started per value).
# The *_v forms set a variable instead of printing: "$(json_str …)" costs a fork per value,
# which a facts run across a fleet pays thousands of times.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
json_str_v() {  # json_str_v VAR value -> VAR='"value"' (JSON string)
  local _s=${2-}
  _s=${_s//\\/\\\\}; _s=${_s//\"/\\\"}; _s=${_s//$'\n'/\\n}; _s=${_s//$'\t'/\\t}; _s=${_s//$'\r'/}
  printf -v "$1" '"%s"' "$_s"
}
json_str() {
  local _js
  json_str_v _js "${1-}"
  printf '%s' "$_js"
}
json_list_v() {  # json_list_v VAR item... -> VAR='["item", ...]'
  local _var=$1 _out="" _item _js
  shift
  for _item in "$@"; do
    json_str_v _js "$_item"
    _out+="${_out:+,}$_js"
  done
  printf -v "$_var" '[%s]' "$_out"
}
json_list() {  # json_list item... -> ["item", ...]
  local _jl
  json_list_v _jl "$@"
  printf '%s' "$_jl"
}
have() { command -v "$1" >/dev/null 2>&1; }
