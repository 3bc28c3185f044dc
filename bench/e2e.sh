#!/usr/bin/env bash
# End-to-end throughput: a net_pcap source (infinite_rx) -> one polling core ->
# a net_null sink, for dpdk-testpmd io-forward (the ceiling) and Sluice
# (sluice-switchd with one rule in_port(1) actions:2), runs interleaved.
# See docs/benchmarks.md.  Run as root (DPDK, nice -20).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

FLOWS="1 1000 100000"
RUNS=5
SECS=10
WARMUP=2
SYSTEMS="testpmd sluice"
OUT=""
BUILD="$ROOT/build"
KIND=udp
SIZE=64
MEM=2048
TSC_HZ=""
TESTPMD="${TESTPMD:-dpdk-testpmd}"
PMD_CPU=1   # the polling core; everything else on CPU 0
AUTOGROUP=1

usage() {
  cat <<EOF
Usage: bench/e2e.sh [options]

End-to-end throughput of one polling core forwarding a net_pcap source
(rx_pcap=FILE,infinite_rx=1) to a net_null sink (no-rx=1):
  testpmd  dpdk-testpmd --forward-mode=io (no lookup at all: the ceiling)
  sluice   BUILD/tools/sluice-switchd with one rule 'in_port(1) actions:2'
           (skipped with a message while the binary does not exist)
Runs are interleaved system by system (A B A B ...), run-major across
workloads; the polling core is CPU $PMD_CPU, every process runs at nice -20.

Options:
  --flows LIST     flow counts, one workload each (default "$FLOWS")
  --runs N         runs per workload and system (default $RUNS)
  --seconds S      measured seconds per run (default $SECS), after
                   --warmup W seconds that are dropped (default $WARMUP)
  --systems LIST   any of "testpmd sluice" (default "$SYSTEMS")
  --kind K         traffic kind for scripts/gen-pcap.py: udp|prefix|masks|srcip
                   (default $KIND; every kind goes through the same single rule)
  --size B         frame size on the wire incl. FCS (default $SIZE)
  --out DIR        results directory (default BUILD/bench-e2e/<date-time>):
                   results.json, results.md, runs.jsonl, logs/
  --build DIR      build directory (default <repo>/build); pcaps are cached
                   in BUILD/pcaps/
  --mem MB         DPDK memory for each system (default $MEM)
  --tsc-hz HZ      TSC frequency (default: measured with bench/lib/tsc-hz.c)
  --no-autogroup   only nice -20 the systems; by default each also runs in a
                   session of its own whose scheduler autogroup is set to
                   nice -20 (with autogroups, plain nice does not count
                   against other sessions' processes)
  -h, --help       this text

Prints one line per run, then a Markdown table: min/median/max Mpps over
the runs, cycles per packet (TSC Hz / median pps, plus Sluice's own
cycles_per_packet), and the ratio of medians against testpmd.
Environment: TESTPMD=path overrides dpdk-testpmd.
EOF
}

die() { echo "e2e: $*" >&2; exit 1; }
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

while [ $# -gt 0 ]; do
  case "$1" in
    --flows) FLOWS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --systems) SYSTEMS="$2"; shift 2 ;;
    --kind) KIND="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --out) OUT="$(abspath "$2")"; shift 2 ;;
    --build) BUILD="$(abspath "$2")"; shift 2 ;;
    --mem) MEM="$2"; shift 2 ;;
    --tsc-hz) TSC_HZ="$2"; shift 2 ;;
    --no-autogroup) AUTOGROUP=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

for v in RUNS SECS WARMUP SIZE MEM; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v,,} must be a non-negative integer"
done
[ "$RUNS" -ge 1 ] && [ "$SECS" -ge 1 ] || die "--runs and --seconds must be >= 1"
for f in $FLOWS; do [[ "$f" =~ ^[1-9][0-9]*$ ]] || die "bad flow count: $f"; done
for s in $SYSTEMS; do
  case "$s" in testpmd|sluice) ;; *) die "unknown system: $s (testpmd, sluice)" ;; esac
