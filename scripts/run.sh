#!/usr/bin/env bash
# The main job on its embedded default: installs the dependencies, builds,
# and runs sluice-switchd with the built-in demo: generated UDP traffic from
# a net_pcap port through megaflows to two net_null ports, with live
# statistics every second. Arguments go to sluice-switchd (default: run for
# 20 s; pass --duration 0 to run until Ctrl-C).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
build=${SLUICE_BUILD_DIR:-$here/build}
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--duration 20)
exec "$build/tools/sluice-switchd" --demo "${args[@]}"
