#!/usr/bin/env python3
"""Generate pcap files of synthetic Ethernet/IPv4/UDP traffic for Sluice's benchmarks.

Standard library only: the pcap format is written directly with struct, and
every distinct frame is built once per flow and then repeated, so a million
packets take a few seconds.

Frames
  Ethernet II (dst 02:00:00:00:00:02, src 02:00:00:00:00:01, type 0x0800),
  IPv4 (IHL 5, TTL 64, DF clear, ID = flow index & 0xffff, valid header
  checksum), UDP (valid checksum over the pseudo-header, never 0), payload
  filled with the flow index (big-endian, repeated) then zeros.
  --size is the frame size ON THE WIRE, FCS included (default 64); a pcap
  record holds the frame without its 4-byte FCS, so 64-byte frames are
  60-byte pcap records (18 bytes of UDP payload).

Packet order
  Every flow appears equally often.  The file is a sequence of rounds; each
  round is a fresh permutation (fixed --seed) of all N flows, so the distance
  between two packets of one flow is about N packets (between 1 and 2N-1,
  mean N).  When --packets is not a multiple of N, the last round is a partial
  permutation (some flows appear once more than others; a warning says so).
  Default packet count: N * max(1, round(100000 / N)), i.e. about 100k frames
  (DPDK's net_pcap with infinite_rx=1 copies every frame of the file into the
  port's mempool at start, see /work/shared/BENCH-NOTES.md), or N when N
  exceeds 100k.

Kinds (flow i = 0 .. N-1)
  udp     N distinct 5-tuples: src 172.16.0.0/12 + (i mod 2^20) + 1,
          sport 1024 + (i mod 64000), dst 10.0.0.1:5001.
          Rules: in_port=1,actions=output:2
  prefix  N flows over ten /24 destination subnets 10.0.0.0/24 .. 10.0.9.0/24:
          dst 10.0.(i mod 10).(1 + (i div 10) mod 254), src and sport as udp.
          Rules: 10 rules ip,nw_dst=10.0.K.0/24,actions=output:2 (K = 0..9).
  masks   N flows hitting 1000 rules over 20 distinct mask shapes (see
          MASK_SHAPES below): shape k = i mod 20, rule j = (i div 20) mod 50.
          Shape k matches udp,nw_dst=<prefix of length L_k> and, for the odd
          shapes, tp_dst too; each shape lives in its own 10.(100+k).0.0/16,
          so every packet matches exactly one rule.
          Rules: 20 x 50 rules, all priority 100, actions=output:2.
  srcip   one distinct source IP per flow (new-flow setup): src 172.16.0.0/12
          + i + 1 (wraps past 2^20 flows, then sport differs), dst 10.0.0.1:5001.
          Rules: one exact rule per source, ip,nw_src=A,actions=output:2, so
          that a megaflow has to look at all 32 bits of nw_src (a single
          catch-all rule would give one megaflow for every source).
  exact   N flows over 1000 exact destination rules: rule j = i mod 1000,
          dst 10.1.(j div 256).(j mod 256), src and sport as udp (so the
          megaflows are about 1000 while the exact-match caches see N flows).
          Rules: 1000 rules priority=100,ip,nw_dst=10.1.A.B,actions=output:2.
  nmasks  N flows over --masks M rules (1..64), one per distinct mask shape:
          shape k = i mod M matches nw_dst=10.(100+k).0.0/L with
          L = 16 + (k mod 16), plus tp_dst=7000 when bit 0 of k div 16 is
          set and nw_src=172.16.0.0/12 when bit 1 is; dst = 10.(100+k).0.0
          + ((i div M) mod 2^(32-L)), tp_dst 7000.
          Rules: M rules priority=100,udp,...,actions=output:2.

Companion rules file
  Unless --no-rules, FILE.rules is written next to FILE: OpenFlow rules in
  ovs-ofctl syntax (one per line, "ovs-ofctl add-flows BR FILE.rules"),
  output port 2 = the sink, input port 1 = the pcap source.

Output is deterministic: same arguments, same bytes.
"""

import argparse
import random
import struct
import sys
import time

DST_MAC = bytes.fromhex("020000000002")
SRC_MAC = bytes.fromhex("020000000001")
ETH_HDR = DST_MAC + SRC_MAC + b"\x08\x00"

SRC_BASE = (172 << 24) | (16 << 16)  # 172.16.0.0/12
DST_DEFAULT = (10 << 24) | 1  # 10.0.0.1
DPORT_DEFAULT = 5001