done
case "$KIND" in udp|prefix|masks|srcip) ;; *) die "unknown kind: $KIND" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (DPDK and nice -n -20 need it)"

[ -n "$OUT" ] || OUT="$BUILD/bench-e2e/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/logs" "$BUILD/pcaps"
RUNS_JSONL="$OUT/runs.jsonl"
: > "$RUNS_JSONL"
STATS="$HERE/lib/stats.py"
GEN="$ROOT/scripts/gen-pcap.py"
SLUICE="$BUILD/tools/sluice-switchd"

# ---------------------------------------------------------------- cleanup
CHILD=""
PREFIXES=()
cleanup() {
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -INT "$CHILD" 2>/dev/null || true
    sleep 2
    kill -KILL "$CHILD" 2>/dev/null || true
  fi
  for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
  rm -rf "${OUT:?}/rundir" "$OUT/.rec" "$OUT/.share"
}
trap cleanup EXIT
trap 'echo "e2e: interrupted; partial results in $OUT/runs.jsonl" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- systems
ACTIVE=()
SKIPPED=()
for s in $SYSTEMS; do
  case "$s" in
    testpmd)
      if command -v "$TESTPMD" >/dev/null; then ACTIVE+=(testpmd)
      else SKIPPED+=("testpmd: $TESTPMD not found"); fi ;;
    sluice)
      if [ -x "$SLUICE" ]; then ACTIVE+=(sluice)
      else SKIPPED+=("sluice: $SLUICE is missing (build it first)"); fi ;;
  esac
done
for m in "${SKIPPED[@]}"; do echo "e2e: skipping $m" >&2; done
[ "${#ACTIVE[@]}" -gt 0 ] || die "no system to run"

# ---------------------------------------------------------------- TSC
if [ -z "$TSC_HZ" ]; then
  mkdir -p "$BUILD/bench-e2e"
  TSCBIN="$BUILD/bench-e2e/tsc-hz"
  if [ ! -x "$TSCBIN" ] || [ "$HERE/lib/tsc-hz.c" -nt "$TSCBIN" ]; then
    cc -O2 -o "$TSCBIN" "$HERE/lib/tsc-hz.c" 2>/dev/null || rm -f "$TSCBIN"
  fi
  if [ -x "$TSCBIN" ]; then
    TSC_HZ="$(taskset -c "$PMD_CPU" "$TSCBIN")"
  else
    mhz="$(awk -F: '/^cpu MHz/ {gsub(/ /,"",$2); print $2; exit}' /proc/cpuinfo)"
    TSC_HZ="$(awk -v m="$mhz" 'BEGIN {printf "%.0f", m * 1e6}')"
    echo "e2e: warning: could not build tsc-hz; TSC taken as cpu MHz = $mhz" >&2
  fi
fi

# ---------------------------------------------------------------- memory
# Hugepages when enough are free, else --no-huge (anonymous memory).
hp_free="$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)"
hp_kb="$(awk '/^Hugepagesize/ {print $2}' /proc/meminfo)"
if [ "$(( ${hp_free:-0} * ${hp_kb:-0} / 1024 ))" -ge "$MEM" ]; then
  EAL_MEM=(-m "$MEM" --in-memory)
  MEMNOTE="hugepages"
else
  EAL_MEM=(--no-huge -m "$MEM")
  MEMNOTE="no hugepages (--no-huge)"
fi

# ---------------------------------------------------------------- pcaps
pcap_for() {  # flows -> path (generated on first use, regenerated when gen-pcap.py changes)
  local f="$BUILD/pcaps/$KIND-f$1-s$SIZE.pcap"
  if [ ! -s "$f" ] || [ "$GEN" -nt "$f" ]; then
    python3 "$GEN" --out "$f.tmp" --flows "$1" --kind "$KIND" --size "$SIZE" --no-rules -q \
      || die "gen-pcap.py failed for $1 flows"
    mv "$f.tmp" "$f"
    echo "e2e: generated $f" >&2
  fi
  echo "$f"
}
frames_in() {  # pcap -> number of records (all records have the same length)
  local bytes; bytes="$(stat -c %s "$1")"
  echo $(( (bytes - 24) / (16 + SIZE - 4) ))
}
declare -A PCAP
for f in $FLOWS; do PCAP[$f]="$(pcap_for "$f")"; done

