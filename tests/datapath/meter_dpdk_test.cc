// Tests of the datapath meter table (pmd/meter.h) on real mbufs: token-bucket
// arithmetic at explicit TSC times (pktps and kbps, burst and no burst),
// OpenFlow band selection (the highest-rate band exceeded applies), drop and
// dscp_remark bands (DSCP changed, IPv4 checksum still valid), unknown
// meters, concurrent use, and the executor's kMeter hook. The pool's in-use
// count must be back to its start value after every test (no mbuf leaks).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "datapath/actions/csum.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/actions/execute.h"
#include "datapath/flow/parse.h"
#include "datapath/packet/packet.h"
#include "datapath/pmd/meter.h"
#include "tests/datapath/actions_test_util.h"

namespace sluice::dp {
namespace {

using testutil::Pool;

// An Ethernet + IPv4 + UDP frame of `len` bytes (>= 42) with DSCP `dscp`
// and a correct IPv4 header checksum.
std::vector<uint8_t> Ipv4Frame(uint32_t len, uint8_t dscp, uint8_t tag = 0) {
  std::vector<uint8_t> f(len, 0);
  const uint8_t hdr[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00};
  std::memcpy(f.data(), hdr, sizeof(hdr));
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[1] = static_cast<uint8_t>(dscp << 2 | 0x01);  // ECN bits must survive
  const uint16_t ip_len = static_cast<uint16_t>(len - 14);
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[4] = tag;  // identification: tells packets apart
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t addrs[] = {10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(ip + 12, addrs, 8);
  be16 c = Ipv4HeaderChecksum(ip, 20);
  std::memcpy(ip + 10, &c.raw, 2);
  uint8_t* udp = ip + 20;
  udp[1] = 1;
  udp[3] = 2;
  const uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
  udp[4] = static_cast<uint8_t>(udp_len >> 8);
  udp[5] = static_cast<uint8_t>(udp_len);
  return f;
}

// Ethernet + IPv6 + UDP with traffic class tclass.
std::vector<uint8_t> Ipv6Frame(uint8_t tclass) {
  std::vector<uint8_t> f(14 + 40 + 8, 0);
  f[12] = 0x86;
  f[13] = 0xdd;
  uint8_t* ip = f.data() + 14;
  ip[0] = static_cast<uint8_t>(0x60 | tclass >> 4);
  ip[1] = static_cast<uint8_t>((tclass & 0x0f) << 4 | 0x0a);  // label bits kept
  ip[2] = 0xbc;
  ip[3] = 0xde;
  ip[5] = 8;
  ip[6] = 17;
  ip[7] = 64;
  ip[8] = 0x20;
  ip[24] = 0x20;
  ip[23] = 1;
  ip[39] = 2;
  f[14 + 40 + 5] = 8;
  return f;
}

uint8_t Ipv4Dscp(const rte_mbuf* m) { return PacketData(m)[14 + 1] >> 2; }

struct Batch {
  std::vector<rte_mbuf*> pkts;
  std::vector<PacketLayout> layouts;
};

Batch MakeBatch(uint32_t n, const std::vector<uint8_t>& proto) {
  Batch b;
  for (uint32_t i = 0; i < n; ++i) {
    std::vector<uint8_t> f = proto;
    if (f.size() > 34 && f[12] == 0x08) {  // IPv4: number the packets (ip id)
      f[18] = static_cast<uint8_t>(i);
      f[24] = f[25] = 0;
      be16 c = Ipv4HeaderChecksum(f.data() + 14, 20);
      std::memcpy(f.data() + 24, &c.raw, 2);
    }
    rte_mbuf* m = PacketFromBytes(Pool(), f.data(), static_cast<uint32_t>(f.size()));
    EXPECT_NE(m, nullptr);
    alignas(64) FlowKey key;
    PacketLayout layout;
    EXPECT_EQ(ParseFlow(PacketData(m), PacketHeadLen(m), 1, &key, &layout), ParseStatus::kOk);
    b.pkts.push_back(m);
    b.layouts.push_back(layout);
  }
  return b;
}

// Applies the meter to the batch; b keeps the survivors.
uint32_t ApplyTo(MeterTable& t, uint32_t id, Batch& b, uint64_t now) {
  const uint32_t left =
      t.Apply(id, b.pkts.data(), b.layouts.data(), static_cast<uint32_t>(b.pkts.size()), now);
  b.pkts.resize(left);
  b.layouts.resize(left);
  return left;
}

// Runs n fresh IPv4 packets of `len` bytes through the meter; frees the
// survivors; returns how many survived.
uint32_t Offer(MeterTable& t, uint32_t id, uint32_t n, uint64_t now, uint32_t len = 64) {
  Batch b = MakeBatch(n, Ipv4Frame(len, 0));
  const uint32_t left = ApplyTo(t, id, b, now);
  FreePackets(b.pkts.data(), left);
  return left;
}

MeterConfig Config(uint32_t id, bool pktps, bool burst_flag, std::vector<MeterBand> bands) {
  MeterConfig c;
  c.id = id;
  c.pktps = pktps;
  c.burst_flag = burst_flag;
  c.bands = std::move(bands);
  return c;
}

MeterBand Drop(uint64_t rate, uint64_t burst = 0) {
  return MeterBand{MeterBand::kDrop, rate, burst, 0};
}
MeterBand Remark(uint64_t rate, uint64_t burst, uint8_t prec) {
  return MeterBand{MeterBand::kDscpRemark, rate, burst, prec};
}

class MeterTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Pool(), nullptr);
    in_use_ = rte_mempool_in_use_count(Pool());
    hz_ = table_.tsc_hz();
    ASSERT_GT(hz_, 0u);
  }
  void TearDown() override { EXPECT_EQ(rte_mempool_in_use_count(Pool()), in_use_) << "mbuf leak"; }

