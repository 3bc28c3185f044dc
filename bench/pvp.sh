#!/usr/bin/env bash
# PVP throughput (phy -> vhost-user VM -> phy) of Sluice alone: a net_pcap
# source (infinite_rx, 64-byte UDP, one flow) -> sluice-switchd -> a
# dpdkvhostuser port -> a dpdk-testpmd guest (io forwarding, virtio_user) ->
# back through the switch -> a net_null sink. Datapath megaflows only
# ('in_port(1) actions:2', 'in_port(2) actions:3'), no OpenFlow slow path.
# The switch's PMD is on CPU 1; the guest forwards on CPU 0, which it shares
# with every other thread of the machine (BENCH-NOTES.md: say so next to the
# figures). Prints each run's Mpps (median of its per-second sink rates) and
# min/median/max over the runs. No hugepages needed. Run as root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$ROOT/build"
RUNS=5
SECS=10
WARMUP=3
PACKED=0
TESTPMD="${TESTPMD:-dpdk-testpmd}"

usage() {
  cat <<EOF
Usage: bench/pvp.sh [--build DIR] [--runs N] [--seconds S] [--warmup W] [--packed]
  --build DIR   build directory with tools/sluice-switchd (default $BUILD)
  --runs N      runs (default $RUNS), each a fresh switch and guest
  --seconds S   measured seconds per run (default $SECS) after W warm-up seconds (default $WARMUP)
  --packed      packed virtqueues (default split)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --packed) PACKED=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pvp.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

SLUICE="$BUILD/tools/sluice-switchd"
[ -x "$SLUICE" ] || { echo "pvp.sh: $SLUICE not built" >&2; exit 1; }
command -v "$TESTPMD" >/dev/null || { echo "pvp.sh: $TESTPMD not found (apt install dpdk)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/sluice-pvp.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PCAP="$BUILD/pcaps/pvp-udp-1-64.pcap"
mkdir -p "$BUILD/pcaps"
[ -f "$PCAP" ] || python3 "$ROOT/scripts/gen-pcap.py" --out "$PCAP" --flows 1 --packets 10000 \
  --kind udp --size 64 --no-rules -q

results=()
for run in $(seq 1 "$RUNS"); do
  SOCK="$WORK/vm$run.sock"
  LOG="$WORK/switch$run.jsonl"
  nice -n -20 "$SLUICE" --hugepages no --dpdk-mem 1024 --mbufs 65536 --pmd-cpu-mask 0x2 \
    --ctl "$WORK/switchd$run.ctl" \
    --port "p0=net_pcap_pvp$run,rx_pcap=$PCAP,infinite_rx=1" \
    --port "vm=net_vhost$run,iface=$SOCK,queues=1" \
    --port "p1=net_null_pvp$run,no-rx=1" \
    --flow 'in_port(1) actions:2' --flow 'in_port(2) actions:3' \
    --stats-interval 1 --stats-format json --duration $((WARMUP + SECS + 4)) \
    >"$LOG" 2>"$LOG.err" &
  SW=$!
  PIDS+=("$SW")
  for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
  [ -S "$SOCK" ] || { echo "pvp.sh: the switch did not create $SOCK (see $LOG.err)" >&2; exit 1; }
  VDEV="net_virtio_user0,path=$SOCK,queues=1"
  [ "$PACKED" = 1 ] && VDEV="$VDEV,packed_vq=1"
  sleep $((WARMUP + SECS + 6)) | nice -n -20 "$TESTPMD" -l 0,1 --main-lcore 1 --no-huge -m 512 \
    --no-shconf --no-pci --file-prefix="pvp$$-$run" --vdev="$VDEV" -- -i -a \
    --forward-mode=io --nb-cores=1 --no-flush-rx --total-num-mbufs=16384 >"$WORK/guest$run.log" 2>&1 &
  GUEST=$!
  PIDS+=("$GUEST")
  wait "$SW" || true
  mpps="$(python3 - "$LOG" "$WARMUP" "$SECS" <<'EOF'
import json, statistics, sys
path, warm, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rates = []
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    s = json.loads(line)
    if s["time"] <= warm + 1:
        continue
    for p in s["ports"]:
        if p["port_no"] == 3:
            rates.append(p["tx_pps"] / 1e6)
rates = rates[:secs]
print(f"{statistics.median(rates):.3f}" if rates else "0")
EOF
)"
  echo "run $run: $mpps Mpps"
  results+=("$mpps")
  kill -TERM "$GUEST" 2>/dev/null || true
  wait "$GUEST" 2>/dev/null || true
done

python3 - "${results[@]}" <<'EOF'
import statistics, sys
v = sorted(float(x) for x in sys.argv[1:])
print(f"PVP 64-byte, 1 flow, {len(v)} runs: min {v[0]:.3f}  median {statistics.median(v):.3f}  max {v[-1]:.3f} Mpps")
EOF