# ---------------------------------------------------------------- one run
# Runs $@ in the background at nice -20 under a timeout (SIGINT); stdout to
# $LOG, stderr to $LOG.err.
# With AUTOGROUP=1 (default) the command runs in a session of its own (setsid)
# whose scheduler autogroup gets nice -20 too: with kernel.sched_autogroup_enabled
# a process's nice value only counts inside its own session, so nice -20 alone
# does not keep other people's compiles off the polling core.
start_bg() {
  local deadline="$1"; shift
  local -a pre=(nice -n -20)
  [ "$AUTOGROUP" = 1 ] && pre+=(setsid)
  "${pre[@]}" timeout -s INT -k 10 "$deadline" "$@" </dev/null >"$LOG" 2>"$LOG.err" &
  CHILD=$!
  if [ "$AUTOGROUP" = 1 ]; then
    # wait for setsid() to have run, or we would renice our own session
    local i st rest
    local -a fl
    for i in $(seq 50); do
      { read -r st < "/proc/$CHILD/stat"; } 2>/dev/null || break
      rest="${st##*) }"; read -r -a fl <<< "$rest"   # fields 3.. : state ppid pgrp session
      if [ "${fl[3]}" = "$CHILD" ]; then
        echo -20 2>/dev/null > "/proc/$CHILD/autogroup" || true
        break
      fi
      sleep 0.02
    done
    if ! grep -q 'nice -20' "/proc/$CHILD/autogroup" 2>/dev/null && kill -0 "$CHILD" 2>/dev/null; then
      echo "e2e: warning: could not renice the autogroup of $1; other sessions may share the polling core" >&2
    fi
  fi
}
wait_child() {
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return $rc
}
thread_sched() {  # pid -> lines "tid run_ns wait_ns" for each of its threads
  local f r w rest
  for f in /proc/"$1"/task/*/schedstat; do
    { read -r r w rest < "$f"; } 2>/dev/null || continue
    f="${f%/schedstat}"
    echo "${f##*/} $r $w"
  done
}
# Follows the running child's $LOG: from the moment the number of lines
# matching $1 reaches $2 (end of warm-up) until it reaches $3 (end of the
# measured seconds), samples the scheduler statistics of each thread of the
# child's command (/proc/PID/task/TID/schedstat: ns on a CPU, ns runnable but
# waiting for one) every 0.2 s; at $3 it sends SIGINT if $4 is "stop".  Sets
# PMD_SHARE to run / (run + wait) over that window of the thread that ran
# most (the polling thread, which never sleeps, so that is the share of the
# polling core it got; up to its last sample should it exit first), or to
# "null".  No timestamps are involved, so a slow or starved shell does not
# skew it.
watch_run() {
  local pattern="$1" start="$2" end="$3" stop="$4" n pid="" started="" tid r w
  local -A r0=() w0=() r1=() w1=()
  PMD_SHARE=null
  while kill -0 "$CHILD" 2>/dev/null; do
    n="$(grep -c -- "$pattern" "$LOG" 2>/dev/null || true)"
    if [ -z "$started" ] && [ "${n:-0}" -ge "$start" ]; then
      started=1
      pid="$(pgrep -P "$CHILD" | head -n 1 || true)"
      if [ -n "$pid" ]; then
        while read -r tid r w; do r0[$tid]=$r; w0[$tid]=$w; done < <(thread_sched "$pid")
      fi
    elif [ -n "$started" ] && [ -n "$pid" ]; then
      while read -r tid r w; do r1[$tid]=$r; w1[$tid]=$w; done < <(thread_sched "$pid")
    fi
    if [ -n "$started" ] && [ "${n:-0}" -ge "$end" ]; then
      if [ "$stop" = stop ]; then kill -INT "$CHILD" 2>/dev/null || true; fi
      break
    fi
    sleep 0.2
  done
  for tid in "${!r1[@]}"; do
    [ -n "${r0[$tid]:-}" ] || continue
    echo "$(( r1[$tid] - r0[$tid] )) $(( w1[$tid] - w0[$tid] ))"
  done > "$OUT/.share"
  # the thread that ran most, if it ran at least 0.2 s
  PMD_SHARE="$(sort -n -r "$OUT/.share" | awk 'NR == 1 && $1 >= 2e8 { printf "%.3f", $1 / ($1 + $2); ok = 1 }
    END { if (!ok) print "null" }')"
  rm -f "$OUT/.share"
}

