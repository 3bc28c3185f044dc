// The PMD's fast-path shortcuts (datapath/pmd/pmd.h, stage 1), driven through
// a Datapath with net_ring ports:
//   - elephant followers: a packet whose head agrees with the previous
//     parsed packet's on every byte that parse read (and has its length) is
//     not parsed; it must still be forwarded, counted, upcalled and dropped
//     exactly as if it had been, including when its headers reach past the
//     compared 64 bytes or its length differs;
//   - parse depth: with the EMC off, packets are parsed only as deep as the
//     installed masks look; hits, misses (upcalls carry full keys), header
//     rewrites, recirculation, the signature cache, tcp_flags statistics,
//     malformed frames, and a deeper megaflow appearing (and going) while
//     packets flow must all behave as with a full parse.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "datapath/actions/actions_format.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/dpif/datapath.h"
#include "datapath/flow/flow_format.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"
#include "tests/common/ring_datapath.h"
#include "tests/common/ring_port.h"
#include "tests/datapath/flow_parse_test_util.h"

namespace sluice::dp {
namespace {

using sluice::testing::RingPort;
using sluice::testing::UdpFrame;
using Frames = std::vector<std::vector<uint8_t>>;

constexpr auto Actions = sluice::testing::TestActions;

// A UDP frame from src_mac to dst_mac (last bytes) for ip dst.
std::vector<uint8_t> Udp(uint32_t dst_ip, uint8_t dst_mac = 0x02, uint8_t src_mac = 0x01,
                         uint16_t dport = 53) {
  return UdpFrame(0xc0a80001, dst_ip, 1000, dport, src_mac, dst_mac);
}

// A TCP/IPv4 frame with `flags` (data offset 5).
std::vector<uint8_t> Tcp(uint16_t flags, uint32_t seq = 1) {
  using namespace flow_parse_test;
  Bytes b = Eth({0x02, 0, 0, 0, 0, 0x02}, {0x02, 0, 0, 0, 0, 0x01}, 0x0800);
  const size_t l3 = AddIp4(b, 6, 0x0a000001, 0x0a000002);
  b.U16(4000).U16(80).U32(seq).U32(7).U16(static_cast<uint16_t>(0x5000 | flags)).U16(512).U16(0).U16(0);
  b.Zeros(6);
  FinishIp4(b, l3);
  return b.v;
}

class FastPathTest : public sluice::testing::RingDatapathTest {
 protected:
  void SetUp() override {
    DatapathOptions o;
    o.pmd_cores = {-1};
    o.n_mbufs = 8192;
    o.emc_insert_inv_prob = 1;  // always insert: deterministic EMC
    // These tests switch the EMC on and off by its hit ratio (TurnEmcOff)
    // and expect it on otherwise, whatever the subtables: the adaptive
    // policy alone, not kAuto's subtable rule (dpif_emc_policy_dpdk_test).
    OpenDatapath(o, 3, "adaptive");
  }


  Ufid Put(const std::string& match, const std::string& actions) {
    FlowKey key;
    FlowMask mask;
    Status st = ParseMatch(match, &key, &mask);
    EXPECT_TRUE(st.ok()) << match << ": " << st.message();
    Ufid ufid;
    st = dp_->FlowPut(key, mask, Actions(actions), Datapath::kAllPmds, &ufid);
    EXPECT_TRUE(st.ok()) << st.message();
    dp_->Sync();
    return ufid;
  }

  void Del(const Ufid& ufid) {
    ASSERT_TRUE(dp_->FlowDel(ufid).ok());
    dp_->Sync();
  }

  PmdCountersSnapshot Counters() { return dp_->PmdStats()[0].counters; }

  // Injects `frames` on port_no (in chunks the ring holds) and polls until
  // the PMD has received them all.
  void Run(uint32_t port_no, const Frames& frames) {
    for (size_t at = 0; at < frames.size(); at += 512) {
      Frames chunk(frames.begin() + static_cast<std::ptrdiff_t>(at),
                   frames.begin() + static_cast<std::ptrdiff_t>(std::min(at + 512, frames.size())));
      const uint64_t rx0 = Counters().rx_packets;
      ports_[port_no - 1].Inject(dp_->pool(), chunk);
      while (Counters().rx_packets - rx0 < chunk.size()) dp_->PollAllOnce();
    }
  }

