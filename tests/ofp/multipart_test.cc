// Multipart (OpenFlow 1.0 stats) messages: requests and replies of every
// type in both versions, splitting of long replies with OFPMPF_REPLY_MORE,
// the generated table-features properties, fixed-width description strings,
// and malformed bodies.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/ofp/ofp_msgs.h"
#include "tests/ofp/ofp_test_util.h"

namespace sluice::ofp {
namespace {

using namespace test;

uint16_t U16(const Bytes& b, size_t at) { return static_cast<uint16_t>(b[at] << 8 | b[at + 1]); }
uint32_t U32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(U16(b, at)) << 16 | U16(b, at + 2);
}

const MultipartReply& ReplyOf(const Message& m) {
  static const MultipartReply kEmpty;
  const auto* r = std::get_if<MultipartReply>(&m.body);
  EXPECT_NE(r, nullptr);
  return r ? *r : kEmpty;
}

void ExpectError(const Bytes& b, uint16_t type, uint16_t code) {
  Decoded d = Decode(b.data(), b.size());
  ASSERT_FALSE(d.ok()) << Hex(b);
  EXPECT_EQ(d.error.type, type) << d.error.message;
  EXPECT_EQ(d.error.code, code) << d.error.message;
}

Bytes Fixed(Bytes b) {
  b[2] = static_cast<uint8_t>(b.size() >> 8);
  b[3] = static_cast<uint8_t>(b.size());
  return b;
}

// Encodes a reply that fits in one message, decodes it, and checks that
// re-encoding gives the same bytes.
Message ReplyRoundTrip(const Message& m, Bytes* wire = nullptr) {
  auto msgs = Encode(m);
  EXPECT_EQ(msgs.size(), 1u);
  if (msgs.size() != 1) return Message{};
  Message d = MustDecode(msgs[0]);
  EXPECT_EQ(d.type, Type::kMultipartReply);
  auto again = Encode(d);
  EXPECT_EQ(again.size(), 1u);
  if (!again.empty()) {
    EXPECT_EQ(Hex(again[0]), Hex(msgs[0]));
  }
  if (wire) *wire = msgs[0];
  return d;
}

// ---- Requests ----

TEST(OfpMultipart, RequestsRoundTrip) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : SampleMpRequests(v)) {
      const auto& want = std::get<MultipartRequest>(m.body);
      SCOPED_TRACE("type " + std::to_string(static_cast<int>(want.type)) + " v" +
                   std::to_string(v));
      Bytes b;
      Message d = RoundTrip(m, &b);
      const auto& got = std::get<MultipartRequest>(d.body);
      EXPECT_EQ(U16(b, 8), static_cast<uint16_t>(want.type));
      EXPECT_EQ(b[1], v == kVersion10 ? 16 : 18);
      EXPECT_EQ(got.type, want.type);
      switch (want.type) {
        case MpType::kFlow:
        case MpType::kAggregate:
          EXPECT_EQ(got.flow.table_id, want.flow.table_id);
          EXPECT_EQ(got.flow.out_port, want.flow.out_port);
          EXPECT_EQ(got.flow.out_group, want.flow.out_group);
          EXPECT_EQ(got.flow.cookie, want.flow.cookie);
          EXPECT_EQ(got.flow.cookie_mask, want.flow.cookie_mask);
          EXPECT_TRUE(SameMatch(got.flow.match, want.flow.match));
          EXPECT_EQ(b.size(), v == kVersion10 ? 12u + 44 : 16u + 32 + 24);
          break;
        case MpType::kPortStats:
          EXPECT_EQ(got.port_no, 3u);
          EXPECT_EQ(b.size(), v == kVersion10 ? 20u : 24u);
          break;
        case MpType::kQueue:
          EXPECT_EQ(got.port_no, ofproto::kPortAny);
          EXPECT_EQ(got.queue_id, 0xffffffffu);
          // 1.0 says "all ports" with OFPP_ALL.
          if (v == kVersion10) {
            EXPECT_EQ(U16(b, 12), 0xfffc);
          }
          break;
        case MpType::kGroup:
          EXPECT_EQ(got.group_id, 9u);
          break;
        case MpType::kMeter:
        case MpType::kMeterConfig:
          EXPECT_EQ(got.meter_id, 11u);
          break;
        case MpType::kExperimenter:
          EXPECT_EQ(got.body, want.body);
          break;
        default:
          EXPECT_EQ(b.size(), v == kVersion10 ? 12u : 16u);
      }
    }
  }
}