run_testpmd() {  # flows run -> prints one JSON record on stdout
  local flows="$1" run="$2" pcap="${PCAP[$1]}" frames prefix rc=0
  frames="$(frames_in "$pcap")"
  prefix="sluice-e2e-$$-$run-$flows"
  PREFIXES+=("$prefix")
  LOG="$OUT/logs/$KIND-f$flows-testpmd-r$run.log"
  # -l 0,N: main lcore (stats printing) on CPU 0, the forwarding lcore on CPU N.
  # The pool holds every frame of the pcap (net_pcap copies them in at start)
  # plus room for bursts and per-lcore caches.
  start_bg $(( WARMUP + SECS + 90 )) "$TESTPMD" -l 0,$PMD_CPU "${EAL_MEM[@]}" --no-pci \
    --file-prefix "$prefix" \
    --vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 -- \
    --forward-mode=io --auto-start --stats-period 1 \
    --total-num-mbufs=$(( frames + 32768 ))
  # The first statistics block is always zero (no previous snapshot); the next
  # WARMUP are warm-up; stop (SIGINT) after SECS more.
  watch_run 'NIC statistics for port 1 ' $(( WARMUP + 1 )) $(( WARMUP + 1 + SECS )) stop
  wait_child || rc=$?
  rm -rf "/var/run/dpdk/$prefix"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ]; then
    echo "e2e: testpmd exited with $rc, see $LOG and $LOG.err" >&2
  fi
  python3 "$STATS" testpmd "$LOG" --warmup $(( WARMUP + 1 )) --count "$SECS" --port 1 \
    --tsc-hz "$TSC_HZ" --meta "$(meta_json "$flows" "$run" "$pcap")"
}

run_sluice() {
  local flows="$1" run="$2" pcap="${PCAP[$1]}" rc=0
  LOG="$OUT/logs/$KIND-f$flows-sluice-r$run.log"
  # stdout (one JSON object per line) to $LOG, logs to $LOG.err; stdbuf in
  # case stdout is block-buffered when it is a file.
  # a run directory of its own: the management socket must not clash with
  # other instances (tests, other people's runs) under /run/sluice
  mkdir -p "$OUT/rundir"
  start_bg $(( WARMUP + SECS + 90 )) env SLUICE_RUNDIR="$OUT/rundir" stdbuf -oL "$SLUICE" \
    --pmd-cpu-mask "$(printf '0x%x' $(( 1 << PMD_CPU )))" --dpdk-mem "$MEM" \
    --mbufs $(( $(frames_in "$pcap") + 32768 )) \
    --port "p0=net_pcap0,rx_pcap=$pcap,infinite_rx=1" --port p1=net_null0,no-rx=1 \
    --flow 'in_port(1) actions:2' --stats-interval 1 --stats-format json \
    --duration $(( WARMUP + SECS + 1 ))
  # one interval more than needed, so that the end mark is seen before it exits
  watch_run '^{' "$WARMUP" $(( WARMUP + SECS )) no
  wait_child || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "e2e: sluice-switchd exited with $rc, see $LOG and $LOG.err" >&2
  fi
  python3 "$STATS" sluice "$LOG" --warmup "$WARMUP" --count "$SECS" --port-no 2 \
    --tsc-hz "$TSC_HZ" --meta "$(meta_json "$flows" "$run" "$pcap")"
}

