#include "ofproto/ofctl_parse.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/ofproto/ofctl_test_util.h"

namespace sluice::ofproto::ofctl_test {
namespace {

// ---------------------------------------------------------------------------
// Randomised round trips (invariant 1) over generated valid flows.

class FlowGen {
 public:
  explicit FlowGen(uint64_t seed) : rng_(seed) {}

  std::string Flow() {
    std::vector<std::string> items;
    static const char* kProtos[] = {"",     "ip",    "ipv6", "arp",           "tcp",
                                    "udp",  "sctp",  "icmp", "icmp6",         "tcp6",
                                    "udp6", "sctp6", "rarp", "dl_type=0x88cc"};
    std::string proto = kProtos[Below(std::size(kProtos))];
    if (!proto.empty()) items.push_back(proto);
    bool v4 =
        proto == "ip" || proto == "tcp" || proto == "udp" || proto == "sctp" || proto == "icmp";
    bool v6 = proto == "ipv6" || proto == "icmp6" || proto == "tcp6" || proto == "udp6" ||
              proto == "sctp6";
    bool l4 = proto == "tcp" || proto == "udp" || proto == "sctp" || proto == "tcp6" ||
              proto == "udp6" || proto == "sctp6";
    bool tcp = proto == "tcp" || proto == "tcp6";
    bool icmp = proto == "icmp" || proto == "icmp6";

    if (Coin()) items.push_back("in_port=" + (Coin() ? std::to_string(Below(5000)) : "LOCAL"));
    if (Coin()) items.push_back("metadata=" + HexMasked(64));
    if (Coin()) items.push_back("tun_id=" + HexMasked(64));
    if (Coin()) items.push_back(fmt::format("reg{}={}", Below(8), HexMasked(32)));
    switch (Below(6)) {
      case 0:
        items.push_back(fmt::format("dl_vlan={}", Below(4096)));
        break;
      case 1:
        items.push_back(fmt::format("dl_vlan_pcp={}", Below(8)));
        break;
      case 2:
        items.push_back(fmt::format("dl_vlan={}", Below(4096)));
        items.push_back(fmt::format("dl_vlan_pcp={}", Below(8)));
        break;
      case 3:
        items.push_back(
            fmt::format("vlan_tci={:#x}/{:#x}", 0x1000 | Below(0x10000), 0x1000 | Below(0x10000)));
        break;
      default:
        break;
    }
    if (Coin()) items.push_back("dl_src=" + Mac() + (Coin() ? "/" + Mac() : ""));
    if (Coin()) items.push_back("dl_dst=" + Mac());
    if (v4 || proto == "arp") {
      const char* src = proto == "arp" ? "arp_spa" : "nw_src";
      const char* dst = proto == "arp" ? "arp_tpa" : "nw_dst";
      if (Coin()) items.push_back(std::string(src) + "=" + Ipv4() + Ipv4Mask());
      if (Coin()) items.push_back(std::string(dst) + "=" + Ipv4() + Ipv4Mask());
    }
    if (proto == "arp") {
      if (Coin()) items.push_back(fmt::format("arp_op={}", Below(256)));
      if (Coin()) items.push_back("arp_sha=" + Mac());
      if (Coin()) items.push_back("arp_tha=" + Mac() + "/" + Mac());
    }
    if (v6) {
      if (Coin())
        items.push_back("ipv6_src=" + Ipv6() + (Coin() ? fmt::format("/{}", Below(129)) : ""));
      if (Coin()) items.push_back("ipv6_dst=" + Ipv6() + (Coin() ? "/" + Ipv6() : ""));
      if (Coin()) items.push_back(fmt::format("ipv6_label={:#x}", Below(0x100000)));
    }
    if (v4 || v6) {
      if (proto == "ip" || proto == "ipv6") {
        if (Coin()) items.push_back(fmt::format("nw_proto={}", Below(256)));
      }
      if (Coin())
        items.push_back(Coin() ? fmt::format("nw_tos={}", Below(64) * 4)
                               : fmt::format("ip_dscp={}", Below(64)));
      if (Coin()) items.push_back(fmt::format("nw_ecn={}", Below(4)));
      if (Coin()) items.push_back(fmt::format("nw_ttl={}", Below(256)));
    }
    if (l4) {
      if (Coin()) items.push_back(fmt::format("tp_src={}", Below(65536)));
      if (Coin()) items.push_back(fmt::format("tp_dst={:#x}/{:#x}", Below(65536), Below(65536)));
      if (tcp && Coin()) {
        items.push_back(Coin()
                            ? std::string("tcp_flags=+syn-ack+fin")
                            : fmt::format("tcp_flags={:#x}/{:#x}", Below(0x1000), Below(0x1000)));
      }
    }
    if (icmp) {
      int type = static_cast<int>(Below(4) == 0 ? 135 + Below(2) : Below(256));
      if (Coin() || (proto == "icmp6" && (type == 135 || type == 136))) {
        items.push_back(fmt::format("icmp_type={}", type));
        if (proto == "icmp6" && (type == 135 || type == 136)) {
          if (Coin()) items.push_back("nd_target=" + Ipv6());
          if (Coin()) items.push_back(std::string(type == 135 ? "nd_sll=" : "nd_tll=") + Mac());
        }
      }
      if (Coin()) items.push_back(fmt::format("icmp_code={}", Below(256)));
    }
    std::shuffle(items.begin(), items.end(), rng_);
    std::string head;
    if (Coin()) head += fmt::format("priority={},", Below(65536));
    if (Coin()) head += fmt::format("cookie={:#x},", rng_());
    if (Coin()) head += fmt::format("idle_timeout={},", Below(65536));
    if (Coin()) head += "send_flow_rem,";
    int table = static_cast<int>(Below(4));
    if (table) head += fmt::format("table={},", table);
    std::string match;
    for (const auto& i : items) match += i + ",";
    return head + match + "actions=" + Actions(v4, v6, l4, table);
  }