TEST(OfpMultipart, TableFeaturesSetKeepsItsBody) {
  MultipartRequest r;
  r.type = MpType::kTableFeatures;
  r.body = {0, 64, 0, 0, 0, 0, 0, 0};
  r.body.resize(64);
  Message d = RoundTrip(Msg(kVersion13, Type::kMultipartRequest, r));
  EXPECT_EQ(std::get<MultipartRequest>(d.body).body, r.body);
}

TEST(OfpMultipart, UnknownTypesAreBadMultipart) {
  // 1.3: 14..0xfffe; 1.0: the 1.3-only 6..13 too.
  for (uint16_t t : {14, 100, 0xfffe}) {
    Bytes b = FromHex(
        "0412001000000001"
        "0000000000000000");
    b[8] = static_cast<uint8_t>(t >> 8);
    b[9] = static_cast<uint8_t>(t);
    ExpectError(b, err::kBadRequest, err::kBadReqBadMultipart);
  }
  for (uint16_t t = 6; t <= 14; ++t) {
    Bytes b = FromHex(
        "0110000c00000001"
        "00000000");
    b[9] = static_cast<uint8_t>(t);
    ExpectError(b, err::kBadRequest, err::kBadReqBadMultipart);
  }
  // Replies too.
  ExpectError(FromHex("0413001000000001"
                      "000e000000000000"),
              err::kBadRequest, err::kBadReqBadMultipart);
}

TEST(OfpMultipart, RequestBodyLengthsAreChecked) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : SampleMpRequests(v)) {
      const MpType t = std::get<MultipartRequest>(m.body).type;
      if (t == MpType::kTableFeatures || t == MpType::kExperimenter) continue;
      Bytes b = EncodeOne(m);
      b.push_back(0);
      ExpectError(Fixed(b), err::kBadRequest, err::kBadReqBadLen);
      ASSERT_GE(b.size(), kHeaderLen + 2);
      const Bytes shorter = Fixed(Bytes(b.begin(), b.end() - 2));  // one byte short
      EXPECT_FALSE(Decode(shorter.data(), shorter.size()).ok());
    }
  }
  // A multipart header cut short.
  ExpectError(FromHex("0412000c00000001"
                      "00000000"),
              err::kBadRequest, err::kBadReqBadLen);
  ExpectError(FromHex("0110000a00000001"
                      "0000"),
              err::kBadRequest, err::kBadReqBadLen);
}

// ---- Replies ----

