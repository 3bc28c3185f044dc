// Random model test of the action executor (execute.h) on real mbufs: random
// frames and random action lists, each delivery compared with the frame
// model (Spec/Build in actions_test_util.h), every checksum verified. The
// ARP, ICMP and ND sets have their own random test, with a frame model that
// has those headers and a parse-back check, in actions_set_l3x_dpdk_test.cc.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using namespace testutil;  // NOLINT(google-build-using-namespace)

// --- Random model test -------------------------------------------------------------------
// Random frames and random action lists; every delivery is compared with the
// model's frame at that point (which also shows that nothing delivered is
// changed afterwards), every checksum is verified, and the pool balances.

Spec RandomSpec(std::mt19937_64& rng) {
  Spec s;
  auto r = [&](uint64_t n) { return rng() % n; };
  for (int i = 0; i < 6; ++i) {
    s.src.b[i] = static_cast<uint8_t>(rng());
    s.dst.b[i] = static_cast<uint8_t>(rng());
  }
  const int tags = static_cast<int>(r(3));
  for (int i = 0; i < tags; ++i) {
    const uint16_t tpid = r(2) ? 0x8100 : 0x88a8;
    const uint16_t tci = static_cast<uint16_t>(rng() & 0xefff);
    s.vlans.push_back({tpid, tci});
  }
  const uint64_t l3 = r(10);
  s.l3 = l3 == 0 ? L3::kNone : l3 < 6 ? L3::kIpv4 : L3::kIpv6;
  s.v4_src = static_cast<uint32_t>(rng());
  s.v4_dst = static_cast<uint32_t>(rng());
  s.tos = static_cast<uint8_t>(rng());
  s.ttl = static_cast<uint8_t>(rng());
  s.v4_opt_words = static_cast<uint8_t>(r(4) == 0 ? r(5) : 0);
  const uint64_t frag = r(8);
  s.frag = frag == 0 ? 0x2000 : frag == 1 ? static_cast<uint16_t>(1 + r(0x1000)) : 0;
  for (auto& x : s.v6_src) x = static_cast<uint8_t>(rng());
  for (auto& x : s.v6_dst) x = static_cast<uint8_t>(rng());
  s.tclass = static_cast<uint8_t>(rng());
  s.label = static_cast<uint32_t>(rng() & 0xfffff);
  s.hlimit = static_cast<uint8_t>(rng());
  if (s.l3 == L3::kIpv6 && r(3) == 0) {
    const uint8_t kinds[] = {rewrite::kIpv6HopByHop, rewrite::kIpv6DestOpts, rewrite::kIpv6Routing,
                             rewrite::kIpv6Fragment};
    const int n_ext = 1 + static_cast<int>(r(3));
    for (int i = 0; i < n_ext; ++i) {
      Ext6 e{kinds[r(4)]};
      e.segs_left = static_cast<uint8_t>(r(2));
      for (auto& x : e.addr) x = static_cast<uint8_t>(rng());
      e.frag_offset = r(3) == 0 ? static_cast<uint16_t>(1 + r(100)) : 0;
      e.more = r(2);
      s.ext.push_back(e);
    }
  }
  const uint8_t protos[] = {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoSctp,
                            csum::kIpProtoIcmpv6, kProtoOther};
  s.proto = protos[r(5)];
  if (s.l3 == L3::kIpv4 && s.proto == csum::kIpProtoIcmpv6) s.proto = csum::kIpProtoIcmp;
  s.sport = static_cast<uint16_t>(rng());
  s.dport = static_cast<uint16_t>(rng());
  s.udp_csum = r(4) != 0;
  s.sctp_vtag = static_cast<uint32_t>(rng());
  s.payload.resize(r(80));
  for (auto& x : s.payload) x = static_cast<uint8_t>(rng());
  return s;
}

