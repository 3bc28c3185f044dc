"""The workloads of bench/compare (DESIGN.md, "Performance targets").

Every workload is: a traffic kind from scripts/gen-pcap.py (flows, shuffle,
64-byte UDP), one or more source ports replaying it (net_pcap,
infinite_rx=1) into one sink each (net_null, no-rx=1), and the OpenFlow
rules that all switches get, pushed with ovs-ofctl -O OpenFlow13.  Ports are
numbered as OpenFlow ports on both switches (ofport_request): source k is
port 2k-1, its sink port 2k (k = 1, 2, ...); PVP adds the VM's port 3.

VM-to-VM (vm2vm) has no pcap and no phy port: guest A (dpdk-testpmd,
virtio_user, --forward-mode=txonly --txonly-multi-flow, 64-byte frames) is
port 1, the source; guest B (rxonly) is port 2, the sink.  Both guests share
CPU 0 (a 2-core machine: the switch's polling thread has CPU 1).

mode "steady": the figure is the sink rate after a warm-up.
mode "setup":  new-flow setup: the figure is the rate while the megaflows are
               being set up (no warm-up: the storm is the measurement), with
               upcalls/s from each switch's own counters.

A workload may belong to a curve (flows, masks, ports, setup): the curve's
x value is then plotted against Mpps.
"""

from dataclasses import dataclass, field

# Open vSwitch's shared mempool is fixed at 262144 mbufs (lib/netdev-dpdk.c,
# MAX_NB_MBUF) and net_pcap with infinite_rx copies every frame of the pcap
# into it; what the sources hold must leave room for bursts and the sink.
OVS_MBUF_LIMIT = 262144
MBUF_HEADROOM = 32768


@dataclass
class Workload:
    name: str
    kind: str                 # gen-pcap.py --kind
    flows: int                # gen-pcap.py --flows (per source port)
    title: str                # one line for the table
    masks: int = 1            # gen-pcap.py --masks (kind nmasks)
    packets: int = 0          # gen-pcap.py --packets (0: its default)
    pairs: int = 1            # source/sink port pairs
    action: str = ""          # "NORMAL": the rules say actions=NORMAL instead of output
    mode: str = "steady"      # steady | setup
    curve: str = ""           # flows | masks | ports | setup
    x: float = 0              # the curve's x value
    pvp: bool = False         # phy -> vhost-user VM (testpmd guest) -> phy
    vm2vm: bool = False       # testpmd guest A (txonly) -> switch -> guest B (rxonly); no pcap
    groups: list = field(default_factory=list)


def _k(n):
    return "1m" if n == 1_000_000 else ("%dk" % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n))


def all_workloads():
    w = []
    for n in (1, 10, 100, 1000, 10_000, 100_000, 1_000_000):
        core = n in (1, 1000, 100_000, 1_000_000)
        w.append(Workload("flows-" + _k(n), "udp", n,
                          "%s flow%s, one rule in_port=1,actions=output:2" % (n, "" if n == 1 else "s"),
                          curve="flows", x=n, groups=["core", "curves"] if core else ["curves"]))
    w.append(Workload("exact1000-100k", "exact", 100_000,
                      "1000 exact nw_dst rules, 100k flows (cache thrashing)", groups=["core"]))
    w.append(Workload("rules1000-masks20-100k", "masks", 100_000,
                      "1000 rules over 20 masks, 100k flows", groups=["core"]))
    w.append(Workload("prefix10-100k", "prefix", 100_000,
                      "ten /24 nw_dst prefix rules, 100k flows", groups=["core"]))
    w.append(Workload("normal-100k", "udp", 100_000,
                      "actions=NORMAL (MAC learning), 100k flows", action="NORMAL", groups=["core"]))
    for m in (1, 2, 4, 8, 16, 32, 64):
        w.append(Workload("masks-%d" % m, "nmasks", 100_000,
                          "%d rule%s over %d distinct masks, 100k flows" % (m, "" if m == 1 else "s", m),
                          masks=m, curve="masks", x=m, groups=["curves"]))
    for pairs in (1, 2, 4, 8):
        w.append(Workload("ports-%d" % (2 * pairs), "udp", 1000,
                          "%d ports: %d pcap sources (1k flows, 10k frames each) -> %d sinks"
                          % (2 * pairs, pairs, pairs),
                          packets=10_000, pairs=pairs, curve="ports", x=2 * pairs, groups=["curves"]))
    for n in (1000, 10_000, 100_000):
        w.append(Workload("setup-" + _k(n), "srcip", n,
                          "new-flow setup: one megaflow per source address, %s sources" % _k(n),
                          mode="setup", curve="setup", x=n,
                          groups=["core", "curves"] if n != 10_000 else ["curves"]))
    w.append(Workload("pvp", "udp", 1000,
                      "PVP: pcap -> switch -> vhost-user -> testpmd guest (io) -> switch -> sink, 1k flows",
                      pvp=True, groups=["pvp"]))
    w.append(Workload("vm2vm", "udp", 0,
                      "VM-to-VM: testpmd guest A (txonly, multi-flow) -> vhost-user -> switch -> "
                      "vhost-user -> testpmd guest B (rxonly), both guests on CPU 0",
                      vm2vm=True, groups=["pvp"]))
    return w


def select(spec):
    """Workloads named by a comma/space separated list of names and groups
    (core, curves, all = core + curves, pvp = pvp + vm2vm; flows, masks, ports, setup = a curve)."""
    every = all_workloads()
    by_name = {x.name: x for x in every}
    aliases = {"one-flow": "flows-1"}
    chosen = []
    for tok in spec.replace(",", " ").split():
        tok = aliases.get(tok, tok)
        if tok in by_name:
            picked = [by_name[tok]]
        elif tok == "all":
            picked = [x for x in every if "core" in x.groups or "curves" in x.groups]
        elif tok in ("core", "curves", "pvp"):
            picked = [x for x in every if tok in x.groups]
        elif tok in ("flows", "masks", "ports", "setup"):
            picked = [x for x in every if x.curve == tok]
        else:
            raise ValueError("unknown workload or group: %s (see --list)" % tok)
        for x in picked:
            if x not in chosen:
                chosen.append(x)
    return chosen


def rules(wl, pcap_rules_path):
    """The OpenFlow rules (ovs-ofctl add-flows syntax) of a workload."""
    if wl.pvp:
        return ["priority=10,in_port=1,actions=output:3", "priority=10,in_port=3,actions=output:2"]
    if wl.vm2vm:
        return ["priority=10,in_port=1,actions=output:2"]
    if wl.action == "NORMAL":
        return ["priority=10,actions=NORMAL"]
    if wl.pairs > 1:
        return ["priority=10,in_port=%d,actions=output:%d" % (2 * k - 1, 2 * k)
                for k in range(1, wl.pairs + 1)]
    with open(pcap_rules_path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def frames_per_source(wl):
    if wl.vm2vm:
        return 0        # the guests make the traffic: no pcap held in mbufs
    if wl.packets:
        return wl.packets
    return wl.flows * max(1, round(100_000 / wl.flows))