  // TSC cycles in `num/den` seconds, rounded up (so that the tokens added
  // cover the intended amount exactly or by a fraction of a cycle's worth).
  uint64_t Cycles(uint64_t num, uint64_t den = 1) const { return (hz_ * num + den - 1) / den; }

  MeterTable table_;
  uint64_t hz_ = 0;
  unsigned in_use_ = 0;
  const uint64_t t0_ = 1'000'000'000;
};

TEST_F(MeterTest, PktpsBurstThenRate) {
  ASSERT_TRUE(table_.Set(Config(1, true, true, {Drop(10, 10)})).ok());
  // The bucket starts full: 10 of 100 back-to-back packets pass.
  uint32_t passed = 0;
  for (int i = 0; i < 3; ++i) passed += Offer(table_, 1, 32, t0_);
  passed += Offer(table_, 1, 4, t0_);
  EXPECT_EQ(passed, 10u);
  // Half a second at 10 packets/s: 5 more.
  EXPECT_EQ(Offer(table_, 1, 32, t0_ + Cycles(1, 2)), 5u);
  // Just short of another packet's worth: none.
  EXPECT_EQ(Offer(table_, 1, 32, t0_ + Cycles(1, 2) + Cycles(1, 10) - 2), 0u);
  EXPECT_EQ(Offer(table_, 1, 32, t0_ + Cycles(6, 10)), 1u);
  // A long idle period fills the bucket only up to the burst.
  EXPECT_EQ(Offer(table_, 1, 32, t0_ + Cycles(100)), 10u);
  // Time going backwards (another core's TSC) adds nothing.
  EXPECT_EQ(Offer(table_, 1, 32, t0_), 0u);

  MeterStats s;
  ASSERT_TRUE(table_.Stats(1, &s));
  EXPECT_EQ(s.packets_in, 100u + 4 * 32u + 32u);
  EXPECT_EQ(s.bytes_in, s.packets_in * 64);
  ASSERT_EQ(s.bands.size(), 1u);
  EXPECT_EQ(s.bands[0].packets, s.packets_in - 26);
  EXPECT_EQ(s.bands[0].bytes, s.bands[0].packets * 64);
}

TEST_F(MeterTest, DropBandDropsExactlyTheExcessInOrder) {
  ASSERT_TRUE(table_.Set(Config(2, true, true, {Drop(1000, 7)})).ok());
  Batch b = MakeBatch(20, Ipv4Frame(64, 0));
  std::vector<rte_mbuf*> first7(b.pkts.begin(), b.pkts.begin() + 7);
  ASSERT_EQ(ApplyTo(table_, 2, b, t0_), 7u);
  EXPECT_EQ(b.pkts, first7);  // the first 7, in receive order
  for (uint32_t i = 0; i < 7; ++i) EXPECT_EQ(PacketData(b.pkts[i])[18], i);
  FreePackets(b.pkts.data(), 7);
}