  // Switches the PMD's adaptive EMC off: 64k lookups of distinct flows (on
  // port 3, dropped by a megaflow that is then removed) hit it less than 1
  // in 10 times; it then stays off for 1M lookups, far more than any test
  // here sends.
  void TurnEmcOff() {
    const Ufid sink = Put("in_port(3)", "drop");
    Frames warm;
    for (uint32_t i = 0; i < (1u << 16) + 64; ++i) warm.push_back(UdpFrame(i, 0x0b000000 + i, 7, 7));
    Run(3, warm);
    Del(sink);
    ASSERT_EQ(Counters().emc_off_periods, 1u) << "the EMC did not switch off";
  }

  std::vector<Upcall> Upcalls() {
    std::vector<Upcall> out;
    Upcall u;
    while (dp_->RecvUpcall(&u)) out.push_back(u);
    return out;
  }

  static std::vector<uint8_t> PacketBytes(const rte_mbuf* m) {
    return {PacketData(m), PacketData(m) + PacketLen(m)};
  }

};

// Two interleaved elephants, some of whose packets differ in bytes the
// parser does not read (IPv4 id and checksum): every packet reaches its
// flow's port, unchanged, in order; statistics and hit counters add up.
TEST_F(FastPathTest, ElephantBurstsFollowTheirLeaders) {
  const Ufid fa = Put("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.1)", "2");
  const Ufid fb = Put("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.2)", "3");
  std::vector<uint8_t> a = Udp(0x0a000001), b = Udp(0x0a000002);
  std::vector<uint8_t> a2 = a;
  a2[18] = 0x77;  // IPv4 id
  a2[25] = 0x42;  // checksum
  Frames burst, want_a, want_b;
  auto add = [&](const std::vector<uint8_t>& f, int n) {
    for (int i = 0; i < n; ++i) {
      burst.push_back(f);
      (f[33] == 1 ? want_a : want_b).push_back(f);
    }
  };
  add(a, 10);
  add(b, 5);
  add(a2, 3);
  add(a, 4);
  add(b, 1);
  add(a2, 9);
  ASSERT_EQ(burst.size(), 32u);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    Run(1, burst);
    EXPECT_EQ(ports_[1].Drain(), want_a);
    EXPECT_EQ(ports_[2].Drain(), want_b);
  }
  const PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.emc_hits + c.dpcls_hits, 96u);
  EXPECT_EQ(c.misses, 0u);
  EXPECT_EQ(c.tx_packets, 96u);
  EXPECT_GT(c.emc_hits, 0u);  // later rounds hit the EMC
  FlowInfo ia, ib;
  ASSERT_TRUE(dp_->FlowGet(fa, &ia));
  ASSERT_TRUE(dp_->FlowGet(fb, &ib));
  EXPECT_EQ(ia.packets, 3u * want_a.size());
  EXPECT_EQ(ia.bytes, 3u * 60 * want_a.size());
  EXPECT_EQ(ib.packets, 3u * want_b.size());
}

// Followers of a missed packet are upcalled, each with its own packet and
// the full key.
TEST_F(FastPathTest, FollowersOfAMissAreUpcalled) {
  std::vector<uint8_t> a = Udp(0x0a000001);
  std::vector<uint8_t> a2 = a;
  a2[19] = 0x99;  // IPv4 id only
  const Frames burst = {a, a, a2, a, Udp(0x0a000002), a};
  Run(1, burst);
  std::vector<Upcall> ups = Upcalls();
  ASSERT_EQ(ups.size(), burst.size());
  for (size_t i = 0; i < ups.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ups[i].type, UpcallType::kMiss);
    EXPECT_EQ(PacketBytes(ups[i].packet), burst[i]);
    alignas(64) FlowKey want;
    PacketLayout layout;
    ASSERT_EQ(ParseFlow(burst[i].data(), 60, 1, &want, &layout), ParseStatus::kOk);
    EXPECT_TRUE(ups[i].key == want);
    EXPECT_EQ(ups[i].layout.l4_ofs, 34);
    rte_pktmbuf_free(ups[i].packet);
  }
  EXPECT_EQ(Counters().misses, burst.size());
}