 private:
  uint64_t Below(uint64_t n) { return rng_() % n; }
  bool Coin() { return rng_() & 1; }
  std::string HexMasked(int bits) {
    uint64_t all = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    uint64_t v = rng_() & all;
    if (Coin()) return fmt::format("{:#x}", v);
    return fmt::format("{:#x}/{:#x}", v, rng_() & all);
  }
  std::string Mac() {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", Below(256), Below(256),
                       Below(256), Below(256), Below(256), Below(256));
  }
  std::string Ipv4() {
    return fmt::format("{}.{}.{}.{}", Below(256), Below(256), Below(256), Below(256));
  }
  std::string Ipv4Mask() {
    switch (Below(3)) {
      case 0:
        return "";
      case 1:
        return fmt::format("/{}", Below(33));
      default:
        return "/" + Ipv4();
    }
  }
  std::string Ipv6() {
    return fmt::format("{:x}:{:x}::{:x}:{:x}", Below(65536), Below(65536), Below(65536), Below(4));
  }
  std::string Actions(bool v4, bool v6, bool l4, int table) {
    std::vector<std::string> apply;
    int n = static_cast<int>(Below(4));
    for (int i = 0; i < n; ++i) {
      switch (Below(12)) {
        case 0:
          apply.push_back(fmt::format("output:{}", Below(100)));
          break;
        case 1:
          apply.push_back("NORMAL");
          break;
        case 2:
          apply.push_back(fmt::format("CONTROLLER:{}", Below(65536)));
          break;
        case 3:
          apply.push_back(fmt::format("group:{}", Below(100)));
          break;
        case 4:
          apply.push_back("push_vlan:0x8100");
          break;
        case 5:
          apply.push_back(fmt::format("mod_vlan_vid:{}", Below(4096)));
          break;
        case 6:
          apply.push_back("strip_vlan");
          break;
        case 7:
          apply.push_back("dec_ttl");
          break;
        case 8:
          apply.push_back(fmt::format("set_queue:{}", Below(8)));
          break;
        case 9:
          if (v4) apply.push_back("mod_nw_dst:" + Ipv4());
          break;
        case 10:
          if (v6) apply.push_back("set_field:" + Ipv6() + "->ipv6_src");
          break;
        default:
          if (l4) apply.push_back(fmt::format("mod_tp_dst:{}", Below(65536)));
          break;
      }
    }
    std::vector<std::string> parts;
    if (Below(4) == 0) parts.push_back(fmt::format("meter:{}", 1 + Below(100)));
    for (auto& a : apply) parts.push_back(a);
    if (Below(4) == 0) parts.push_back("clear_actions");
    if (Below(3) == 0)
      parts.push_back(
          fmt::format("write_actions(output:{},set_field:{:#x}->metadata)", Below(10), rng_()));
    if (Below(4) == 0) parts.push_back(fmt::format("write_metadata:{:#x}/{:#x}", rng_(), rng_()));
    if (Below(3) == 0)
      parts.push_back(fmt::format("goto_table:{}", table + 1 + static_cast<int>(Below(10))));
    if (parts.empty()) return "drop";
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : ",") + p;
    return s;
  }