TEST(OfpMultipart, RepliesRoundTrip) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : SampleReplies(v)) {
      const MultipartReply& want = ReplyOf(m);
      SCOPED_TRACE("type " + std::to_string(static_cast<int>(want.type)) + " v" +
                   std::to_string(v));
      Bytes b;
      Message d = ReplyRoundTrip(m, &b);
      const MultipartReply& got = ReplyOf(d);
      ASSERT_EQ(got.type, want.type);
      EXPECT_EQ(got.flags, 0);
      EXPECT_EQ(b[1], v == kVersion10 ? 17 : 19);
      const size_t hdr = v == kVersion10 ? 12 : 16;
      switch (want.type) {
        case MpType::kDesc:
          EXPECT_EQ(b.size(), hdr + 1056);
          EXPECT_EQ(got.desc.mfr_desc, "Sluice project");
          EXPECT_EQ(got.desc.serial_num, "serial-42");
          EXPECT_EQ(got.desc.dp_desc, "br0 datapath");
          break;
        case MpType::kFlow:
          ASSERT_EQ(got.flows.size(), 2u);
          for (int i = 0; i < 2; ++i) {
            const FlowStats& g = got.flows[i];
            const FlowStats& w = want.flows[i];
            EXPECT_EQ(g.table_id, w.table_id);
            EXPECT_EQ(g.priority, w.priority);
            EXPECT_EQ(g.cookie, w.cookie);
            EXPECT_EQ(g.packet_count, w.packet_count);
            EXPECT_EQ(g.byte_count, w.byte_count);
            EXPECT_EQ(g.duration_sec, w.duration_sec);
            EXPECT_EQ(g.idle_timeout, w.idle_timeout);
            EXPECT_EQ(g.hard_timeout, w.hard_timeout);
            EXPECT_EQ(g.flags, w.flags);
            EXPECT_TRUE(SameMatch(g.match, w.match));
            EXPECT_TRUE(g.insts == w.insts);
          }
          break;
        case MpType::kAggregate:
          EXPECT_EQ(b.size(), hdr + 24);
          EXPECT_EQ(got.aggregate.packet_count, 123456u);
          EXPECT_EQ(got.aggregate.byte_count, 7890123u);
          EXPECT_EQ(got.aggregate.flow_count, 42u);
          break;
        case MpType::kTable:
          EXPECT_EQ(b.size(), hdr + 2 * (v == kVersion10 ? 64 : 24));
          ASSERT_EQ(got.tables.size(), 2u);
          EXPECT_EQ(got.tables[1].active_count, 11u);
          EXPECT_EQ(got.tables[1].lookup_count, 1001u);
          EXPECT_EQ(got.tables[1].matched_count, 901u);
          if (v == kVersion10) {
            EXPECT_EQ(got.tables[1].name, "table1");
          }
          break;
        case MpType::kPortStats:
          EXPECT_EQ(b.size(), hdr + 2 * (v == kVersion10 ? 104 : 112));
          ASSERT_EQ(got.ports.size(), 2u);
          EXPECT_EQ(got.ports[1].port_no, 2u);
          EXPECT_EQ(got.ports[1].tx_bytes, 8000u);
          EXPECT_EQ(got.ports[1].collisions, 12u);
          EXPECT_EQ(got.ports[1].duration_sec, want.ports[1].duration_sec);
          break;
        case MpType::kQueue:
          EXPECT_EQ(b.size(), hdr);
          break;
        case MpType::kGroup:
          ASSERT_EQ(got.groups.size(), 1u);
          EXPECT_EQ(got.groups[0].group_id, 7u);
          EXPECT_EQ(got.groups[0].ref_count, 2u);
          EXPECT_EQ(got.groups[0].buckets, want.groups[0].buckets);
          EXPECT_EQ(b.size(), hdr + 40 + 2 * 16);
          break;
        case MpType::kGroupDesc:
          ASSERT_EQ(got.group_descs.size(), 1u);
          EXPECT_EQ(got.group_descs[0].type, ofproto::GroupType::kSelect);
          EXPECT_EQ(got.group_descs[0].buckets, want.group_descs[0].buckets);
          break;
        case MpType::kGroupFeatures:
          EXPECT_EQ(b.size(), hdr + 40);
          EXPECT_EQ(got.group_features.max_groups, want.group_features.max_groups);
          EXPECT_EQ(got.group_features.types, 0xfu);
          break;
        case MpType::kMeter:
          ASSERT_EQ(got.meters.size(), 1u);
          EXPECT_EQ(got.meters[0].meter_id, 1u);
          EXPECT_EQ(got.meters[0].flow_count, 3u);
          EXPECT_EQ(got.meters[0].bands, want.meters[0].bands);
          EXPECT_EQ(U16(b, hdr + 4), 40 + 16);
          break;
        case MpType::kMeterConfig:
          ASSERT_EQ(got.meter_configs.size(), 1u);
          EXPECT_EQ(got.meter_configs[0].flags, want.meter_configs[0].flags);
          EXPECT_EQ(got.meter_configs[0].bands, want.meter_configs[0].bands);
          break;
        case MpType::kMeterFeatures:
          EXPECT_EQ(b.size(), hdr + 16);
          EXPECT_EQ(got.meter_features.max_meter, 65535u);
          EXPECT_EQ(got.meter_features.max_bands, 8);
          break;
        case MpType::kTableFeatures:
          ASSERT_EQ(got.table_features.size(), 3u);
          EXPECT_EQ(got.table_features[2].name, "table2");
          EXPECT_EQ(got.table_features[2].max_entries, 500000u);
          EXPECT_EQ(got.table_features[2].metadata_match, ~0ull);
          break;
        case MpType::kPortDesc:
          EXPECT_EQ(b.size(), hdr + 2 * 64);
          ASSERT_EQ(got.port_descs.size(), 2u);
          EXPECT_EQ(got.port_descs[1].name, "eth2");
          EXPECT_EQ(got.port_descs[1].curr_speed, 1000000u);
          EXPECT_EQ(got.port_descs[1].hw_addr, want.port_descs[1].hw_addr);
          break;
        case MpType::kExperimenter:
          ADD_FAILURE();
      }
    }
  }
}