// IPv6 + hop-by-hop puts the UDP destination port at bytes 64-65: frames
// equal in their first 64 bytes but not in that port go to different flows.
TEST_F(FastPathTest, HeadersPastTheWindowAreParsed) {
  auto frame = [](uint16_t dport) {
    using namespace flow_parse_test;
    flow_parse_test::Bytes ext;
    ext.U8(17).U8(0).Zeros(6);
    AddUdp(ext, 1234, dport, 20);
    return Ip6Frame(0, ext).v;
  };
  const std::vector<uint8_t> x = frame(5001), y = frame(5002);
  ASSERT_EQ(0, std::memcmp(x.data(), y.data(), 64));
  Put("in_port(1),eth_type(0x86dd),ipv6(proto=17),udp(dst=5001)", "2");
  Put("in_port(1),eth_type(0x86dd),ipv6(proto=17),udp(dst=5002)", "3");
  const Frames burst = {x, x, y, y, x, y, x, x, x, y};
  for (int round = 0; round < 2; ++round) {
    Run(1, burst);
    EXPECT_EQ(ports_[1].Drain(), Frames(6, x));
    EXPECT_EQ(ports_[2].Drain(), Frames(4, y));
  }
  EXPECT_EQ(Counters().misses, 0u);
}

// Same first 64 bytes, different lengths: padding changes nothing, a frame
// cut short of its IPv4 total length is malformed and dropped.
TEST_F(FastPathTest, LengthIsPartOfTheCompare) {
  Put("in_port(1),eth_type(0x0800),ipv4(dst=10.0.0.1)", "2");
  std::vector<uint8_t> a = Udp(0x0a000001);
  a.resize(100);
  a[17] = 86;  // IPv4 total length: 100 - 14
  std::vector<uint8_t> padded = a;
  padded.resize(120, 0);  // Ethernet padding after the datagram
  std::vector<uint8_t> cut = a;
  cut.resize(80);  // shorter than the datagram
  Run(1, {a, a, padded, padded, cut, a, cut, padded});
  EXPECT_EQ(ports_[1].Drain(), (Frames{a, a, padded, padded, a, padded}));
  const PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.parse_drops[static_cast<int>(ParseStatus::kBadIpv4)], 2u);
  EXPECT_EQ(c.tx_packets, 6u);
}

// TCP packets of one flow with different flags: the flags are read, so
// every packet's flags reach the megaflow's statistics.
TEST_F(FastPathTest, TcpFlagsOfABurstAreUnited) {
  const Ufid f = Put("in_port(1),eth_type(0x0800),ipv4(proto=6)", "2");
  Run(1, {Tcp(0x010, 1), Tcp(0x010, 2), Tcp(0x010, 3), Tcp(0x018, 4), Tcp(0x018, 5)});
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(f, &info));
  EXPECT_EQ(info.tcp_flags, Be16(0x018).raw);  // kept in network order
  Run(1, {Tcp(0x002), Tcp(0x011), Tcp(0x011)});
  ASSERT_TRUE(dp_->FlowGet(f, &info));
  EXPECT_EQ(info.tcp_flags, Be16(0x01b).raw);
  EXPECT_EQ(info.packets, 8u);
  EXPECT_EQ(ports_[1].Drain().size(), 8u);
}

// --- Parse depth (EMC off) ---------------------------------------------------

// A metadata-only megaflow: packets are forwarded and counted, tcp_flags
// still reach the statistics, malformed frames are still dropped and counted.
TEST_F(FastPathTest, MetadataDepthForwardsCountsAndDrops) {
  TurnEmcOff();
  const Ufid f = Put("in_port(1)", "2");
  std::vector<uint8_t> bad = Udp(0x0a000001);
  bad[14] = 0x43;  // IHL 3
  std::vector<uint8_t> runt(10, 0xab);
  const PmdCountersSnapshot c0 = Counters();
  const Frames good = {Tcp(0x002), Tcp(0x010), Udp(0x0a000001), Udp(0x0a000001), Tcp(0x011)};
  Run(1, {good[0], good[1], bad, good[2], runt, good[3], bad, good[4]});
  EXPECT_EQ(ports_[1].Drain(), good);
  const PmdCountersSnapshot c = Counters();
  EXPECT_EQ(c.parse_drops[static_cast<int>(ParseStatus::kBadIpv4)] -
                c0.parse_drops[static_cast<int>(ParseStatus::kBadIpv4)],
            2u);
  EXPECT_EQ(c.parse_drops[static_cast<int>(ParseStatus::kTooShort)] -
                c0.parse_drops[static_cast<int>(ParseStatus::kTooShort)],
            1u);
  EXPECT_EQ(c.dpcls_hits - c0.dpcls_hits, 5u);
  EXPECT_EQ(c.emc_hits, c0.emc_hits);
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(f, &info));
  EXPECT_EQ(info.packets, 5u);
  EXPECT_EQ(info.tcp_flags, Be16(0x013).raw);  // kept in network order
  uint64_t bytes = 0;
  for (const auto& g : good) bytes += g.size();
  EXPECT_EQ(info.bytes, bytes);
}

