#pragma once
// Helpers shared by the OpenFlow codec tests: hex, running ovs-ofctl and
// the capture script, sample values, and the round-trip check.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "controller/ofp/ofp_msgs.h"
#include "ofproto/ofctl_parse.h"

namespace sluice::ofp::test {

using Bytes = std::vector<uint8_t>;

inline std::string Hex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

inline Bytes FromHex(std::string_view s) {
  Bytes b;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    b.push_back(static_cast<uint8_t>(nibble(s[i]) << 4 | nibble(s[i + 1])));
  }
  return b;
}

// Runs a shell command; returns its stdout (stderr too when asked) or
// nullopt-like empty with *status set.
inline std::string RunShell(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int rc = pclose(f);
  if (status) *status = rc;
  return out;
}

inline bool HaveOvsOfctl() {
  int status = 0;
  RunShell("ovs-ofctl --version >/dev/null 2>&1", &status);
  return status == 0;
}

inline std::string SourceDir() {
  if (const char* d = std::getenv("SLUICE_SOURCE_DIR")) return d;
#ifdef SLUICE_SOURCE_DIR_DEFAULT
  return SLUICE_SOURCE_DIR_DEFAULT;
#else
  return ".";
#endif
}

// `ovs-ofctl ofp-print` of one message (stdout and stderr).
inline std::string OfpPrint(const Bytes& msg) {
  return RunShell("ovs-ofctl ofp-print " + Hex(msg) + " 2>&1");
}

// Decodes or fails the test.
inline Message MustDecode(const Bytes& b) {
  Decoded d = Decode(b.data(), b.size());
  EXPECT_TRUE(d.ok()) << "decode failed: type " << d.error.type << " code " << d.error.code << " ("
                      << d.error.message << ") for " << Hex(b);
  return d.ok() ? *d.msg : Message{};
}

// Encodes m (one message), decodes it, checks that re-encoding the decoded
// value gives the same bytes, and returns the decoded value.
inline Message RoundTrip(const Message& m, Bytes* wire = nullptr) {
  Bytes b = EncodeOne(m);
  EXPECT_FALSE(b.empty()) << "encode failed for " << TypeName(m.type);
  if (b.empty()) return Message{};
  EXPECT_EQ(b.size(), static_cast<size_t>(b[2] << 8 | b[3]));
  Message d = MustDecode(b);
  EXPECT_EQ(d.version, m.version);
  EXPECT_EQ(d.xid, m.xid);
  EXPECT_EQ(d.type, m.type);
  EXPECT_EQ(Hex(EncodeOne(d)), Hex(b)) << "re-encoding differs for " << TypeName(m.type);
  if (wire) *wire = b;
  return d;
}

inline ofproto::OfMatch MatchOf(std::string_view text) {
  ofproto::OfMatch m = ofproto::OfMatch::CatchAll();
  Status s = ofproto::ParseOfMatch(text, &m);
  EXPECT_TRUE(s.ok()) << text;
  return m;
}

inline ofproto::Instructions InstsOf(std::string_view text, const ofproto::OfMatch& match) {
  ofproto::Instructions i;
  Status s = ofproto::ParseOfInstructions(text, &match, &i);
  EXPECT_TRUE(s.ok()) << text;
  return i;
}

inline ofproto::OfActionList ActionsOf(std::string_view text) {
  ofproto::OfActionList a;
  Status s = ofproto::ParseOfActions(text, &a);
  EXPECT_TRUE(s.ok()) << text;
  return a;
}

inline bool SameMatch(const ofproto::OfMatch& a, const ofproto::OfMatch& b) {
  return a.value == b.value && a.mask == b.mask;
}

inline Message Msg(uint8_t version, Type type, Body body, uint32_t xid = 0x1234) {
  Message m;
  m.version = version;
  m.xid = xid;
  m.type = type;
  m.body = std::move(body);
  return m;
}

inline PortDesc SamplePort(uint32_t no) {
  PortDesc p;
  p.port_no = no;
  p.hw_addr = {0x00, 0x11, 0x22, 0x33, 0x44, static_cast<uint8_t>(no)};
  p.name = "eth" + std::to_string(no);
  p.config = kPortConfigNoFwd;
  p.state = kPortStateLinkDown;
  p.curr = (1u << 5) | (1u << 11);  // 1GB_FD, COPPER (1.3 numbering)
  p.advertised = p.curr;
  p.supported = p.curr | (1u << 6);
  p.peer = 0;
  p.curr_speed = 1000000;
  p.max_speed = 10000000;
  return p;
}

}  // namespace sluice::ofp::test

