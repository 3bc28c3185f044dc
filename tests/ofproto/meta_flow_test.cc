#include "ofproto/meta_flow.h"

#include <gtest/gtest.h>

#include "tests/common/of_match.h"

#include <random>

namespace sluice::ofproto {
namespace {

constexpr auto MatchOf = sluice::testing::OfMatchOf;

FieldValue RandomValue(FieldId id, std::mt19937_64& rng) {
  FieldValue v = FieldValue::Of(id);
  FieldValue ones = FieldValue::AllOnes(id);
  for (int i = 0; i < v.n; ++i) v.b[i] = static_cast<uint8_t>(rng()) & ones.b[i];
  return v;
}

TEST(MetaFlow, TableIsConsistent) {
  for (int i = 0; i < static_cast<int>(FieldId::kCount); ++i) {
    const FieldInfo& f = Field(static_cast<FieldId>(i));
    EXPECT_EQ(static_cast<int>(f.id), i);
    EXPECT_EQ(FieldByName(f.name), &f) << f.name;
    if (f.alias) {
      EXPECT_EQ(FieldByName(f.alias), &f) << f.alias;
    }
    if (f.oxm_class) {
      EXPECT_EQ(FieldByOxm(f.oxm_class, f.oxm_field), &f) << f.name;
    }
    EXPECT_LE(f.offset + (f.storage == Storage::kBytes ? f.bytes : f.width), sizeof(OfFlow));
  }
  EXPECT_EQ(FieldByName("nope"), nullptr);
  EXPECT_EQ(FieldByName("dl_dst")->id, FieldId::kEthDst);
}

// Invariant 1 (set then get) and 2 (the mask keeps exactly the field's bits),
// for every field, with random values over random flows.
TEST(MetaFlow, SetGetRoundTripAndMasks) {
  const uint64_t seed = 20261122;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < static_cast<int>(FieldId::kCount); ++i) {
    FieldId id = static_cast<FieldId>(i);
    SCOPED_TRACE(Field(id).name);
    for (int rep = 0; rep < 50; ++rep) {
      OfFlow flow;
      for (int w = 0; w < kOfFlowWords; ++w) flow.words()[w] = rng();
      FieldValue v = RandomValue(id, rng);
      OfFlow before = flow;
      SetField(&flow, id, v);
      EXPECT_EQ(GetField(flow, id), v);
      // Bits outside the field are untouched: mask everything but the field.
      OfMask m;
      m.Clear();
      SetFieldMask(&m, id, FieldValue::AllOnes(id));
      for (int w = 0; w < kOfFlowWords; ++w) {
        EXPECT_EQ(flow.words()[w] & ~m.words()[w], before.words()[w] & ~m.words()[w]) << "word " << w;
      }
      // Masking with the field's full mask keeps the value.
      OfFlow masked;
      MaskFlow(flow, m, &masked);
      EXPECT_EQ(GetField(masked, id), v);
      EXPECT_TRUE(GetFieldMask(m, id).IsAllOnes(id));
    }
  }
}

TEST(MetaFlow, SubByteFieldsShareStorage) {
  OfFlow f;
  f.Clear();
  SetField(&f, FieldId::kIpDscp, FieldValue::FromUint(FieldId::kIpDscp, 46));
  SetField(&f, FieldId::kIpEcn, FieldValue::FromUint(FieldId::kIpEcn, 1));
  EXPECT_EQ(f.dp.nw_tos, 46 << 2 | 1);
  SetField(&f, FieldId::kVlanVid, FieldValue::FromUint(FieldId::kVlanVid, 0x1000 | 100));
  SetField(&f, FieldId::kVlanPcp, FieldValue::FromUint(FieldId::kVlanPcp, 5));
  EXPECT_EQ(f.dp.vlan[0].tci.host(), 5 << 13 | 0x1000 | 100);
  EXPECT_EQ(GetField(f, FieldId::kVlanVid).ToUint(), 0x1000u | 100);
  SetField(&f, FieldId::kMetadata, FieldValue::FromUint(FieldId::kMetadata, 0x1122334455667788ull));
  EXPECT_EQ(f.metadata, 0x1122334455667788ull);
  SetField(&f, FieldId::kInPort, FieldValue::FromUint(FieldId::kInPort, 7));
  EXPECT_EQ(f.dp.in_port, 7u);
}

TEST(MetaFlow, Prerequisites) {
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kInPort, 1}})), std::nullopt);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kTcpDst, 80}})), FieldId::kTcpDst);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x0800}, {FieldId::kTcpDst, 80}})), FieldId::kTcpDst);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x0800}, {FieldId::kIpProto, 6}, {FieldId::kTcpDst, 80}})),
            std::nullopt);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 17}, {FieldId::kUdpSrc, 5}})),
            std::nullopt);
  // ipv4_dst and arp_tpa share storage: the bits are fine, the field is not.
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x0806}, {FieldId::kIpv4Dst, 1}})), std::nullopt);
  EXPECT_FALSE(FieldPrereqGuaranteed(FieldId::kIpv4Dst, MatchOf({{FieldId::kEthType, 0x0806}})));
  EXPECT_TRUE(FieldPrereqGuaranteed(FieldId::kArpTpa, MatchOf({{FieldId::kEthType, 0x0806}})));
  EXPECT_TRUE(CheckPrerequisites(MatchOf({{FieldId::kIpv4Dst, 1}})).has_value());
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x0806}, {FieldId::kArpTpa, 1}})), std::nullopt);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kVlanPcp, 3}})), FieldId::kVlanPcp);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kVlanVid, 0x1000 | 5}, {FieldId::kVlanPcp, 3}})), std::nullopt);
  EXPECT_EQ(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58},
                                        {FieldId::kIcmpv6Type, 135}, {FieldId::kIpv6NdSll, 1}})),
            std::nullopt);
  EXPECT_TRUE(CheckPrerequisites(MatchOf({{FieldId::kEthType, 0x86dd}, {FieldId::kIpProto, 58},
                                        {FieldId::kIcmpv6Type, 136}, {FieldId::kIpv6NdSll, 1}}))
                  .has_value());
}