TEST(OfpMultipart, OneDotThreeOnlyRepliesDoNotEncodeFor10) {
  for (MpType t : {MpType::kGroup, MpType::kGroupDesc, MpType::kGroupFeatures, MpType::kMeter,
                   MpType::kMeterConfig, MpType::kMeterFeatures, MpType::kTableFeatures,
                   MpType::kPortDesc, MpType::kExperimenter}) {
    EXPECT_TRUE(Encode(Msg(kVersion10, Type::kMultipartReply, Reply(t))).empty());
  }
}

TEST(OfpMultipart, DescStringsAreFixedWidthAndNulPadded) {
  MultipartReply r = Reply(MpType::kDesc);
  r.desc.mfr_desc = "m";
  r.desc.serial_num = std::string(40, 's');  // longer than its 32 bytes
  r.desc.dp_desc = std::string(300, 'd');
  Bytes b = EncodeOne(Msg(kVersion13, Type::kMultipartReply, r));
  ASSERT_EQ(b.size(), 16u + 256 * 4 + 32);
  EXPECT_EQ(b[16], 'm');
  for (size_t i = 17; i < 16 + 256; ++i) ASSERT_EQ(b[i], 0) << i;
  const size_t serial = 16 + 3 * 256;
  EXPECT_EQ(b[serial + 30], 's');
  EXPECT_EQ(b[serial + 31], 0);  // always NUL-terminated
  const Message decoded = MustDecode(b);
  const auto& got = ReplyOf(decoded);
  EXPECT_EQ(got.desc.serial_num, std::string(31, 's'));
  EXPECT_EQ(got.desc.dp_desc, std::string(255, 'd'));
  EXPECT_EQ(got.desc.hw_desc, "");
}