namespace sluice::ofp::test {

// One message of every type that exists in `version` (multipart replies
// excepted: multipart_test.cc has those), with non-default field values.
inline std::vector<Message> Samples(uint8_t v) {
  const bool v13 = v == kVersion13;
  std::vector<Message> out;
  auto add = [&](Type t, Body b) { out.push_back(Msg(v, t, std::move(b), 0x1000 + out.size())); };
  add(Type::kHello, Hello{v13 ? (1u << 1) | (1u << 4) : 0u, v});  // 1.0 hellos have no elements
  add(Type::kError, Error{1, 6, {1, 2, 3, 4, 5, 6, 7, 8}});
  add(Type::kEchoRequest, Echo{false, {0xde, 0xad}});
  add(Type::kEchoReply, Echo{true, {0xbe, 0xef, 0x00}});
  add(Type::kExperimenter, Experimenter{0x2320, v13 ? 17u : 0u, {9, 8, 7, 6}});
  add(Type::kFeaturesRequest, FeaturesRequest{});
  FeaturesReply fr;
  fr.datapath_id = 0x0000aabbccddeeffull;
  fr.n_buffers = 0;
  fr.n_tables = 254;
  fr.capabilities = kCapFlowStats | kCapTableStats | kCapPortStats | (v13 ? kCapGroupStats : 0);
  if (!v13) {
    fr.actions_10 = 0xfff;
    fr.ports = {SamplePort(1), SamplePort(2)};
  }
  add(Type::kFeaturesReply, fr);
  add(Type::kGetConfigRequest, GetConfigRequest{});
  add(Type::kGetConfigReply, SwitchConfig{false, 0, 0xffe5});
  add(Type::kSetConfig, SwitchConfig{true, 1, 256});
  PacketIn pi;
  pi.buffer_id = kNoBuffer;
  pi.total_len = 64;
  pi.reason = PacketInReason::kNoMatch;
  pi.table_id = v13 ? 3 : 0;
  pi.cookie = v13 ? 0x77 : 0;
  pi.match = MatchOf(v13 ? "in_port=3,metadata=0x5" : "in_port=3");
  pi.data.assign(64, 0xab);
  add(Type::kPacketIn, pi);
  FlowRemoved fl;
  fl.cookie = 0x1122334455667788ull;
  fl.priority = 100;
  fl.reason = FlowRemovedReason::kIdleTimeout;
  fl.table_id = v13 ? 2 : 0;
  fl.duration_sec = 10;
  fl.duration_nsec = 500;
  fl.idle_timeout = 30;
  fl.hard_timeout = v13 ? 60 : 0;
  fl.packet_count = 1000;
  fl.byte_count = 64000;
  fl.match = MatchOf("tcp,nw_src=10.0.0.0/8,tp_dst=80");
  add(Type::kFlowRemoved, fl);
  add(Type::kPortStatus, PortStatus{PortReason::kModify, SamplePort(7)});
  PacketOut po;
  po.in_port = ofproto::kPortController;
  po.actions = ActionsOf("output:1");
  po.data.assign(42, 0x5a);
  add(Type::kPacketOut, po);
  FlowMod fm;
  fm.fm.command = ofproto::FlowMod::Command::kAdd;
  fm.fm.table_id = 0;
  fm.fm.priority = 10;
  fm.fm.cookie = 0xabc;
  fm.fm.idle_timeout = 5;
  fm.fm.hard_timeout = 50;
  fm.fm.flags = ofproto::kFlagSendFlowRem;
  fm.fm.out_port = ofproto::kPortAny;
  fm.fm.match = MatchOf("tcp,nw_src=10.0.0.0/8,tp_dst=80");
  fm.fm.insts = InstsOf(v13 ? "set_field:00:11:22:33:44:55->eth_dst,output:2"
                            : "mod_dl_dst:00:11:22:33:44:55,output:2",
                        fm.fm.match);
  add(Type::kFlowMod, fm);
  if (v13) {
    GroupMod gm;
    gm.gm.command = ofproto::GroupMod::Command::kAdd;
    gm.gm.type = ofproto::GroupType::kSelect;
    gm.gm.group_id = 7;
    ofproto::Bucket b1, b2;
    b1.weight = 10;
    b1.actions = ActionsOf("output:1");
    b2.weight = 20;
    b2.actions = ActionsOf("output:2");
    gm.gm.buckets = {b1, b2};
    add(Type::kGroupMod, gm);
  }
  PortMod pm;
  pm.port_no = 3;
  pm.hw_addr = {0, 0x11, 0x22, 0x33, 0x44, 0x03};
  pm.config = kPortConfigPortDown;
  pm.mask = kPortConfigPortDown | kPortConfigNoFwd;
  pm.advertise = (1u << 5) | (1u << 13);  // 1GB_FD, AUTONEG
  add(Type::kPortMod, pm);
  if (v13) add(Type::kTableMod, TableMod{0xff, 0});
  MultipartRequest mr;
  mr.type = MpType::kFlow;
  mr.flow.table_id = ofproto::kAllTables;
  mr.flow.out_port = 2;
  mr.flow.match = MatchOf("ip,nw_dst=192.168.0.0/16");
  add(Type::kMultipartRequest, mr);
  add(Type::kBarrierRequest, BarrierRequest{});
  add(Type::kBarrierReply, BarrierReply{});
  add(Type::kQueueGetConfigRequest, QueueGetConfigRequest{1});
  add(Type::kQueueGetConfigReply, QueueGetConfigReply{1});
  if (v13) {
    add(Type::kRoleRequest, RoleMsg{false, ControllerRole::kMaster, 42});
    add(Type::kRoleReply, RoleMsg{true, ControllerRole::kSlave, 43});
    add(Type::kGetAsyncRequest, GetAsyncRequest{});
    AsyncMsg am;
    am.kind = AsyncMsg::Kind::kGetReply;
    am.config.packet_in_mask = {0x3, 0x1};
    add(Type::kGetAsyncReply, am);
    am.kind = AsyncMsg::Kind::kSet;
    am.config.flow_removed_mask = {0x1, 0x2};
    add(Type::kSetAsync, am);
    MeterMod mm;
    mm.mm.command = ofproto::MeterMod::Command::kAdd;
    mm.mm.flags = ofproto::kMeterFlagKbps | ofproto::kMeterFlagBurst;
    mm.mm.meter_id = 1;
    ofproto::MeterBandSpec band;
    band.type = ofproto::MeterBandSpec::kDrop;
    band.rate = 1000;
    band.burst_size = 100;
    mm.mm.bands = {band};
    add(Type::kMeterMod, mm);
  }
  return out;
}

}  // namespace sluice::ofp::test