// Misses under shallow (metadata, then L2) megaflows are upcalled with the
// full key, followers included.
TEST_F(FastPathTest, ShallowMissesUpcallFullKeys) {
  TurnEmcOff();
  auto expect_full_keys = [&](const Frames& frames, uint32_t in_port) {
    std::vector<Upcall> ups = Upcalls();
    ASSERT_EQ(ups.size(), frames.size());
    for (size_t i = 0; i < ups.size(); ++i) {
      SCOPED_TRACE(i);
      alignas(64) FlowKey want;
      PacketLayout layout;
      ASSERT_EQ(ParseFlow(frames[i].data(), static_cast<uint32_t>(frames[i].size()), in_port,
                          &want, &layout),
                ParseStatus::kOk);
      EXPECT_TRUE(ups[i].key == want) << FormatMatch(ups[i].key, ExactMask()) << "\nwant " << FormatMatch(want, ExactMask());
      EXPECT_EQ(ups[i].key.nw_dst, want.nw_dst);
      EXPECT_EQ(ups[i].key.tp_dst, Be16(53));
      EXPECT_EQ(ups[i].layout.l3_ofs, 14);
      EXPECT_EQ(ups[i].layout.l4_ofs, 34);
      EXPECT_EQ(PacketBytes(ups[i].packet), frames[i]);
      rte_pktmbuf_free(ups[i].packet);
    }
  };
  const Ufid meta = Put("in_port(2)", "1");
  const Frames misses = {Udp(0x0a000001), Udp(0x0a000001), Udp(0x0a000001), Udp(0x0a000007),
                         Tcp(0x002)};
  Run(1, misses);
  {
    std::vector<Upcall> ups = Upcalls();
    ASSERT_EQ(ups.size(), misses.size());
    for (size_t i = 0; i < ups.size(); ++i) {
      alignas(64) FlowKey want;
      PacketLayout layout;
      ASSERT_EQ(ParseFlow(misses[i].data(), static_cast<uint32_t>(misses[i].size()), 1, &want,
                          &layout),
                ParseStatus::kOk);
      EXPECT_TRUE(ups[i].key == want) << i << ": " << FormatMatch(ups[i].key, ExactMask());
      EXPECT_EQ(PacketBytes(ups[i].packet), misses[i]);
      rte_pktmbuf_free(ups[i].packet);
    }
  }
  Del(meta);
  Put("in_port(1),eth(dst=02:00:00:00:00:02)", "2");
  const Frames l2_misses = {Udp(0x0a000001, 0x03), Udp(0x0a000001, 0x03), Udp(0x0a000002, 0x04)};
  Run(1, {Udp(0x0a000001), l2_misses[0], l2_misses[1], Udp(0x0a000005), l2_misses[2]});
  EXPECT_EQ(ports_[1].Drain(), (Frames{Udp(0x0a000001), Udp(0x0a000005)}));
  expect_full_keys(l2_misses, 1);
}

// A deeper megaflow installed while packets flow is matched from the next
// burst on (its IPv4 field is parsed), and after its removal its packets
// miss again, with full keys.
TEST_F(FastPathTest, DeeperMegaflowWhilePacketsFlow) {
  TurnEmcOff();
  Put("in_port(1),eth(dst=02:00:00:00:00:02)", "2");
  const std::vector<uint8_t> to2 = Udp(0x0a000001, 0x02), deep = Udp(0x0a000001, 0x03),
                             other = Udp(0x0a000002, 0x03);
  Run(1, {to2, to2});
  EXPECT_EQ(ports_[1].Drain().size(), 2u);

  const Ufid d = Put("in_port(1),eth(dst=02:00:00:00:00:03),eth_type(0x0800),ipv4(dst=10.0.0.1)", "3");
  const PmdCountersSnapshot c0 = Counters();
  Run(1, {deep, to2, deep, other, deep});
  EXPECT_EQ(ports_[2].Drain(), Frames(3, deep));
  EXPECT_EQ(ports_[1].Drain(), Frames{to2});
  std::vector<Upcall> ups = Upcalls();
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].key.nw_dst, Be32(0x0a000002));
  EXPECT_EQ(ups[0].key.eth_dst, (EthAddr{{2, 0, 0, 0, 0, 3}}));
  rte_pktmbuf_free(ups[0].packet);
  EXPECT_EQ(Counters().misses - c0.misses, 1u);

  Del(d);
  Run(1, {deep, to2});
  EXPECT_EQ(ports_[1].Drain(), Frames{to2});
  EXPECT_TRUE(ports_[2].Drain().empty());
  ups = Upcalls();
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].key.nw_dst, Be32(0x0a000001));
  EXPECT_EQ(ups[0].key.tp_dst, Be16(53));
  rte_pktmbuf_free(ups[0].packet);
}