TEST_F(MeterTest, NoBurstFlagMeansOneSecondOfRate) {
  // burst given but not flagged: ignored, the bucket holds one second.
  ASSERT_TRUE(table_.Set(Config(3, true, false, {Drop(20, 3)})).ok());
  EXPECT_EQ(Offer(table_, 3, 32, t0_), 20u);
  EXPECT_EQ(Offer(table_, 3, 32, t0_ + Cycles(1, 4)), 5u);
}

TEST_F(MeterTest, KbpsCountsBits) {
  // 8 kbit/s = 1000 bytes/s; burst 8 kbit = 1000 bytes = 10 packets of 100 B.
  ASSERT_TRUE(table_.Set(Config(4, false, true, {Drop(8, 8)})).ok());
  EXPECT_EQ(Offer(table_, 4, 32, t0_, 100), 10u);
  EXPECT_EQ(Offer(table_, 4, 32, t0_ + Cycles(1, 10), 100), 1u);  // 100 bytes more
  EXPECT_EQ(Offer(table_, 4, 32, t0_ + Cycles(5, 10), 100), 4u);  // 400 bytes more
  // 1000-byte packets at 8 kbit/s burst: exactly one fits a full bucket.
  EXPECT_EQ(Offer(table_, 4, 32, t0_ + Cycles(10), 1000), 1u);
  // A packet bigger than the bucket never passes.
  EXPECT_EQ(Offer(table_, 4, 4, t0_ + Cycles(20), 1001), 0u);
}

TEST_F(MeterTest, DscpRemarkRaisesDropPrecedenceAndKeepsChecksum) {
  ASSERT_TRUE(table_.Set(Config(5, true, true, {Remark(1, 1, 1)})).ok());
  const uint8_t kAf11 = 10, kAf12 = 12;
  Batch b = MakeBatch(4, Ipv4Frame(64, kAf11));
  ASSERT_EQ(ApplyTo(table_, 5, b, t0_), 4u);  // remark never drops
  EXPECT_EQ(Ipv4Dscp(b.pkts[0]), kAf11);      // conformed
  for (uint32_t i = 0; i < 4; ++i) {
    const uint8_t* ip = PacketData(b.pkts[i]) + 14;
    if (i > 0) {
      EXPECT_EQ(Ipv4Dscp(b.pkts[i]), kAf12) << i;
    }
    EXPECT_EQ(ip[1] & 0x03, 0x01) << "ECN kept";
    EXPECT_TRUE(Ipv4HeaderChecksumOk(ip, 20)) << i;
    be16 stored;
    std::memcpy(&stored.raw, ip + 10, 2);
    EXPECT_EQ(stored.raw, Ipv4HeaderChecksum(ip, 20).raw) << i;
  }
  FreePackets(b.pkts.data(), 4);

  // prec_level 2 takes AF11 to AF13 and saturates there.
  ASSERT_TRUE(table_.Set(Config(6, true, true, {Remark(1, 1, 2)})).ok());
  Batch c = MakeBatch(3, Ipv4Frame(64, kAf11));
  c.pkts.push_back(MakeBatch(1, Ipv4Frame(64, 14)).pkts[0]);  // AF13 already
  c.layouts.push_back(c.layouts[0]);
  ASSERT_EQ(ApplyTo(table_, 6, c, t0_), 4u);
  EXPECT_EQ(Ipv4Dscp(c.pkts[1]), 14);
  EXPECT_EQ(Ipv4Dscp(c.pkts[2]), 14);
  EXPECT_EQ(Ipv4Dscp(c.pkts[3]), 14);
  for (rte_mbuf* m : c.pkts) EXPECT_TRUE(Ipv4HeaderChecksumOk(PacketData(m) + 14, 20));
  FreePackets(c.pkts.data(), 4);

  MeterStats s;
  ASSERT_TRUE(table_.Stats(5, &s));
  EXPECT_EQ(s.bands[0].packets, 3u);
}