namespace sluice::ofp::test {

inline FlowStats SampleFlowStats(uint8_t v, int i) {
  FlowStats f;
  f.table_id = v == kVersion13 ? static_cast<uint8_t>(i % 3) : 0;
  f.duration_sec = 100 + i;
  f.duration_nsec = 5000;
  f.priority = static_cast<uint16_t>(1000 + i);
  f.idle_timeout = 10;
  f.hard_timeout = 20;
  f.flags = v == kVersion13 ? ofproto::kFlagSendFlowRem : 0;
  f.cookie = 0xc0c0 + i;
  f.packet_count = 7 * i;
  f.byte_count = 700 * i;
  f.match = MatchOf("tcp,nw_src=10.0.0.0/8,tp_dst=" + std::to_string(1 + i % 60000));
  f.insts = InstsOf("output:" + std::to_string(1 + i % 100), f.match);
  return f;
}

inline MultipartReply Reply(MpType t) {
  MultipartReply r;
  r.type = t;
  return r;
}

// One multipart reply of every type that exists in `version`.
inline std::vector<Message> SampleReplies(uint8_t v) {
  const bool v13 = v == kVersion13;
  std::vector<MultipartReply> rs;
  MultipartReply r = Reply(MpType::kDesc);
  r.desc = {"Sluice project", "software switch", "sluice 0.1.0", "serial-42", "br0 datapath"};
  rs.push_back(r);
  r = Reply(MpType::kFlow);
  r.flows = {SampleFlowStats(v, 1), SampleFlowStats(v, 2)};
  rs.push_back(r);
  r = Reply(MpType::kAggregate);
  r.aggregate = {123456, 7890123, 42};
  rs.push_back(r);
  r = Reply(MpType::kTable);
  for (uint8_t t = 0; t < 2; ++t) {
    TableStats ts;
    ts.table_id = t;
    ts.active_count = 10 + t;
    ts.lookup_count = 1000 + t;
    ts.matched_count = 900 + t;
    ts.name = "table" + std::to_string(t);
    r.tables.push_back(ts);
  }
  rs.push_back(r);
  r = Reply(MpType::kPortStats);
  for (uint32_t p = 1; p <= 2; ++p) {
    PortStats ps;
    ps.port_no = p;
    ps.rx_packets = 100 * p;
    ps.tx_packets = 200 * p;
    ps.rx_bytes = 3000 * p;
    ps.tx_bytes = 4000 * p;
    ps.rx_dropped = 5 * p;
    ps.tx_dropped = 6 * p;
    ps.rx_errors = 7;
    ps.tx_errors = 8;
    ps.rx_frame_err = 9;
    ps.rx_over_err = 10;
    ps.rx_crc_err = 11;
    ps.collisions = 12;
    ps.duration_sec = v13 ? 33 : 0;
    ps.duration_nsec = v13 ? 44 : 0;
    r.ports.push_back(ps);
  }
  rs.push_back(r);
  rs.push_back(Reply(MpType::kQueue));
  if (v13) {
    r = Reply(MpType::kGroup);
    GroupStats gs;
    gs.group_id = 7;
    gs.ref_count = 2;
    gs.packet_count = 50;
    gs.byte_count = 5000;
    gs.duration_sec = 60;
    gs.duration_nsec = 70;
    gs.buckets = {{20, 2000}, {30, 3000}};
    r.groups = {gs};
    rs.push_back(r);
    r = Reply(MpType::kGroupDesc);
    GroupDesc gd;
    gd.type = ofproto::GroupType::kSelect;
    gd.group_id = 7;
    ofproto::Bucket b1, b2;
    b1.weight = 10;
    b1.actions = ActionsOf("output:1");
    b2.weight = 20;
    b2.actions = ActionsOf("output:2");
    gd.buckets = {b1, b2};
    r.group_descs = {gd};
    rs.push_back(r);
    r = Reply(MpType::kGroupFeatures);
    r.group_features.max_groups = {100, 200, 300, 400};
    r.group_features.actions = {1, 1, 1, 1};  // OUTPUT
    rs.push_back(r);
    r = Reply(MpType::kMeter);
    MeterStats ms;
    ms.meter_id = 1;
    ms.flow_count = 3;
    ms.packet_in_count = 1000;
    ms.byte_in_count = 64000;
    ms.duration_sec = 9;
    ms.duration_nsec = 10;
    ms.bands = {{5, 320}};
    r.meters = {ms};
    rs.push_back(r);
    r = Reply(MpType::kMeterConfig);
    MeterConfig mc;
    mc.flags = ofproto::kMeterFlagKbps | ofproto::kMeterFlagBurst;
    mc.meter_id = 1;
    ofproto::MeterBandSpec band;
    band.type = ofproto::MeterBandSpec::kDrop;
    band.rate = 1000;
    band.burst_size = 100;
    mc.bands = {band};
    r.meter_configs = {mc};
    rs.push_back(r);
    rs.push_back(Reply(MpType::kMeterFeatures));
    r = Reply(MpType::kTableFeatures);
    for (uint8_t t = 0; t < 3; ++t) {
      TableFeatures tf;
      tf.table_id = t;
      tf.name = "table" + std::to_string(t);
      tf.max_entries = 500000;
      r.table_features.push_back(tf);
    }
    rs.push_back(r);
    r = Reply(MpType::kPortDesc);
    r.port_descs = {SamplePort(1), SamplePort(2)};
    rs.push_back(r);
  }
  std::vector<Message> out;
  for (auto& x : rs) out.push_back(Msg(v, Type::kMultipartReply, x, 0x2000 + out.size()));
  return out;
}

// The requests for every multipart type of `version`.
inline std::vector<Message> SampleMpRequests(uint8_t v) {
  const bool v13 = v == kVersion13;
  std::vector<Message> out;
  auto add = [&](MultipartRequest r) {
    out.push_back(Msg(v, Type::kMultipartRequest, r, 0x3000 + out.size()));
  };
  for (MpType t : {MpType::kDesc, MpType::kTable}) {
    MultipartRequest r;
    r.type = t;
    add(r);
  }
  for (MpType t : {MpType::kFlow, MpType::kAggregate}) {
    MultipartRequest r;
    r.type = t;
    r.flow.table_id = v13 ? 3 : ofproto::kAllTables;
    r.flow.out_port = 4;
    r.flow.out_group = v13 ? 5 : ofproto::kGroupAny;
    r.flow.cookie = v13 ? 0x10 : 0;
    r.flow.cookie_mask = v13 ? 0xff : 0;
    r.flow.match = MatchOf("udp,udp_dst=53");
    add(r);
  }
  MultipartRequest ps;
  ps.type = MpType::kPortStats;
  ps.port_no = 3;
  add(ps);
  MultipartRequest q;
  q.type = MpType::kQueue;
  q.port_no = ofproto::kPortAny;
  q.queue_id = 0xffffffff;
  add(q);
  MultipartRequest ex;
  ex.type = MpType::kExperimenter;
  ex.body = {0x00, 0x00, 0x23, 0x20, 0, 0, 0, 1};
  add(ex);
  if (v13) {
    for (MpType t : {MpType::kGroupDesc, MpType::kGroupFeatures, MpType::kMeterFeatures,
                     MpType::kPortDesc, MpType::kTableFeatures}) {
      MultipartRequest r;
      r.type = t;
      add(r);
    }
    MultipartRequest g;
    g.type = MpType::kGroup;
    g.group_id = 9;
    add(g);
    for (MpType t : {MpType::kMeter, MpType::kMeterConfig}) {
      MultipartRequest r;
      r.type = t;
      r.meter_id = 11;
      add(r);
    }
  }
  return out;
}

}  // namespace sluice::ofp::test
