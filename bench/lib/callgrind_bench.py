"""bench/callgrind.sh: instructions per packet of Sluice's fast path, counted by
callgrind, for the steady-state workloads of bench/compare.

For each workload: the pcap and OpenFlow rules of bench/compare (the same
generator, scripts/gen-pcap.py, through compare's own pcap_for(), and
compare_workloads.rules()), then callgrind_pmd_driver under
`valgrind --tool=callgrind --instr-atstart=no`: the driver warms the bridge up
uninstrumented and switches instrumentation on only around its measured
polling loop (see bench/callgrind/pmd_driver.cc).  The counts are
deterministic for a given build and input: unlike cycles they do not move
with the machine's load.

Per workload the report gives Ir (instructions) per packet:
  total        the whole measured loop;
  device rx    everything below the net_pcap driver's rx burst (its mbuf
               allocation and copy): testpmd pays this too;
  device tx    everything below net_null's tx burst (freeing the mbufs);
  Sluice       total - rx - tx: Sluice's own work, split into stages by
               the functions' self cost (parse, EMC, dpcls, PMD loop, ...);
and the top functions by self cost.  --json saves the figures, --baseline
compares with a saved run (before/after tables for docs/perf).
"""

import argparse
import datetime
import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, HERE)

import callgrind_report as cgr  # noqa: E402
import compare_workloads as workloads  # noqa: E402

DEFAULT_WORKLOADS = ("flows-1,flows-100k,exact1000-100k,rules1000-masks20-100k,prefix10-100k,"
                     "normal-100k")

# Stages: self cost of Sluice's functions, first matching pattern wins.
STAGES = [
    ("parse", r"\b(Parse(Flow|FlowTo|FlowToGeneric|FlowGeneric|Ipv4|Ipv6|L4|Arp)|GenericReads)\b"),
    ("emc", r"\bEmc::"),
    ("dpcls", r"\b(Dpcls::|DpclsSubtable::|SubtableLookupBatch|Smc)"),
    ("actions", r"\b(ExecuteActions|Execute[A-Z]\w*|Sink::)"),
    ("pmd: process + group", r"\bPmd::(ProcessPackets|RunFlowBatch|EmcAdapt)"),
    ("pmd: tx buffers", r"\bPmd::(TxEnqueue|FlushTx|FlushBuffer)"),
    ("pmd: poll loop", r"\b(Pmd::(PollOnce|Housekeeping|ApplyCommands)|Datapath::PollAllOnce|main)\b"),
]


def load_compare():
    loader = importlib.machinery.SourceFileLoader("bench_compare", os.path.join(BENCH, "compare"))
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def parse_args():
    p = argparse.ArgumentParser(prog="bench/callgrind.sh", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="Sluice build directory with bench/callgrind_pmd_driver (default <repo>/build)")
    p.add_argument("--workloads", default=DEFAULT_WORKLOADS,
                   help="comma-separated bench/compare workload names (default: %s)" % DEFAULT_WORKLOADS)
    p.add_argument("--packets", type=int, default=(1 << 20) + (1 << 16),
                   help="packets measured per workload (default 2^20 + 2^16: one adaptive-EMC period)")
    p.add_argument("--emc", choices=["auto", "adaptive", "on", "off"],
                   help="the PMD's EMC policy (driver --emc; default: the PMD's, auto)")
    p.add_argument("--top", type=int, default=10, help="functions listed per workload (default 10)")
    p.add_argument("--out", default=None, help="directory for callgrind files (default BUILD/bench-callgrind/<time>)")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument("--baseline", default=None, help="a --json file of an earlier run: add before/after tables")
    p.add_argument("--label", default="", help="a label for this run (shown in the tables)")
    p.add_argument("--reuse", action="store_true", help="report from the callgrind files already in --out")
    return p.parse_args()


def device_objects(prof):
    rx = [o for o in {k[0] for k in prof.self_cost} | {c for _, c in prof.calls_into} if o and "net_pcap" in o]
    tx = [o for o in {k[0] for k in prof.self_cost} | {c for _, c in prof.calls_into} if o and "net_null" in o]
    return rx, tx


def analyse(prof, packets, driver_obj, top):
    rx_objs, tx_objs = device_objects(prof)
    rx = sum(v for (a, b), v in prof.calls_into.items() if b in rx_objs and a not in rx_objs)
    tx = sum(v for (a, b), v in prof.calls_into.items() if b in tx_objs and a not in tx_objs)
    own = [(k, v) for k, v in prof.self_cost.items() if k[0] == driver_obj]
    own_total = sum(v for _, v in own)
    stages = {name: 0 for name, _ in STAGES}
    stages["other Sluice code"] = 0
    for (ob, fn), v in own:
        for name, rxp in STAGES:
            if re.search(rxp, fn):
                stages[name] += v
                break
        else:
            stages["other Sluice code"] += v
    libs = prof.total - rx - tx - own_total
    stages["libraries called by Sluice (mempool, libc)"] = libs
    per = lambda v: v / packets  # noqa: E731
    funcs = sorted(own, key=lambda kv: -kv[1])[:top]
    return {
        "packets": packets,
        "total": per(prof.total),
        "rx": per(rx),
        "tx": per(tx),
        "sluice": per(prof.total - rx - tx),
        "stages": {k: per(v) for k, v in stages.items()},
        "top": [(cgr.short_name(fn), per(v)) for (ob, fn), v in funcs],
    }