// A long reply: every message at most 65535 bytes, REPLY_MORE on all but
// the last, entries whole and in order, and each message as full as it can
// be (the next entry would not have fitted).
void CheckSplit(uint8_t v, const MultipartReply& r, size_t n_entries,
                size_t (*count)(const MultipartReply&)) {
  auto msgs = Encode(Msg(v, Type::kMultipartReply, r, 77));
  ASSERT_GT(msgs.size(), 1u);
  size_t total = 0;
  const size_t hdr = v == kVersion10 ? 12 : 16;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Bytes& b = msgs[i];
    ASSERT_LE(b.size(), 65535u);
    EXPECT_EQ(U16(b, 2), b.size());
    EXPECT_EQ(U32(b, 4), 77u);
    const bool last = i + 1 == msgs.size();
    EXPECT_EQ(U16(b, 10), last ? 0 : kMpFlagMore) << i;
    Message d = MustDecode(b);
    const MultipartReply& got = ReplyOf(d);
    EXPECT_EQ(got.flags, last ? 0 : kMpFlagMore);
    total += count(got);
    if (!last) {
      // The first entry of the next message did not fit in this one.
      const Bytes& next = msgs[i + 1];
      const size_t entry = (next.size() - hdr) / count(ReplyOf(MustDecode(next)));
      EXPECT_GT(b.size() + entry, 65535u) << "message " << i << " not filled";
    }
  }
  EXPECT_EQ(total, n_entries);
}

TEST(OfpMultipart, FiveThousandFlowsSplit) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE("v" + std::to_string(v));
    MultipartReply r = Reply(MpType::kFlow);
    for (int i = 0; i < 5000; ++i) r.flows.push_back(SampleFlowStats(v, i));
    CheckSplit(v, r, 5000, [](const MultipartReply& x) { return x.flows.size(); });
    // Order is kept across messages.
    std::vector<uint16_t> prios;
    for (const Bytes& b : Encode(Msg(v, Type::kMultipartReply, r))) {
      const Message decoded = MustDecode(b);
      for (const FlowStats& f : ReplyOf(decoded).flows) prios.push_back(f.priority);
    }
    ASSERT_EQ(prios.size(), 5000u);
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(prios[i], static_cast<uint16_t>(1000 + i));
  }
}

TEST(OfpMultipart, OtherLongRepliesSplit) {
  MultipartReply ports = Reply(MpType::kPortDesc);
  for (uint32_t p = 1; p <= 2000; ++p) ports.port_descs.push_back(SamplePort(p));
  CheckSplit(kVersion13, ports, 2000, [](const MultipartReply& x) { return x.port_descs.size(); });

  for (uint8_t v : {kVersion10, kVersion13}) {
    MultipartReply stats = Reply(MpType::kPortStats);
    stats.ports.resize(1500);
    CheckSplit(v, stats, 1500, [](const MultipartReply& x) { return x.ports.size(); });
  }
}

// Walks the properties of one table-features entry at `at`.
std::map<uint16_t, Bytes> Properties(const Bytes& b, size_t at) {
  std::map<uint16_t, Bytes> props;
  const size_t end = at + U16(b, at);
  size_t p = at + 64;
  while (p < end) {
    const uint16_t type = U16(b, p), len = U16(b, p + 2);
    EXPECT_GE(len, 4);
    props[type] = Bytes(b.begin() + p + 4, b.begin() + p + len);
    p += (len + 7) / 8 * 8;
  }
  EXPECT_EQ(p, end);
  return props;
}

