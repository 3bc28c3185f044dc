#!/usr/bin/env bash
# Instructions per packet of Sluice's fast path under callgrind, for the
# steady-state workloads of bench/compare. See bench/lib/callgrind_bench.py
# and docs/benchmarks.md ("bench/callgrind.sh"). Needs valgrind and a build
# with bench/callgrind_pmd_driver (e.g. --build build-c).
exec python3 "$(dirname "$0")/lib/callgrind_bench.py" "$@"