DpAction RandomAction(std::mt19937_64& rng) {
  auto r = [&](uint64_t n) { return rng() % n; };
  // Masks: all ones, random, or zero.
  auto mask8 = [&]() -> uint8_t {
    const uint64_t k = r(3);
    return k == 0 ? 0xff : k == 1 ? static_cast<uint8_t>(rng()) : 0;
  };
  auto mask16 = [&]() -> uint16_t {
    const uint64_t k = r(3);
    return k == 0 ? 0xffff : k == 1 ? static_cast<uint16_t>(rng()) : 0;
  };
  auto mask32 = [&]() -> uint32_t {
    const uint64_t k = r(3);
    return k == 0 ? 0xffffffffu : k == 1 ? static_cast<uint32_t>(rng()) : 0;
  };
  switch (r(13)) {
    case 0:
      return DpAction::Output(static_cast<uint32_t>(r(4)));
    case 1:
      return r(2) ? DpAction::ToUserspace(rng()) : DpAction::Recirc(static_cast<uint32_t>(r(100)));
    case 2: {
      const uint16_t tpid = r(2) ? 0x8100 : 0x88a8;
      const uint16_t tci = static_cast<uint16_t>(rng()) | kVlanPresent;
      return DpAction::Push(Be16(tpid), Be16(tci));
    }
    case 3:
      return DpAction::Pop();
    case 4: {
      DpAction a = Blank(DpActionType::kSetEth);
      for (int i = 0; i < 6; ++i) {
        a.eth.src.b[i] = static_cast<uint8_t>(rng());
        a.eth.dst.b[i] = static_cast<uint8_t>(rng());
        a.eth.src_mask.b[i] = mask8();
        a.eth.dst_mask.b[i] = mask8();
      }
      return a;
    }
    case 5:
    case 6: {
      Ipv4Set f{static_cast<uint32_t>(rng()), mask32(), static_cast<uint32_t>(rng()), mask32(),
                static_cast<uint8_t>(rng()),  mask8(),  static_cast<uint8_t>(rng()),  mask8()};
      return SetIpv4Action(f);
    }
    case 7: {
      Ipv6Set f;
      for (int i = 0; i < 16; ++i) {
        f.src[i] = static_cast<uint8_t>(rng());
        f.dst[i] = static_cast<uint8_t>(rng());
        f.src_mask[i] = mask8();
        f.dst_mask[i] = mask8();
      }
      f.label = static_cast<uint32_t>(rng() & 0xfffff);
      f.label_mask = mask32() & 0xfffff;
      f.tclass = static_cast<uint8_t>(rng());
      f.tclass_mask = mask8();
      f.hlimit = static_cast<uint8_t>(rng());
      f.hlimit_mask = mask8();
      return SetIpv6Action(f);
    }
    // The frames here are never ARP nor ND (their ICMPv6 is an echo
    // request): these must leave every byte alone, which the model (for
    // which they are no-ops) checks. actions_set_l3x_dpdk_test.cc tests
    // them, and the ICMP type/code sets, on frames they apply to.
    case 8: {
      DpAction a = Blank(DpActionType::kSetArp);
      a.arp.op = Be16(static_cast<uint16_t>(rng()));
      a.arp.op_mask = Be16(mask16());
      a.arp.spa = Be32(static_cast<uint32_t>(rng()));
      a.arp.spa_mask = Be32(mask32());
      a.arp.tpa = Be32(static_cast<uint32_t>(rng()));
      a.arp.tpa_mask = Be32(mask32());
      for (int i = 0; i < 6; ++i) {
        a.arp.sha.b[i] = static_cast<uint8_t>(rng());
        a.arp.sha_mask.b[i] = mask8();
        a.arp.tha.b[i] = static_cast<uint8_t>(rng());
        a.arp.tha_mask.b[i] = mask8();
      }
      return a;
    }
    case 9: {
      DpAction a = Blank(DpActionType::kSetNd);
      for (int i = 0; i < 16; ++i) {
        a.nd.target[i] = static_cast<uint8_t>(rng());
        a.nd.target_mask[i] = mask8();
      }
      for (int i = 0; i < 6; ++i) {
        a.nd.sll.b[i] = static_cast<uint8_t>(rng());
        a.nd.sll_mask.b[i] = mask8();
        a.nd.tll.b[i] = static_cast<uint8_t>(rng());
        a.nd.tll_mask.b[i] = mask8();
      }
      return a;
    }
    default: {
      const DpActionType types[] = {DpActionType::kSetTcp, DpActionType::kSetUdp,
                                    DpActionType::kSetSctp};
      const DpActionType t = types[r(3)];
      const uint16_t src = static_cast<uint16_t>(rng());
      const uint16_t src_mask = mask16();
      const uint16_t dst = static_cast<uint16_t>(rng());
      const uint16_t dst_mask = mask16();
      return SetL4Action(t, src, src_mask, dst, dst_mask);
    }
  }
}