TEST(OfpMultipart, TableFeaturesProperties) {
  MultipartReply r = Reply(MpType::kTableFeatures);
  for (int t = 0; t < 254; ++t) {
    TableFeatures tf;
    tf.table_id = static_cast<uint8_t>(t);
    tf.name = "t" + std::to_string(t);
    r.table_features.push_back(tf);
  }
  auto msgs = Encode(Msg(kVersion13, Type::kMultipartReply, r));
  ASSERT_GT(msgs.size(), 1u);
  size_t n = 0;
  for (const Bytes& b : msgs) {
    ASSERT_LE(b.size(), 65535u);
    n += ReplyOf(MustDecode(b)).table_features.size();
  }
  EXPECT_EQ(n, 254u);

  const Bytes& first = msgs.front();
  auto props = Properties(first, 16);
  std::set<uint16_t> types;
  for (const auto& [t, _] : props) types.insert(t);
  EXPECT_EQ(types, (std::set<uint16_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15}));
  // Instructions: goto, write-metadata, write/apply/clear-actions, meter.
  EXPECT_EQ(Hex(props[0]), "000100040002000400030004000400040005000400060004");
  EXPECT_EQ(props[1], props[0]);
  // Next tables: 1..253.
  ASSERT_EQ(props[2].size(), 253u);
  EXPECT_EQ(props[2].front(), 1);
  EXPECT_EQ(props[2].back(), 253);
  // Actions: output, push/pop vlan, set-queue, group, dec-nw-ttl, set-field.
  EXPECT_EQ(Hex(props[4]), "00000004001100040012000400150004001600040018000400190004");
  EXPECT_EQ(props[6], props[4]);
  auto has_oxm = [](const Bytes& p, uint32_t h) {
    for (size_t i = 0; i + 4 <= p.size(); i += 4) {
      if (U32(p, i) == h) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_oxm(props[8], 0x80000004));    // in_port
  EXPECT_TRUE(has_oxm(props[8], 0x8000070c));    // eth_dst/mask
  EXPECT_TRUE(has_oxm(props[8], 0x80001708));    // ipv4_src/mask
  EXPECT_TRUE(has_oxm(props[10], 0x80000606));   // eth_dst
  EXPECT_TRUE(has_oxm(props[12], 0x80000606));   // set eth_dst
  EXPECT_FALSE(has_oxm(props[12], 0x80000004));  // in_port is not writable
  EXPECT_FALSE(has_oxm(props[14], 0x80000a02));  // eth_type neither

  // The last table: no goto, no next tables.
  const Bytes& last = msgs.back();
  const Message last_msg = MustDecode(last);
  const auto& lt = ReplyOf(last_msg).table_features;
  ASSERT_FALSE(lt.empty());
  EXPECT_EQ(lt.back().table_id, 253);
  size_t at = 16;
  for (size_t i = 0; i + 1 < lt.size(); ++i) at += U16(last, at);
  auto lprops = Properties(last, at);
  EXPECT_TRUE(lprops[2].empty());
  EXPECT_EQ(Hex(lprops[0]), "0002000400030004000400040005000400060004");
}

TEST(OfpMultipart, MalformedReplyEntries) {
  MultipartReply r = Reply(MpType::kFlow);
  r.flows = {SampleFlowStats(kVersion13, 1)};
  const Bytes good = EncodeOne(Msg(kVersion13, Type::kMultipartReply, r));
  Bytes b = good;
  b[16] = b[17] = 0;  // entry length 0
  ExpectError(b, err::kBadRequest, err::kBadReqBadLen);
  b = good;
  b[16] = 0x7f;  // entry length past the message
  ExpectError(b, err::kBadRequest, err::kBadReqBadLen);
  b = good;
  b.insert(b.end(), {0, 0, 0, 0});  // a stray tail
  ExpectError(Fixed(b), err::kBadRequest, err::kBadReqBadLen);

  MultipartReply p = Reply(MpType::kPortStats);
  p.ports.resize(1);
  Bytes ps = EncodeOne(Msg(kVersion13, Type::kMultipartReply, p));
  ps.pop_back();
  ExpectError(Fixed(ps), err::kBadRequest, err::kBadReqBadLen);
}

TEST(OfpMultipart, TruncatedRepliesNeverCrash) {
  for (uint8_t v : {kVersion10, kVersion13}) {
    for (const Message& m : SampleReplies(v)) {
      const Bytes full = EncodeOne(m);
      for (size_t n = kHeaderLen; n < full.size(); ++n) {
        Bytes cut = Fixed(Bytes(full.begin(), full.begin() + static_cast<ptrdiff_t>(n)));
        Decoded d = Decode(cut.data(), cut.size());
        if (!d.ok()) continue;
        for (const Bytes& again : Encode(*d.msg)) {
          ASSERT_TRUE(Decode(again.data(), again.size()).ok()) << Hex(cut);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::ofp