# masks kind: 20 shapes = 10 nw_dst prefix lengths x {without, with tp_dst}.
# Shape k: prefix length MASK_PLEN[k // 2], tp_dst matched when k is odd.
# Shape k's rules: nw_dst = 10.(100+k).0.0 + (j << (32 - L)) / L, j = 0..49
# (L >= 22 so that 50 prefixes fit in the /16), tp_dst = 6000 + j if matched.
MASK_PLEN = [22, 23, 24, 25, 26, 27, 28, 29, 30, 32]
MASK_SHAPES = [(MASK_PLEN[k // 2], bool(k % 2)) for k in range(20)]
MASK_RULES_PER_SHAPE = 50

# exact kind: rule j matches nw_dst=10.1.(j >> 8).(j & 255) exactly.
EXACT_RULES = 1000

# nmasks kind: shape k = (nw_dst prefix length, tp_dst matched, nw_src /12 matched).
NMASKS_MAX = 64


def nmask_shape(k):
    flags = k // 16
    return 16 + k % 16, bool(flags & 1), bool(flags & 2)


DEFAULT_TARGET_PACKETS = 100_000

PCAP_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
REC_HDR = struct.Struct("<IIII")
TS_BASE = 1_700_000_000  # fixed so that output is reproducible


def ip_str(a):
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def csum(data):
    """Internet checksum (ones' complement of the ones' complement sum)."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def build_frame(flow_idx, src, dst, sport, dport, record_len):
    """One Ethernet/IPv4/UDP frame of record_len bytes (FCS excluded)."""
    ip_len = record_len - 14
    udp_len = ip_len - 20
    plen = udp_len - 8
    tag = struct.pack("!I", flow_idx & 0xFFFFFFFF)
    payload = (tag * (plen // 4 + 1))[: min(plen, 16)] + b"\x00" * max(0, plen - 16)
    src_b = struct.pack("!I", src)
    dst_b = struct.pack("!I", dst)
    ip_wo = struct.pack("!BBHHHBBH", 0x45, 0, ip_len, flow_idx & 0xFFFF, 0, 64, 17, 0) + src_b + dst_b
    ip_hdr = ip_wo[:10] + struct.pack("!H", csum(ip_wo)) + ip_wo[12:]
    udp_wo = struct.pack("!HHHH", sport, dport, udp_len, 0)
    pseudo = src_b + dst_b + struct.pack("!BBH", 0, 17, udp_len)
    uc = csum(pseudo + udp_wo + payload)
    if uc == 0:
        uc = 0xFFFF  # 0 means "no checksum" in UDP over IPv4
    udp_hdr = udp_wo[:6] + struct.pack("!H", uc)
    frame = ETH_HDR + ip_hdr + udp_hdr + payload
    assert len(frame) == record_len
    return frame


def flow_tuple(kind, i, masks=1):
    """(src, dst, sport, dport) of flow i for the given kind."""
    src = SRC_BASE + (i % (1 << 20)) + 1
    sport = 1024 + (i % 64000)
    if kind == "udp":
        return src, DST_DEFAULT, sport, DPORT_DEFAULT
    if kind == "prefix":
        dst = (10 << 24) | ((i % 10) << 8) | (1 + (i // 10) % 254)
        return src, dst, sport, DPORT_DEFAULT
    if kind == "masks":
        k = i % 20
        j = (i // 20) % MASK_RULES_PER_SHAPE
        plen, with_port = MASK_SHAPES[k]
        host_bits = 32 - plen
        base = (10 << 24) | ((100 + k) << 16) | (j << host_bits)
        host = (i // (20 * MASK_RULES_PER_SHAPE)) % (1 << host_bits) if host_bits else 0
        dst = base | host
        dport = 6000 + j if with_port else DPORT_DEFAULT
        return src, dst, sport, dport
    if kind == "srcip":
        return src, DST_DEFAULT, 1024 + (i >> 20) % 64000, DPORT_DEFAULT
    if kind == "exact":
        j = i % EXACT_RULES
        return src, (10 << 24) | (1 << 16) | j, sport, DPORT_DEFAULT
    if kind == "nmasks":
        k = i % masks
        plen, _, _ = nmask_shape(k)
        host = (i // masks) % (1 << (32 - plen))
        return src, (10 << 24) | ((100 + k) << 16) | host, sport, 7000
    raise ValueError(kind)


def rules_for(kind, flows, masks=1):
    if kind == "udp":
        yield "in_port=1,actions=output:2"
    elif kind == "prefix":
        for k in range(10):
            yield "priority=100,ip,nw_dst=10.0.%d.0/24,actions=output:2" % k
    elif kind == "masks":
        for k, (plen, with_port) in enumerate(MASK_SHAPES):
            for j in range(MASK_RULES_PER_SHAPE):
                net = (10 << 24) | ((100 + k) << 16) | (j << (32 - plen))
                r = "priority=100,udp,nw_dst=%s/%d" % (ip_str(net), plen)
                if with_port:
                    r += ",tp_dst=%d" % (6000 + j)
                yield r + ",actions=output:2"
    elif kind == "srcip":
        for i in range(min(flows, 1 << 20)):
            yield "priority=100,ip,nw_src=%s,actions=output:2" % ip_str(SRC_BASE + i + 1)
    elif kind == "exact":
        for j in range(EXACT_RULES):
            yield "priority=100,ip,nw_dst=10.1.%d.%d,actions=output:2" % (j >> 8, j & 255)
    elif kind == "nmasks":
        for k in range(masks):
            plen, with_port, with_src = nmask_shape(k)
            r = "priority=100,udp,nw_dst=10.%d.0.0/%d" % (100 + k, plen)
            if with_port:
                r += ",tp_dst=7000"
            if with_src:
                r += ",nw_src=172.16.0.0/12"
            yield r + ",actions=output:2"


def packet_order(flows, packets, seed):
    """Flow indices in send order: rounds of fresh permutations of all flows."""
    rng = random.Random(seed)
    order = []
    perm = list(range(flows))
    full, rest = divmod(packets, flows)
    for _ in range(full):
        rng.shuffle(perm)
        order.extend(perm)
    if rest:
        rng.shuffle(perm)
        order.extend(perm[:rest])
    return order


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Write a pcap of synthetic 64-byte (by default) Ethernet/IPv4/UDP "
        "traffic for Sluice's end-to-end benchmarks.",
        epilog="--size counts the 4-byte FCS: 64-byte frames on the wire are 60-byte pcap "
        "records. See the module docstring (head of this file) and docs/benchmarks.md.",
    )
    p.add_argument("--out", required=True, help="output pcap file")
    p.add_argument("--flows", type=int, required=True, help="number of distinct flows N")
    p.add_argument(
        "--packets", type=int, default=None,
        help="number of frames (default: N * max(1, round(100000/N)), about 100k)",
    )
    p.add_argument("--seed", type=int, default=1, help="shuffle seed (default 1)")
    p.add_argument("--kind", choices=["udp", "prefix", "masks", "srcip", "exact", "nmasks"],
                   default="udp")
    p.add_argument("--masks", type=int, default=1,
                   help="nmasks kind: number of distinct mask shapes, 1..%d (default 1)" % NMASKS_MAX)
    p.add_argument("--size", type=int, default=64,
                   help="frame size on the wire incl. FCS, 64..9018 (default 64)")
    p.add_argument("--no-rules", action="store_true", help="do not write FILE.rules")
    p.add_argument("-q", "--quiet", action="store_true")
    a = p.parse_args(argv)

    if a.flows < 1:
        p.error("--flows must be >= 1")
    if not 1 <= a.masks <= NMASKS_MAX:
        p.error("--masks must be within 1..%d" % NMASKS_MAX)
    if not 64 <= a.size <= 9018:
        p.error("--size must be within 64..9018")
    if a.kind == "srcip" and a.flows > (1 << 20):
        print("gen-pcap: warning: more than 2^20 sources: source IPs wrap, "
              "source ports tell flows apart", file=sys.stderr)
    if a.packets is None:
        a.packets = a.flows * max(1, round(DEFAULT_TARGET_PACKETS / a.flows))
    if a.packets < 1:
        p.error("--packets must be >= 1")
    if a.packets < a.flows:
        print("gen-pcap: warning: --packets %d < --flows %d: only %d flows appear"
              % (a.packets, a.flows, a.packets), file=sys.stderr)
    elif a.packets % a.flows:
        print("gen-pcap: warning: %d packets is not a multiple of %d flows: flows appear "
              "%d or %d times" % (a.packets, a.flows, a.packets // a.flows,
                                  a.packets // a.flows + 1), file=sys.stderr)

    t0 = time.monotonic()
    rec_len = a.size - 4
    used = min(a.flows, a.packets)
    frames = []
    seen = set()
    for i in range(used):
        t = flow_tuple(a.kind, i, a.masks)
        frames.append(build_frame(i, *t, rec_len))
        seen.add(t)
    if len(seen) != used:
        print("gen-pcap: internal error: %d flows but %d distinct 5-tuples"
              % (used, len(seen)), file=sys.stderr)
        return 1
    del seen
    order = packet_order(a.flows, a.packets, a.seed)

    pack = REC_HDR.pack
    with open(a.out, "wb") as f:
        f.write(PCAP_GLOBAL)
        chunk = []
        for n, fi in enumerate(order):
            # one packet per microsecond
            chunk.append(pack(TS_BASE + n // 1_000_000, n % 1_000_000, rec_len, rec_len))
            chunk.append(frames[fi])
            if len(chunk) >= 131072:
                f.write(b"".join(chunk))
                chunk.clear()
        f.write(b"".join(chunk))

    nrules = 0
    if not a.no_rules:
        with open(a.out + ".rules", "w") as f:
            f.write("# %s: --kind %s --flows %d%s (ovs-ofctl add-flows syntax; port 1 = pcap "
                    "source, port 2 = sink)\n" % (a.out, a.kind, a.flows,
                                                  " --masks %d" % a.masks if a.kind == "nmasks" else ""))
            for r in rules_for(a.kind, a.flows, a.masks):
                f.write(r + "\n")
                nrules += 1

    if not a.quiet:
        print("gen-pcap: %s: %d frames of %d bytes (%d on the wire), %d flows, kind %s, "
              "seed %d, %s%.1f s" % (a.out, a.packets, rec_len, a.size, a.flows, a.kind,
                                     a.seed, ("%d rules in %s.rules, " % (nrules, a.out))
                                     if not a.no_rules else "", time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