TEST_F(MeterTest, DscpRemarkIpv6KeepsVersionAndLabel) {
  ASSERT_TRUE(table_.Set(Config(7, true, true, {Remark(1, 1, 1)})).ok());
  const uint8_t tclass = 10 << 2 | 0x2;  // AF11, ECN 2
  Batch b = MakeBatch(2, Ipv6Frame(tclass));
  ASSERT_EQ(ApplyTo(table_, 7, b, t0_), 2u);
  const uint8_t* ip = PacketData(b.pkts[1]) + 14;
  EXPECT_EQ(ip[0] >> 4, 6);
  const uint8_t got = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
  EXPECT_EQ(got, 12 << 2 | 0x2);
  EXPECT_EQ(ip[1] & 0x0f, 0x0a);
  EXPECT_EQ(ip[2], 0xbc);
  EXPECT_EQ(ip[3], 0xde);
  const uint8_t* ip0 = PacketData(b.pkts[0]) + 14;
  EXPECT_EQ(static_cast<uint8_t>((ip0[0] & 0x0f) << 4 | ip0[1] >> 4), tclass);
  FreePackets(b.pkts.data(), 2);
}

TEST_F(MeterTest, UnknownMeterPassesEverything) {
  Batch b = MakeBatch(40, Ipv4Frame(64, 10));
  std::vector<rte_mbuf*> orig = b.pkts;
  EXPECT_EQ(ApplyTo(table_, 99, b, t0_), 40u);
  EXPECT_EQ(ApplyTo(table_, 70000, b, t0_), 40u);
  EXPECT_EQ(b.pkts, orig);
  EXPECT_EQ(Ipv4Dscp(b.pkts[0]), 10);
  MeterStats s;
  EXPECT_FALSE(table_.Stats(99, &s));
  FreePackets(b.pkts.data(), 40);
}

TEST_F(MeterTest, HighestRateExceededBandApplies) {
  // Drop at 5, remark at 2: packets 0-1 conform to both; 2-4 exceed only the
  // remark band (remarked); 5-9 exceed both, and drop (rate 5) is higher.
  ASSERT_TRUE(table_.Set(Config(8, true, true, {Drop(5, 5), Remark(2, 2, 1)})).ok());
  Batch b = MakeBatch(10, Ipv4Frame(64, 10));
  ASSERT_EQ(ApplyTo(table_, 8, b, t0_), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(PacketData(b.pkts[i])[18], i);
    EXPECT_EQ(Ipv4Dscp(b.pkts[i]), i < 2 ? 10 : 12) << i;
  }
  FreePackets(b.pkts.data(), 5);
  MeterStats s;
  ASSERT_TRUE(table_.Stats(8, &s));
  EXPECT_EQ(s.bands[0].packets, 5u);
  EXPECT_EQ(s.bands[1].packets, 3u);

  // Drop at 2, remark at 5: 0-1 pass; 2-4 exceed only drop (dropped); 5-9
  // exceed both and remark (rate 5) is higher: remarked, not dropped.
  ASSERT_TRUE(table_.Set(Config(9, true, true, {Drop(2, 2), Remark(5, 5, 1)})).ok());
  Batch c = MakeBatch(10, Ipv4Frame(64, 10));
  ASSERT_EQ(ApplyTo(table_, 9, c, t0_), 7u);
  const uint8_t want_id[] = {0, 1, 5, 6, 7, 8, 9};
  for (uint32_t i = 0; i < 7; ++i) {
    EXPECT_EQ(PacketData(c.pkts[i])[18], want_id[i]);
    EXPECT_EQ(Ipv4Dscp(c.pkts[i]), i < 2 ? 10 : 12) << i;
  }
  FreePackets(c.pkts.data(), 7);
}