  std::mt19937_64 rng_;
};

TEST(OfctlParse, RandomFlowsRoundTrip) {
  const uint64_t seed = 20261122;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  FlowGen gen(seed);
  for (int i = 0; i < 3000; ++i) {
    std::string text = gen.Flow();
    ExpectFlowRoundTrip(text);
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------
// Garbage never crashes, and whatever parses round-trips (invariants 1, 4).

TEST(OfctlParse, GarbageAndMutationsNeverCrash) {
  const uint64_t seed = 77;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  FlowGen gen(seed + 1);
  static const char* kPieces[] = {
      ",",
      "=",
      ":",
      "/",
      "(",
      ")",
      "->",
      " ",
      "0x",
      "-",
      "+",
      ".",
      "ip",
      "tcp",
      "actions=",
      "output:",
      "bucket=",
      "set_field:",
      "write_actions(",
      "tp_dst=",
      "dl_vlan=",
      "vlan_tci=",
      "1",
      "255",
      "65536",
      "0xffffffffffffffff",
      "99999999999999999999",
      "::",
      "ff:ff",
      "10.0.0.1",
      "nw_src=",
      "drop",
      "group_id=",
      "type=select",
      "weight:",
      "watch_port:",
      "goto_table:",
      "meter:",
      "CONTROLLER",
      "tcp_flags=",
      "+syn",
      "ipv6_dst=",
      "\t",
      "\n",
      "\xff",
      "%",
  };
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (i % 2 == 0) {
      int n = static_cast<int>(rng() % 12);
      for (int k = 0; k < n; ++k) text += kPieces[rng() % std::size(kPieces)];
    } else {
      text = gen.Flow();
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        size_t pos = rng() % text.size();
        switch (rng() % 4) {
          case 0:
            text.erase(pos, 1 + rng() % 4);
            break;
          case 1:
            text.insert(pos, kPieces[rng() % std::size(kPieces)]);
            break;
          case 2:
            text[pos] = static_cast<char>(rng());
            break;
          default:
            text = text.substr(0, pos);
            break;
        }
      }
    }
    SCOPED_TRACE(text);
    for (C c : {C::kAdd, C::kModify, C::kDelete}) {
      FlowMod fm;
      if (ParseFlowMod(text, c, &fm).ok()) {
        ++parsed;
        std::string f = FormatFlowMod(fm);
        FlowMod again;
        Status st = ParseFlowMod(f, c, &again);
        ASSERT_TRUE(st.ok()) << f << " -> " << st.message();
        ASSERT_TRUE(FlowModEq(fm, again)) << f;
      }
    }
    OfMatch m;
    if (ParseOfMatch(text, &m).ok()) {
      OfMatch again;
      ASSERT_TRUE(ParseOfMatch(FormatOfMatch(m), &again).ok()) << FormatOfMatch(m);
      ASSERT_TRUE(MatchEq(m, again));
    }
    GroupMod gm;
    if (ParseGroupMod(text, GroupMod::Command::kAdd, &gm).ok()) {
      GroupMod again;
      ASSERT_TRUE(ParseGroupMod(FormatGroupMod(gm), GroupMod::Command::kAdd, &again).ok());
      ASSERT_TRUE(GroupModEq(gm, again));
    }
    Instructions insts;
    (void)ParseOfInstructions(text, nullptr, &insts);
  }
  EXPECT_GT(parsed, 100);  // the mutations leave plenty of valid flows
}

}  // namespace
}  // namespace sluice::ofproto::ofctl_test