TEST(MetaFlow, UnwildcardPrereqCoversWhatPrereqHoldsReads) {
  // Soundness of UnwildcardPrereq: flows that agree on the unwildcarded bits
  // agree on PrereqHolds.
  const uint64_t seed = 7;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint16_t types[] = {0x0800, 0x86dd, 0x0806, 0x8100};
  const uint8_t protos[] = {1, 6, 17, 58, 132};
  for (int p = 0; p <= static_cast<int>(Prereq::kNd); ++p) {
    for (int rep = 0; rep < 200; ++rep) {
      OfFlow a, b;
      a.Clear();
      b.Clear();
      a.dp.eth_type = Be16(types[rng() % 4]);
      a.dp.nw_proto = protos[rng() % 5];
      a.dp.tp_src = Be16(static_cast<uint16_t>(rng() % 3 == 0 ? 135 + rng() % 2 : rng() & 0xff));
      a.dp.vlan[0].tci = Be16(rng() % 2 ? 0x1005 : 0);
      for (int w = 0; w < kOfFlowWords; ++w) b.words()[w] = rng();
      OfMask wc;
      wc.Clear();
      UnwildcardPrereq(static_cast<Prereq>(p), a, &wc);
      for (int w = 0; w < kOfFlowWords; ++w) {
        b.words()[w] = (b.words()[w] & ~wc.words()[w]) | (a.words()[w] & wc.words()[w]);
      }
      EXPECT_EQ(PrereqHolds(static_cast<Prereq>(p), a), PrereqHolds(static_cast<Prereq>(p), b)) << p;
    }
  }
}

}  // namespace
}  // namespace sluice::ofproto