def run_workload(a, compare, wl, out):
    pcap = compare.pcap_for(a.build, wl)
    rules_file = os.path.join(out, "rules-%s.txt" % wl.name)
    with open(rules_file, "w") as f:
        f.write("\n".join(workloads.rules(wl, pcap + ".rules")) + "\n")
    driver = os.path.join(a.build, "bench", "callgrind_pmd_driver")
    base = os.path.join(out, "callgrind.%s" % wl.name)
    for old in glob.glob(base + "*"):
        os.unlink(old)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + base,
           driver, "--pcap", pcap, "--rules", rules_file, "--packets", str(a.packets)]
    if wl.action == "NORMAL":
        cmd.append("--normal")
    if a.emc:
        cmd += ["--emc", a.emc]
    print("callgrind: %s: %s" % (wl.name, " ".join(cmd)), flush=True)
    with open(base + ".log", "w") as log:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d), see %s.log" % (wl.name, r.returncode, base))
    with open(base + ".json", "w") as f:
        f.write(r.stdout)
    return base


def report_workload(a, wl, base):
    info = json.loads(open(base + ".json").read().strip().splitlines()[-1])
    dumps = [p for p in glob.glob(base + ".*") if re.search(r"\.\d+$", p)]
    prof = None
    for p in sorted(dumps):
        cand = cgr.parse(p)
        if any("measured" in d for d in cand.desc):
            prof = cand
    if prof is None:
        raise RuntimeError("no 'measured' dump among %s" % dumps)
    driver_obj = next((o for o, _ in prof.self_cost if o and o.endswith("callgrind_pmd_driver")), None)
    res = analyse(prof, info["packets"], driver_obj, a.top)
    res["info"] = info
    return res


def fmt(x):
    return "%.1f" % x


def markdown(results, label, baseline):
    lines = []
    names = list(results)
    lines.append("### Instructions per packet%s" % (" (%s)" % label if label else ""))
    lines.append("")
    lines.append("| workload | total | device rx | device tx | Sluice | " +
                 " | ".join(s for s in next(iter(results.values()))["stages"]) + " |")
    lines.append("|---|" + "---:|" * (4 + len(next(iter(results.values()))["stages"])))
    for n in names:
        r = results[n]
        lines.append("| %s | %s | %s | %s | **%s** | %s |" % (
            n, fmt(r["total"]), fmt(r["rx"]), fmt(r["tx"]), fmt(r["sluice"]),
            " | ".join(fmt(v) for v in r["stages"].values())))
    lines.append("")
    lines.append("Hits in the measured window (packets: EMC / dpcls; megaflows, subtables):")
    lines.append("")
    for n in names:
        i = results[n]["info"]
        lines.append("- %s: %d packets, %d EMC / %d dpcls hits, %d misses; %d megaflows, %d subtables"
                     % (n, i["packets"], i["emc_hits"], i["dpcls_hits"], i["misses"], i["megaflows"],
                        i["subtables"]))
    if baseline:
        lines.append("")
        lines.append("### Before / after (Sluice's own Ir per packet; total in brackets)")
        lines.append("")
        lines.append("| workload | before | after | change |")
        lines.append("|---|---:|---:|---:|")
        for n in names:
            if n not in baseline:
                continue
            b, r = baseline[n], results[n]
            lines.append("| %s | %s (%s) | %s (%s) | %+.1f%% |" % (
                n, fmt(b["sluice"]), fmt(b["total"]), fmt(r["sluice"]), fmt(r["total"]),
                100.0 * (r["sluice"] - b["sluice"]) / b["sluice"] if b["sluice"] else 0.0))
    for n in names:
        lines.append("")
        lines.append("#### %s: top functions by self cost (Ir per packet)" % n)
        lines.append("")
        lines.append("| function | Ir/pkt |")
        lines.append("|---|---:|")
        for fn, v in results[n]["top"]:
            lines.append("| `%s` | %s |" % (fn.replace("|", "\\|"), fmt(v)))
    return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    a.build = os.path.abspath(a.build)
    out = os.path.abspath(a.out or os.path.join(a.build, "bench-callgrind",
                                                datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    os.makedirs(out, exist_ok=True)
    try:
        wls = workloads.select(a.workloads)
    except ValueError as e:
        sys.exit("callgrind: %s" % e)
    for wl in wls:
        if wl.mode != "steady" or wl.pairs != 1 or wl.pvp:
            sys.exit("callgrind: %s: only single-pair steady-state workloads are supported" % wl.name)
    compare = None if a.reuse else load_compare()
    results = {}
    for wl in wls:
        base = os.path.join(out, "callgrind.%s" % wl.name) if a.reuse else run_workload(a, compare, wl, out)
        results[wl.name] = report_workload(a, wl, base)
        r = results[wl.name]
        print("callgrind: %-24s total %7.1f  rx %6.1f  tx %6.1f  Sluice %6.1f Ir/packet"
              % (wl.name, r["total"], r["rx"], r["tx"], r["sluice"]), flush=True)
    baseline = json.load(open(a.baseline)) if a.baseline else None
    md = markdown(results, a.label, baseline)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    print()
    print(md)
    print("callgrind: files in %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