TEST_F(MeterTest, SetReplaceDelete) {
  EXPECT_FALSE(table_.Set(Config(MeterTable::kMaxMeters, true, true, {Drop(1, 1)})).ok());
  EXPECT_FALSE(table_.Set(Config(10, true, true, {})).ok());
  EXPECT_FALSE(table_.Set(Config(10, true, true, {Drop(0, 1)})).ok());
  ASSERT_TRUE(table_.Set(Config(10, true, true, {Drop(1, 2)})).ok());
  EXPECT_EQ(Offer(table_, 10, 5, t0_), 2u);
  MeterStats s1;
  ASSERT_TRUE(table_.Stats(10, &s1));
  // Replacing refills the buckets and resets band statistics.
  ASSERT_TRUE(table_.Set(Config(10, true, true, {Drop(1, 3)})).ok());
  EXPECT_EQ(Offer(table_, 10, 5, t0_), 3u);
  MeterStats s2;
  ASSERT_TRUE(table_.Stats(10, &s2));
  EXPECT_EQ(s2.packets_in, 10u);
  EXPECT_EQ(s2.bands[0].packets, 2u);
  EXPECT_GT(s2.config_version, s1.config_version);
  EXPECT_TRUE(table_.Del(10));
  EXPECT_FALSE(table_.Del(10));
  EXPECT_FALSE(table_.Stats(10, &s2));
  EXPECT_EQ(Offer(table_, 10, 5, t0_), 5u);  // gone: unmetered
}

TEST_F(MeterTest, ConcurrentApplyNeverExceedsTheBucket) {
  ASSERT_TRUE(table_.Set(Config(11, true, true, {Drop(1, 100)})).ok());
  constexpr int kThreads = 2, kBatches = 10;
  std::vector<Batch> batches;
  for (int i = 0; i < kThreads * kBatches; ++i) batches.push_back(MakeBatch(32, Ipv4Frame(64, 0)));
  std::vector<uint32_t> passed(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        Batch& b = batches[t * kBatches + i];
        passed[t] += ApplyTo(table_, 11, b, t0_);
        MeterStats s;
        table_.Stats(11, &s);
      }
    });
  }
  // Meanwhile: churn another meter.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(table_.Set(Config(12, true, true, {Drop(1, 1)})).ok());
    table_.Del(12);
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed[0] + passed[1], 100u);
  for (Batch& b : batches) FreePackets(b.pkts.data(), static_cast<uint32_t>(b.pkts.size()));
}

// --- The executor's kMeter hook ---------------------------------------------

struct MeterSink {
  MeterTable* table;
  uint64_t now;
  std::vector<rte_mbuf*> out;
  uint32_t metered = 0;
  void Output(uint32_t, rte_mbuf** p, uint32_t n) { out.insert(out.end(), p, p + n); }
  void Userspace(uint64_t, rte_mbuf** p, uint32_t n) { FreePackets(p, n); }
  void Recirculate(uint32_t, rte_mbuf** p, uint32_t n) { FreePackets(p, n); }
  uint32_t Meter(uint32_t id, rte_mbuf** p, PacketLayout* l, uint32_t n) {
    metered += n;
    return table->Apply(id, p, l, n, now);
  }
};

struct PlainSink {
  std::vector<rte_mbuf*> out;
  void Output(uint32_t, rte_mbuf** p, uint32_t n) { out.insert(out.end(), p, p + n); }
  void Userspace(uint64_t, rte_mbuf** p, uint32_t n) { FreePackets(p, n); }
  void Recirculate(uint32_t, rte_mbuf** p, uint32_t n) { FreePackets(p, n); }
};

TEST_F(MeterTest, ExecutorRunsMeterBeforeLaterActions) {
  ASSERT_TRUE(table_.Set(Config(13, true, true, {Drop(1, 3)})).ok());
  DpActions acts({DpAction::Meter(13), DpAction::Output(2)});
  Batch b = MakeBatch(8, Ipv4Frame(64, 0));
  MeterSink sink{&table_, t0_, {}, 0};
  ExecuteActions(acts, b.pkts.data(), b.layouts.data(), 8, sink);
  EXPECT_EQ(sink.metered, 8u);
  ASSERT_EQ(sink.out.size(), 3u);
  FreePackets(sink.out.data(), 3);

  // Nothing survives: execution stops (no output at all).
  Batch c = MakeBatch(4, Ipv4Frame(64, 0));
  sink.out.clear();
  ExecuteActions(acts, c.pkts.data(), c.layouts.data(), 4, sink);
  EXPECT_TRUE(sink.out.empty());

  // A sink without the hook passes packets unmetered.
  Batch d = MakeBatch(8, Ipv4Frame(64, 0));
  PlainSink plain;
  ExecuteActions(acts, d.pkts.data(), d.layouts.data(), 8, plain);
  ASSERT_EQ(plain.out.size(), 8u);
  FreePackets(plain.out.data(), 8);
}

}  // namespace
}  // namespace sluice::dp