meta_json() {
  printf '{"workload":"%s-%s","kind":"%s","flows":%s,"run":%s,"pcap":"%s","frames":%s,"size":%s,"tsc_hz":%s,"pmd_cpu_share":%s,"loadavg_end_of_run":"%s"}' \
    "$KIND" "$1" "$KIND" "$1" "$2" "$3" "$(frames_in "$3")" "$SIZE" "$TSC_HZ" "$PMD_SHARE" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- main loop
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
STARTED="$(date -Is)"
echo "e2e: systems: ${ACTIVE[*]}; flows: $FLOWS; kind $KIND, $SIZE-byte frames;" \
  "$RUNS runs x ($WARMUP + $SECS) s; TSC $(awk -v h="$TSC_HZ" 'BEGIN {printf "%.3f", h/1e9}') GHz;" \
  "$MEMNOTE; polling core CPU $PMD_CPU; load average $LOAD0"
echo "e2e: results in $OUT"
if awk -v l="${LOAD0%% *}" 'BEGIN {exit !(l > 0.5)}'; then
  echo "e2e: warning: the machine is busy (load $LOAD0): figures will be noisy" >&2
fi

for run in $(seq 1 "$RUNS"); do
  for flows in $FLOWS; do
    for sys in "${ACTIVE[@]}"; do
      # run in this shell (not in $(...)) so that the trap knows the child
      if ! "run_$sys" "$flows" "$run" > "$OUT/.rec"; then
        echo "e2e: [run $run/$RUNS] $sys $KIND-$flows: no figure (log: $LOG)" >&2
        continue
      fi
      rec="$(cat "$OUT/.rec")"
      echo "$rec" >> "$RUNS_JSONL"
      python3 - "$rec" "$run" "$RUNS" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
extra = ""
if len(r["samples_pps"]) < r.get("samples_expected", 0):
    print("e2e: warning: only %d of %d measured seconds (the system stopped early? see its log)"
          % (len(r["samples_pps"]), r["samples_expected"]), file=sys.stderr, flush=True)
if r.get("self_cycles_per_packet") is not None:
    extra = ", self %.0f cyc/pkt" % r["self_cycles_per_packet"]
share = r.get("pmd_cpu_share")
share = "?" if share is None else "%.0f%%" % (100 * share)
if r.get("cycles_per_packet_on_cpu") is not None:
    share += " -> %.0f cyc/pkt on CPU" % r["cycles_per_packet_on_cpu"]
print("[run %s/%s] %-8s %-14s %7.2f Mpps  %6.1f cyc/pkt%s  (per-second %.2f..%.2f, %d s, "
      "polling thread on CPU %s, load %s)"
      % (sys.argv[2], sys.argv[3], r["system"], r["workload"], r["mpps"],
         r["cycles_per_packet"] or 0, extra, r["sample_min_mpps"], r["sample_max_mpps"],
         len(r["samples_pps"]), share, r["loadavg_end_of_run"]), flush=True)
EOF
    done
  done
done

rm -f "$OUT/.rec"
[ -s "$RUNS_JSONL" ] || die "no run produced a figure; logs in $OUT/logs"

skipped_json="$(printf '%s\n' "${SKIPPED[@]}" | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))')"
meta="$(printf '{"systems":%s,"flows":"%s","kind":"%s","size":%s,"runs":%s,"seconds":%s,"warmup":%s,"tsc_hz":%s,"memory":"%s","pmd_cpu":%s,"autogroup":%s,"started":"%s","finished":"%s","host":"%s","nproc":%s,"loadavg":"%s","loadavg_end":"%s","git":"%s","skipped":%s}' \
  "$(printf '%s\n' "${ACTIVE[@]}" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')" \
  "$FLOWS" "$KIND" "$SIZE" "$RUNS" "$SECS" "$WARMUP" "$TSC_HZ" "$MEMNOTE" "$PMD_CPU" "$([ "$AUTOGROUP" = 1 ] && echo true || echo false)" \
  "$STARTED" "$(date -Is)" "$(hostname)" "$(nproc)" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$skipped_json")"
echo
python3 "$STATS" summarize "$RUNS_JSONL" --out "$OUT" --meta "$meta"
echo
echo "e2e: wrote $OUT/results.md and $OUT/results.json"