TEST_F(ExecuteTest, RandomActionListsMatchTheModel) {
  const uint64_t seed = 20240611;
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937_64 rng(seed);
  for (int iter = 0; iter < 400; ++iter) {
    SCOPED_TRACE(testing::Message() << "iter=" << iter);
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 6);
    std::vector<Spec> specs;
    std::vector<rte_mbuf*> pkts;
    std::vector<PacketLayout> layouts;
    for (uint32_t i = 0; i < n; ++i) {
      specs.push_back(RandomSpec(rng));
      const Built b = Build(specs.back());
      pkts.push_back(Pkt(b.bytes));
      layouts.push_back(b.layout);
    }
    std::vector<DpAction> acts;
    const int n_acts = static_cast<int>(rng() % 7);
    for (int i = 0; i < n_acts; ++i) acts.push_back(RandomAction(rng));

    // The model: what each delivering action should hand over.
    struct Expected {
      Kind kind;
      uint64_t arg;
      std::vector<Spec> frames;
    };
    std::vector<Expected> want;
    bool delivered_last = false;
    for (size_t k = 0; k < acts.size(); ++k) {
      const DpAction& a = acts[k];
      if (a.type == DpActionType::kOutput || a.type == DpActionType::kUserspace ||
          a.type == DpActionType::kRecirc) {
        Expected e{a.type == DpActionType::kOutput      ? Kind::kOutput
                   : a.type == DpActionType::kUserspace ? Kind::kUserspace
                                                        : Kind::kRecirc,
                   a.type == DpActionType::kOutput      ? a.port
                   : a.type == DpActionType::kUserspace ? a.userspace.cookie
                                                        : a.recirc_id,
                   specs};
        want.push_back(e);
        delivered_last = k + 1 == acts.size();
      } else {
        for (Spec& s : specs) ApplyToSpec(a, &s);
      }
    }

    sink_.drops = {};
    RunPkts(acts, pkts, layouts);
    ASSERT_EQ(sink_.got.size(), want.size());
    for (size_t d = 0; d < want.size(); ++d) {
      SCOPED_TRACE(testing::Message() << "delivery " << d);
      EXPECT_EQ(sink_.got[d].kind, want[d].kind);
      EXPECT_EQ(sink_.got[d].arg, want[d].arg);
      ASSERT_EQ(sink_.got[d].pkts.size(), n);
      for (uint32_t i = 0; i < n; ++i) {
        const Bytes got = Read(sink_.got[d].pkts[i]);
        ASSERT_EQ(Hex(got), Hex(Build(want[d].frames[i]).bytes)) << "packet " << i;
        ExpectChecksumsValid(got, want[d].frames[i]);
      }
    }
    EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), delivered_last ? 0u : n);
    EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 0u);
    sink_.FreeAll();
    ASSERT_EQ(rte_mempool_in_use_count(Pool()), in_use_);
  }
}

}  // namespace
}  // namespace sluice::dp