// Actions that rewrite headers run on a metadata-depth hit exactly as the
// executor runs them on a fully parsed packet (kExecute with the layout).
TEST_F(FastPathTest, ShallowHitsRewriteHeadersLikeAFullParse) {
  TurnEmcOff();
  const std::string actions = "set(ipv4(dst=10.9.9.9)),set(udp(dst=80)),push_vlan(vid=10,pcp=0),2";
  Put("in_port(1)", actions);
  const Frames in = {Udp(0x0a000001), Udp(0x0a000001), Udp(0x0a000002)};
  Run(1, in);
  const Frames got = ports_[1].Drain();
  ASSERT_EQ(got.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    rte_mbuf* m = PacketFromBytes(dp_->pool(), in[i].data(), static_cast<uint32_t>(in[i].size()));
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(dp_->Execute(0, m, 1, PacketLayout{14, 34}, Actions(actions)).ok());
    dp_->Sync();
    const Frames want = ports_[1].Drain();
    ASSERT_EQ(want.size(), 1u);
    EXPECT_EQ(got[i], want[0]) << i;
  }
  EXPECT_EQ(got[0][12], 0x81);  // the tag was pushed
}

// Recirculation at metadata depth: the second pass matches on recirc_id.
TEST_F(FastPathTest, RecirculationAtShallowDepth) {
  TurnEmcOff();
  Put("recirc_id(0),in_port(1)", "recirc(0x5)");
  const Ufid second = Put("recirc_id(0x5),in_port(1)", "2");
  const Frames in = {Udp(0x0a000001), Udp(0x0a000001), Udp(0x0a000003)};
  const PmdCountersSnapshot c0 = Counters();
  Run(1, in);
  EXPECT_EQ(ports_[1].Drain(), in);
  EXPECT_EQ(Counters().misses, c0.misses);
  FlowInfo info;
  ASSERT_TRUE(dp_->FlowGet(second, &info));
  EXPECT_EQ(info.packets, 3u);
}

// Three L2 subtables switch the signature cache on; shallow keys go through
// it (and through the walk) to the right megaflows, twice.
TEST_F(FastPathTest, SignatureCacheWithShallowKeys) {
  TurnEmcOff();
  Put("in_port(2)", "1");
  Put("in_port(1),eth(dst=02:00:00:00:00:02)", "2");
  Put("in_port(1),eth(src=02:00:00:00:00:05,dst=02:00:00:00:00:03)", "3");
  ASSERT_EQ(dp_->PmdStats()[0].n_subtables, 3u);
  const std::vector<uint8_t> to2 = Udp(0x0a000001, 0x02, 0x01), to3 = Udp(0x0a000001, 0x03, 0x05),
                             miss = Udp(0x0a000001, 0x03, 0x06);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    const PmdCountersSnapshot c0 = Counters();
    Run(1, {to2, to3, miss, to3, to2, to2});
    EXPECT_EQ(ports_[1].Drain(), Frames(3, to2));
    EXPECT_EQ(ports_[2].Drain(), Frames(2, to3));
    std::vector<Upcall> ups = Upcalls();
    ASSERT_EQ(ups.size(), 1u);
    EXPECT_EQ(ups[0].key.eth_src, (EthAddr{{2, 0, 0, 0, 0, 6}}));
    EXPECT_EQ(ups[0].key.nw_dst, Be32(0x0a000001));
    rte_pktmbuf_free(ups[0].packet);
    EXPECT_EQ(Counters().dpcls_hits - c0.dpcls_hits, 5u);
  }
}

}  // namespace
}  // namespace sluice::dp
