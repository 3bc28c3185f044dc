#!/usr/bin/env bash
# Offload benchmarks of issue 6 against the software eSwitch (no NIC here
# supports rte_flow): PMD cycles per packet with offload off/partial/full,
# insertion rate, first-packet-to-offloaded latency, representor memory and
# idle poll cost. Runs without hugepages (--no-huge --no-pci); about 3-5
# minutes. Markdown on stdout (or JSON with --json). See docs/benchmarks.md,
# "Offload benchmarks".
#   bench/offload.sh                      # everything, 5 repetitions
#   bench/offload.sh --quick              # smoke run (seconds)
#   bench/offload.sh --parts latency,memory --reps 3 --json
# Build directory: $SLUICE_BUILD_DIR (default build/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${SLUICE_BUILD_DIR:-$ROOT/build}"
BIN="$BUILD/bench/offload_bench"
if [[ ! -x "$BIN" ]]; then
  echo "bench/offload.sh: $BIN not built: ninja -C $BUILD offload_bench" >&2
  exit 1
fi
exec "$BIN" "$@"
