#!/usr/bin/env bash
# The whole test suite from a clean machine: installs the dependencies,
# builds everything (tests and benchmarks included), runs every test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
build=${SLUICE_BUILD_DIR:-$here/build}
cd "$build"
ctest --output-on-failure -j1 "$@"
