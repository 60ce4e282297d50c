#!/usr/bin/env bash
# What the test suites need from the operating system besides `npm install`: iproute2 and
# iptables (NAT tests in network namespaces, as root), Chromium (the dashboard's browser test),
# python3 (the acceptance scripts). Installed here when missing and this is root with apt-get;
# otherwise one line names the packages and the command that installs them.
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
command -v ip >/dev/null || need+=(iproute2)
command -v ip6tables >/dev/null || need+=(iptables)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "$(id -u)" != 0 ]; then
  echo "npm test needs root: the NAT tests build hosts in network namespaces (run it as root, e.g. in a container or VM)${need[*]:+; it also needs: apt-get install -y ${need[*]}}" >&2
  exit 1
fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "npm test needs these Debian packages, and this machine has no apt-get: ${need[*]}" >&2
  exit 1
fi
echo "installing the system packages the tests need: ${need[*]} (apt-get, about a minute)" >&2
log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "could not install ${need[*]} with apt-get (the lines above say why)" >&2
  exit 1
fi
rm -f "$log"
