// Tests of the action executor (execute.h), the header rewrites (rewrite.h)
// and DpAction/DpActions (dp_actions.h), on real mbufs.
//
// Frames are built by hand, either as literal bytes (with expected results
// computed by an independent implementation of the checksums) or by a small
// frame builder (Build) that computes every checksum from scratch; a rewrite
// is then checked byte for byte against the frame built with the new field
// values, and the checksums of every output are verified again
// (ExpectChecksumsValid). The executor's bookkeeping (sharing, copies, drops,
// ownership) is checked through a fake Sink and the pool's in-use count,
// which must be back to its start value after every test.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "datapath/actions/csum.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/actions/execute.h"
#include "datapath/actions/rewrite.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {
namespace {

// --- Test helpers ------------------------------------------------------------

using Bytes = std::vector<uint8_t>;

std::string Hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += buf;
    if (i % 16 == 15) s += '\n';
  }
  return s;
}

rte_mempool* Pool() {
  static rte_mempool* pool = [] {
    Status st;
    PktPoolOptions o;
    o.name = "actions_test";
    o.n_mbufs = 4096;
    o.cache_size = 0;  // so that the in-use count is exact at any moment
    rte_mempool* p = CreatePktPool(o, &st);
    if (p == nullptr) std::fprintf(stderr, "%s\n", st.message().c_str());
    return p;
  }();
  return pool;
}

rte_mbuf* Pkt(const Bytes& b) {
  // An empty frame is allocated directly: PacketFromBytes would memcpy from
  // the empty vector's null data().
  rte_mbuf* m = b.empty() ? rte_pktmbuf_alloc(Pool())
                          : PacketFromBytes(Pool(), b.data(), static_cast<uint32_t>(b.size()));
  EXPECT_NE(m, nullptr);
  return m;
}

// All bytes of a (possibly multi-segment) packet.
Bytes Read(const rte_mbuf* m) {
  Bytes out(PacketLen(m));
  if (out.empty()) return out;
  const void* p = rte_pktmbuf_read(m, 0, PacketLen(m), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

DpAction Blank(DpActionType t) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = t;
  return a;
}

EthAddr Mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  return EthAddr{{a, b, c, d, e, f}};
}
const EthAddr kAllOnesMac = Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

DpAction SetEthAction(EthAddr src, EthAddr src_mask, EthAddr dst, EthAddr dst_mask) {
  DpAction a = Blank(DpActionType::kSetEth);
  a.eth.src = src;
  a.eth.src_mask = src_mask;
  a.eth.dst = dst;
  a.eth.dst_mask = dst_mask;
  return a;
}

struct Ipv4Set {
  uint32_t src = 0, src_mask = 0, dst = 0, dst_mask = 0;
  uint8_t tos = 0, tos_mask = 0, ttl = 0, ttl_mask = 0;
};
DpAction SetIpv4Action(const Ipv4Set& s) {
  DpAction a = Blank(DpActionType::kSetIpv4);
  a.ipv4.src = Be32(s.src);
  a.ipv4.src_mask = Be32(s.src_mask);
  a.ipv4.dst = Be32(s.dst);
  a.ipv4.dst_mask = Be32(s.dst_mask);
  a.ipv4.tos = s.tos;
  a.ipv4.tos_mask = s.tos_mask;
  a.ipv4.ttl = s.ttl;
  a.ipv4.ttl_mask = s.ttl_mask;
  return a;
}

using Addr6 = std::array<uint8_t, 16>;
Addr6 V6(uint16_t first, uint16_t last) {
  Addr6 a{};
  a[0] = static_cast<uint8_t>(first >> 8);
  a[1] = static_cast<uint8_t>(first);
  a[14] = static_cast<uint8_t>(last >> 8);
  a[15] = static_cast<uint8_t>(last);
  return a;
}
Addr6 AllOnes6() {
  Addr6 a;
  a.fill(0xff);
  return a;
}

struct Ipv6Set {
  Addr6 src{}, src_mask{}, dst{}, dst_mask{};
  uint32_t label = 0, label_mask = 0;
  uint8_t tclass = 0, tclass_mask = 0, hlimit = 0, hlimit_mask = 0;
};
DpAction SetIpv6Action(const Ipv6Set& s) {
  DpAction a = Blank(DpActionType::kSetIpv6);
  std::memcpy(a.ipv6.src, s.src.data(), 16);
  std::memcpy(a.ipv6.src_mask, s.src_mask.data(), 16);
  std::memcpy(a.ipv6.dst, s.dst.data(), 16);
  std::memcpy(a.ipv6.dst_mask, s.dst_mask.data(), 16);
  a.ipv6.label = Be32(s.label);
  a.ipv6.label_mask = Be32(s.label_mask);
  a.ipv6.tclass = s.tclass;
  a.ipv6.tclass_mask = s.tclass_mask;
  a.ipv6.hlimit = s.hlimit;
  a.ipv6.hlimit_mask = s.hlimit_mask;
  return a;
}

DpAction SetL4Action(DpActionType t, uint16_t src, uint16_t src_mask, uint16_t dst,
                     uint16_t dst_mask) {
  DpAction a = Blank(t);
  a.l4.src = Be16(src);
  a.l4.src_mask = Be16(src_mask);
  a.l4.dst = Be16(dst);
  a.l4.dst_mask = Be16(dst_mask);
  return a;
}

// --- Frame model -----------------------------------------------------------------
// A frame described by its field values (host order); Build() lays it out
// and computes every checksum from scratch.

struct Ext6 {
  uint8_t type;  // kIpv6HopByHop, kIpv6Routing, kIpv6DestOpts, kIpv6Fragment
  uint8_t segs_left = 0;
  uint16_t frag_offset = 0;  // in 8-byte units
  bool more = false;
  Addr6 addr{};  // the routing header's one (final) address
};

enum class L3 { kNone, kIpv4, kIpv6 };
inline constexpr uint8_t kProtoOther = 253;  // experimental: no L4 header

struct Spec {
  EthAddr dst = Mac(0x02, 0, 0, 0, 0, 0x01);
  EthAddr src = Mac(0x02, 0, 0, 0, 0, 0x02);
  std::vector<std::pair<uint16_t, uint16_t>> vlans;  // outermost first: tpid, tci
  L3 l3 = L3::kIpv4;
  uint32_t v4_src = 0x0a000001, v4_dst = 0x0a000002;
  uint8_t tos = 0, ttl = 64;
  uint16_t frag = 0;  // flags + offset word
  uint8_t v4_opt_words = 0;
  Addr6 v6_src = V6(0xfd00, 1), v6_dst = V6(0xfd00, 2);
  uint8_t tclass = 0;
  uint32_t label = 0;
  uint8_t hlimit = 64;
  std::vector<Ext6> ext;
  uint8_t proto = csum::kIpProtoUdp;
  uint16_t sport = 1000, dport = 2000;
  bool udp_csum = true;
  uint32_t sctp_vtag = 0x01020304;
  Bytes payload = {'s', 'l', 'u', 'i', 'c', 'e'};
};

struct Built {
  Bytes bytes;
  PacketLayout layout;
  uint32_t l4_len = 0;
};

void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}

bool IsLaterFragment(const Spec& s) {
  if (s.l3 == L3::kIpv4) return (s.frag & 0x1fff) != 0;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Fragment && e.frag_offset != 0) return true;
  }
  return false;
}
bool IsFragment(const Spec& s) {
  if (s.l3 == L3::kIpv4) return (s.frag & 0x3fff) != 0;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Fragment) return true;
  }
  return false;
}
bool HasL4Header(const Spec& s) {
  return s.l3 != L3::kNone && !IsLaterFragment(s) &&
         (s.proto == csum::kIpProtoTcp || s.proto == csum::kIpProtoUdp ||
          s.proto == csum::kIpProtoSctp || s.proto == csum::kIpProtoIcmpv6);
}
// The destination in the IPv6 pseudo-header (RFC 8200 8.1).
Addr6 PseudoDst(const Spec& s) {
  Addr6 d = s.v6_dst;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Routing && e.segs_left != 0) d = e.addr;
  }
  return d;
}

Bytes L4Segment(const Spec& s) {
  Bytes seg;
  switch (s.proto) {
    case csum::kIpProtoTcp:
      Put16(&seg, s.sport);
      Put16(&seg, s.dport);
      Put32(&seg, 0x11223344);  // seq
      Put32(&seg, 0x55667788);  // ack
      seg.push_back(0x50);      // data offset 5
      seg.push_back(0x18);      // PSH|ACK
      Put16(&seg, 0x2000);      // window
      Put16(&seg, 0);           // checksum
      Put16(&seg, 0);           // urgent
      break;
    case csum::kIpProtoUdp:
      Put16(&seg, s.sport);
      Put16(&seg, s.dport);
      Put16(&seg, static_cast<uint16_t>(8 + s.payload.size()));
      Put16(&seg, 0);
      break;
    case csum::kIpProtoSctp:
      Put16(&seg, s.sport);
      Put16(&seg, s.dport);
      Put32(&seg, s.sctp_vtag);
      Put32(&seg, 0);
      break;
    case csum::kIpProtoIcmpv6:
      seg.push_back(128);  // echo request
      seg.push_back(0);
      Put16(&seg, 0);
      Put16(&seg, 0x1234);
      Put16(&seg, 1);
      break;
    default:
      break;
  }
  seg.insert(seg.end(), s.payload.begin(), s.payload.end());
  return seg;
}

// Writes the checksum of `seg` (from scratch) given its pseudo-header sum.
void FillL4Checksum(const Spec& s, uint64_t pseudo, Bytes* seg) {
  if (s.proto == csum::kIpProtoSctp) {
    const uint32_t crc = SctpChecksum(seg->data(), seg->size());
    std::memcpy(seg->data() + 8, &crc, 4);
    return;
  }
  const int ofs = L4ChecksumOffset(s.proto);
  if (ofs < 0) return;
  if (s.proto == csum::kIpProtoUdp && !s.udp_csum) return;  // stays 0
  seg->at(ofs) = seg->at(ofs + 1) = 0;
  be16 c = CsumFinish(CsumAdd(pseudo, seg->data(), seg->size()));
  if (s.proto == csum::kIpProtoUdp && c.raw == 0) c = be16::FromRaw(0xffff);
  std::memcpy(seg->data() + ofs, &c, 2);
}

Built Build(const Spec& s) {
  Built out;
  Bytes& b = out.bytes;
  b.insert(b.end(), s.dst.b, s.dst.b + 6);
  b.insert(b.end(), s.src.b, s.src.b + 6);
  for (auto [tpid, tci] : s.vlans) {
    Put16(&b, tpid);
    Put16(&b, tci);
  }
  switch (s.l3) {
    case L3::kNone:
      Put16(&b, 0x88b5);
      b.insert(b.end(), s.payload.begin(), s.payload.end());
      return out;
    case L3::kIpv4: {
      Put16(&b, 0x0800);
      const size_t l3 = b.size();
      const uint32_t ihl = 20 + 4u * s.v4_opt_words;
      Bytes seg = L4Segment(s);
      b.push_back(static_cast<uint8_t>(0x40 | ihl / 4));
      b.push_back(s.tos);
      Put16(&b, static_cast<uint16_t>(ihl + seg.size()));
      Put16(&b, 0x4242);
      Put16(&b, s.frag);
      b.push_back(s.ttl);
      b.push_back(s.proto);
      Put16(&b, 0);
      Put32(&b, s.v4_src);
      Put32(&b, s.v4_dst);
      for (int i = 0; i < s.v4_opt_words * 4; ++i) b.push_back(1);  // NOP options
      if (HasL4Header(s)) {
        FillL4Checksum(s, Ipv4PseudoHeaderSum(Be32(s.v4_src), Be32(s.v4_dst), s.proto, seg.size()),
                       &seg);
      }
      const be16 c = Ipv4HeaderChecksum(b.data() + l3, ihl);
      std::memcpy(b.data() + l3 + 10, &c, 2);
      out.layout.l3_ofs = static_cast<uint16_t>(l3);
      out.layout.l4_ofs = static_cast<uint16_t>(l3 + ihl);
      out.l4_len = static_cast<uint32_t>(seg.size());
      b.insert(b.end(), seg.begin(), seg.end());
      return out;
    }
    case L3::kIpv6: {
      Put16(&b, 0x86dd);
      const size_t l3 = b.size();
      Bytes seg = L4Segment(s);
      Bytes ext;
      for (size_t i = 0; i < s.ext.size(); ++i) {
        const Ext6& e = s.ext[i];
        const uint8_t next = i + 1 < s.ext.size() ? s.ext[i + 1].type : s.proto;
        ext.push_back(next);
        if (e.type == rewrite::kIpv6Fragment) {
          ext.push_back(0);
          Put16(&ext, static_cast<uint16_t>(e.frag_offset << 3 | (e.more ? 1 : 0)));
          Put32(&ext, 0xabcd0001);
        } else if (e.type == rewrite::kIpv6Routing) {
          ext.push_back(2);  // 24 bytes
          ext.push_back(0);  // type 0
          ext.push_back(e.segs_left);
          Put32(&ext, 0);
          ext.insert(ext.end(), e.addr.begin(), e.addr.end());
        } else {  // hop-by-hop / destination options: one PadN option
          ext.push_back(0);
          ext.push_back(1);
          ext.push_back(4);
          Put32(&ext, 0);
        }
      }
      Put32(&b, 0x60000000u | static_cast<uint32_t>(s.tclass) << 20 | (s.label & 0xfffff));
      Put16(&b, static_cast<uint16_t>(ext.size() + seg.size()));
      b.push_back(s.ext.empty() ? s.proto : s.ext[0].type);
      b.push_back(s.hlimit);
      b.insert(b.end(), s.v6_src.begin(), s.v6_src.end());
      b.insert(b.end(), s.v6_dst.begin(), s.v6_dst.end());
      b.insert(b.end(), ext.begin(), ext.end());
      if (HasL4Header(s)) {
        const Addr6 pd = PseudoDst(s);
        FillL4Checksum(s, Ipv6PseudoHeaderSum(s.v6_src.data(), pd.data(), s.proto, seg.size()),
                       &seg);
      }
      out.layout.l3_ofs = static_cast<uint16_t>(l3);
      out.layout.l4_ofs = static_cast<uint16_t>(b.size());
      out.l4_len = static_cast<uint32_t>(seg.size());
      b.insert(b.end(), seg.begin(), seg.end());
      return out;
    }
  }
  return out;
}

// Checks every checksum of a frame described by `s`, from scratch, in the
// verification form (the sum over the data including the checksum).
void ExpectChecksumsValid(const Bytes& f, const Spec& s) {
  const Built b = Build(s);  // for the offsets only
  ASSERT_EQ(f.size(), b.bytes.size());
  if (s.l3 == L3::kNone) return;
  const uint8_t* ip = f.data() + b.layout.l3_ofs;
  const uint8_t* l4 = f.data() + b.layout.l4_ofs;
  uint64_t pseudo;
  if (s.l3 == L3::kIpv4) {
    EXPECT_TRUE(Ipv4HeaderChecksumOk(ip, 20 + 4u * s.v4_opt_words)) << Hex(f);
    be32 src, dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    pseudo = Ipv4PseudoHeaderSum(src, dst, s.proto, b.l4_len);
  } else {
    Addr6 pd = PseudoDst(s);
    // The pseudo-header's destination is read back from the frame.
    if (pd == s.v6_dst) std::memcpy(pd.data(), ip + 24, 16);
    pseudo = Ipv6PseudoHeaderSum(ip + 8, pd.data(), s.proto, b.l4_len);
  }
  if (!HasL4Header(s)) return;
  switch (s.proto) {
    case csum::kIpProtoSctp:
      EXPECT_TRUE(SctpChecksumOk(l4, b.l4_len)) << Hex(f);
      break;
    case csum::kIpProtoUdp:
      if (!s.udp_csum) {
        EXPECT_EQ(l4[6] | l4[7], 0) << Hex(f);
        break;
      }
      EXPECT_FALSE(l4[6] == 0 && l4[7] == 0) << Hex(f);
      [[fallthrough]];
    case csum::kIpProtoTcp:
    case csum::kIpProtoIcmpv6:
      EXPECT_EQ(CsumFold(CsumAdd(pseudo, l4, b.l4_len)), 0xffff) << Hex(f);
      break;
    default:
      break;
  }
}

// What an action does to a frame, on the model.
template <class T>
T MaskedSet(T old_v, T v, T m) {
  return static_cast<T>((old_v & ~m) | (v & m));
}

void ApplyToSpec(const DpAction& a, Spec* s) {
  switch (a.type) {
    case DpActionType::kSetEth:
      for (int i = 0; i < 6; ++i) {
        s->src.b[i] = MaskedSet(s->src.b[i], a.eth.src.b[i], a.eth.src_mask.b[i]);
        s->dst.b[i] = MaskedSet(s->dst.b[i], a.eth.dst.b[i], a.eth.dst_mask.b[i]);
      }
      break;
    case DpActionType::kSetIpv4:
      if (s->l3 != L3::kIpv4) break;
      s->v4_src = MaskedSet(s->v4_src, a.ipv4.src.host(), a.ipv4.src_mask.host());
      s->v4_dst = MaskedSet(s->v4_dst, a.ipv4.dst.host(), a.ipv4.dst_mask.host());
      s->tos = MaskedSet(s->tos, a.ipv4.tos, a.ipv4.tos_mask);
      s->ttl = MaskedSet(s->ttl, a.ipv4.ttl, a.ipv4.ttl_mask);
      break;
    case DpActionType::kSetIpv6: {
      if (s->l3 != L3::kIpv6) break;
      for (int i = 0; i < 16; ++i) {
        s->v6_src[i] = MaskedSet(s->v6_src[i], a.ipv6.src[i], a.ipv6.src_mask[i]);
        s->v6_dst[i] = MaskedSet(s->v6_dst[i], a.ipv6.dst[i], a.ipv6.dst_mask[i]);
      }
      const uint32_t m = a.ipv6.label_mask.host() & 0xfffff;
      s->label = MaskedSet(s->label, a.ipv6.label.host(), m);
      s->tclass = MaskedSet(s->tclass, a.ipv6.tclass, a.ipv6.tclass_mask);
      s->hlimit = MaskedSet(s->hlimit, a.ipv6.hlimit, a.ipv6.hlimit_mask);
      break;
    }
    case DpActionType::kSetTcp:
    case DpActionType::kSetUdp:
    case DpActionType::kSetSctp: {
      const uint8_t want = a.type == DpActionType::kSetTcp   ? csum::kIpProtoTcp
                           : a.type == DpActionType::kSetUdp ? csum::kIpProtoUdp
                                                             : csum::kIpProtoSctp;
      if (s->proto != want || !HasL4Header(*s)) break;
      if (want == csum::kIpProtoSctp && IsFragment(*s)) break;
      s->sport = MaskedSet(s->sport, a.l4.src.host(), a.l4.src_mask.host());
      s->dport = MaskedSet(s->dport, a.l4.dst.host(), a.l4.dst_mask.host());
      break;
    }
    case DpActionType::kPushVlan:
      s->vlans.insert(
          s->vlans.begin(),
          {a.push_vlan.tpid.host(), static_cast<uint16_t>(a.push_vlan.tci.host() & ~kVlanPresent)});
      break;
    case DpActionType::kPopVlan:
      if (!s->vlans.empty()) s->vlans.erase(s->vlans.begin());
      break;
    default:
      break;
  }
}

// --- Fake sink ---------------------------------------------------------------------

enum class Kind { kOutput, kUserspace, kRecirc };

struct Received {
  Kind kind;
  uint64_t arg;
  std::vector<rte_mbuf*> pkts;
};

struct FakeSink {
  std::vector<Received> got;
  std::array<uint32_t, static_cast<size_t>(ExecDrop::kCount)> drops{};

  void Output(uint32_t port, rte_mbuf** p, uint32_t n) {
    EXPECT_GT(n, 0u);
    got.push_back({Kind::kOutput, port, std::vector<rte_mbuf*>(p, p + n)});
  }
  void Userspace(uint64_t cookie, rte_mbuf** p, uint32_t n) {
    EXPECT_GT(n, 0u);
    got.push_back({Kind::kUserspace, cookie, std::vector<rte_mbuf*>(p, p + n)});
  }
  void Recirculate(uint32_t id, rte_mbuf** p, uint32_t n) {
    EXPECT_GT(n, 0u);
    got.push_back({Kind::kRecirc, id, std::vector<rte_mbuf*>(p, p + n)});
  }
  void Dropped(ExecDrop why, uint32_t n) { drops[static_cast<size_t>(why)] += n; }

  uint32_t drop(ExecDrop why) const { return drops[static_cast<size_t>(why)]; }
  void FreeAll() {
    for (Received& r : got) {
      for (rte_mbuf* m : r.pkts) rte_pktmbuf_free(m);
    }
    got.clear();
  }
  ~FakeSink() { FreeAll(); }
};

// A sink with only the required members (no Dropped hook).
struct MinimalSink {
  std::vector<rte_mbuf*> out;
  void Output(uint32_t, rte_mbuf** p, uint32_t n) { out.insert(out.end(), p, p + n); }
  void Userspace(uint64_t, rte_mbuf** p, uint32_t n) { out.insert(out.end(), p, p + n); }
  void Recirculate(uint32_t, rte_mbuf** p, uint32_t n) { out.insert(out.end(), p, p + n); }
};

// Every test checks that the pool is back to where it started.
class ExecuteTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Pool(), nullptr);
    in_use_ = rte_mempool_in_use_count(Pool());
  }
  void TearDown() override {
    sink_.FreeAll();
    EXPECT_EQ(rte_mempool_in_use_count(Pool()), in_use_) << "mbuf leak";
  }

  // Runs `acts` on packets built from `frames` with `layouts`; returns the
  // layouts as the executor left them.
  std::vector<PacketLayout> Run(const std::vector<DpAction>& acts, const std::vector<Bytes>& frames,
                                std::vector<PacketLayout> layouts) {
    std::vector<rte_mbuf*> pkts;
    for (const Bytes& f : frames) pkts.push_back(Pkt(f));
    RunPkts(acts, pkts, layouts);
    return layouts;
  }
  void RunPkts(const std::vector<DpAction>& acts, std::vector<rte_mbuf*> pkts,
               std::vector<PacketLayout>& layouts) {
    const DpActions actions(acts);
    ExecuteActions(actions, pkts.data(), layouts.data(), static_cast<uint32_t>(pkts.size()), sink_);
  }
  // Runs `acts` followed by output:1 on one frame; returns the output bytes.
  Bytes RunOne(std::vector<DpAction> acts, const Bytes& frame, PacketLayout layout) {
    acts.push_back(DpAction::Output(1));
    const size_t before = sink_.got.size();
    Run(acts, {frame}, {layout});
    EXPECT_EQ(sink_.got.size(), before + 1);
    if (sink_.got.size() != before + 1 || sink_.got.back().pkts.size() != 1) return {};
    return Read(sink_.got.back().pkts[0]);
  }
  // Applies `a` to the frame of `s` and checks the result against the frame
  // built from the model, and its checksums.
  void CheckSet(const DpAction& a, const Spec& s) {
    const Built in = Build(s);
    Spec want = s;
    ApplyToSpec(a, &want);
    const Bytes got = RunOne({a}, in.bytes, in.layout);
    EXPECT_EQ(Hex(got), Hex(Build(want).bytes));
    ExpectChecksumsValid(got, want);
  }

  FakeSink sink_;
  unsigned in_use_ = 0;
};

// Literal frames (scapy-generated, with their original checksums) and the
// expected results of rewriting them, computed by an independent
// implementation of the checksums.
const Bytes kV4Tcp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x7c, 0xcd, 0x7f, 0x00,
    0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x91, 0x7c, 0x00, 0x00,
};
// kV4Tcp with nw_src 10.1.2.3: IPv4 checksum 0xefca, TCP checksum 0x047a.
const Bytes kV4TcpSrcSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0xef, 0xca, 0x0a, 0x01,
    0x02, 0x03, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x04, 0x7a, 0x00, 0x00,
};
const Bytes kV4Udp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7c, 0xcd, 0x7f, 0x00, 0x00, 0x01,
    0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
// kV4Udp with nw_dst 192.168.1.1 and ttl 63.
const Bytes kV4UdpDstTtlSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x3f, 0x11, 0x3b, 0x25, 0x7f, 0x00, 0x00, 0x01,
    0xc0, 0xa8, 0x01, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x46, 0xc7, 0x78,
};
// kV4Udp with an 802.1Q tag, PCP 1, VID 5.
const Bytes kV4UdpTagged = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x20, 0x05,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7c, 0xcd, 0x7f, 0x00,
    0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
const Bytes kV6Udp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x87, 0x70, 0x78,
};
// kV6Udp with ipv6_src 2001:db8::1: UDP checksum 0x59b7.
const Bytes kV6UdpSrcSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x59, 0xb7, 0x78,
};
// IPv4 carrying a captured SCTP INIT (CRC32c bytes 9f 78 a7 04).
const Bytes kV4Sctp = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x34, 0x00, 0x02, 0x00, 0x00, 0x40, 0x84, 0x8e, 0x0d, 0xc0, 0x00,
    0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x0f, 0xe4, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00,
    0x9f, 0x78, 0xa7, 0x04, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00,
    0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c,
};
// kV4Sctp with source port 5000: CRC32c bytes 06 1c de 84.
const Bytes kV4SctpSportSet = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x34, 0x00, 0x02, 0x00, 0x00, 0x40, 0x84, 0x8e, 0x0d, 0xc0, 0x00,
    0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x13, 0x88, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00,
    0x06, 0x1c, 0xde, 0x84, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00,
    0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c,
};
const PacketLayout kV4Layout{14, 34};
const PacketLayout kV6Layout{14, 54};

// --- DpAction / DpActions ----------------------------------------------------------

TEST(DpActionsTest, SingleOutputOnlyForExactlyOneOutput) {
  EXPECT_FALSE(DpActions().single_output());
  const DpActions one({DpAction::Output(7)});
  EXPECT_TRUE(one.single_output());
  EXPECT_EQ(one.single_output_port(), 7u);
  EXPECT_FALSE(DpActions({DpAction::Output(1), DpAction::Output(2)}).single_output());
  EXPECT_FALSE(DpActions({DpAction::Recirc(1)}).single_output());
  EXPECT_FALSE(DpActions({DpAction::Pop(), DpAction::Output(2)}).single_output());
}

TEST(DpActionsTest, EqualityComparesOnlyMeaningfulBytes) {
  DpAction a = DpAction::Output(3);
  DpAction b = DpAction::Output(3);
  std::memset(reinterpret_cast<uint8_t*>(&b.port) + 4, 0xab, 8);  // bytes beyond `port`
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == DpAction::Output(4));
  EXPECT_FALSE(DpAction::Output(3) == DpAction::Recirc(3));

  DpAction p1 = DpAction::Pop(), p2 = DpAction::Pop();
  std::memset(&p2.ipv6, 0x5a, sizeof(p2.ipv6));
  EXPECT_EQ(p1, p2);

  DpAction l1 = SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff);
  DpAction l2 = l1;
  std::memset(reinterpret_cast<uint8_t*>(&l2.l4) + sizeof(SetL4), 0x77, 16);
  EXPECT_EQ(l1, l2);
  l2.l4.dst_mask = Be16(0xff00);
  EXPECT_FALSE(l1 == l2);
  DpAction l3 = l1;
  l3.type = DpActionType::kSetUdp;
  EXPECT_FALSE(l1 == l3);

  EXPECT_EQ(DpAction::Push(Be16(0x8100), Be16(0x1005)), DpAction::Push(Be16(0x8100), Be16(0x1005)));
  EXPECT_FALSE(DpAction::Push(Be16(0x8100), Be16(0x1005)) ==
               DpAction::Push(Be16(0x88a8), Be16(0x1005)));
  EXPECT_EQ(DpAction::ToUserspace(99), DpAction::ToUserspace(99));
  EXPECT_FALSE(DpAction::ToUserspace(99) == DpAction::ToUserspace(98));
  Ipv4Set s4;
  s4.ttl = 5;
  s4.ttl_mask = 0xff;
  EXPECT_EQ(SetIpv4Action(s4), SetIpv4Action(s4));
  s4.ttl = 6;
  EXPECT_FALSE(SetIpv4Action(s4) == SetIpv4Action(Ipv4Set{}));
  EXPECT_EQ(DpActions({DpAction::Pop(), DpAction::Output(1)}),
            DpActions({DpAction::Pop(), DpAction::Output(1)}));
}

// --- Delivery, sharing, copying, dropping -------------------------------------------

TEST_F(ExecuteTest, SingleOutputHandsTheBatchThrough) {
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < kMaxBurst; ++i) pkts.push_back(Pkt(kV4Udp));
  const std::vector<rte_mbuf*> orig = pkts;
  std::vector<PacketLayout> layouts(pkts.size(), kV4Layout);
  RunPkts({DpAction::Output(5)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kOutput);
  EXPECT_EQ(sink_.got[0].arg, 5u);
  EXPECT_EQ(sink_.got[0].pkts, orig);
  for (rte_mbuf* m : orig) EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
}

TEST_F(ExecuteTest, EmptyListDrops) {
  Run({}, {kV4Udp, kV4Tcp, kV6Udp}, {kV4Layout, kV4Layout, kV6Layout});
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 3u);
}

TEST_F(ExecuteTest, SetWithoutOutputDrops) {
  Ipv4Set s;
  s.ttl = 1;
  s.ttl_mask = 0xff;
  Run({SetIpv4Action(s), DpAction::Pop()}, {kV4Udp, kV4Udp}, {kV4Layout, kV4Layout});
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 2u);
}

TEST_F(ExecuteTest, SeveralOutputsShareByRefcount) {
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp), Pkt(kV4Tcp)};
  const std::vector<rte_mbuf*> orig = pkts;
  std::vector<PacketLayout> layouts = {kV4Layout, kV4Layout};
  RunPkts({DpAction::Output(1), DpAction::Output(2), DpAction::Output(3)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.got[i].kind, Kind::kOutput);
    EXPECT_EQ(sink_.got[i].arg, i + 1);
    EXPECT_EQ(sink_.got[i].pkts, orig);  // the very same mbufs, in order
  }
  for (rte_mbuf* m : orig) EXPECT_EQ(rte_mbuf_refcnt_read(m), 3);
  // They share one buffer: a change through one is seen by the others.
  PacketData(sink_.got[0].pkts[0])[0] = 0x42;
  EXPECT_EQ(Read(sink_.got[2].pkts[0])[0], 0x42);
  EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 0u);
}

TEST_F(ExecuteTest, OutputBeforeRewriteGetsPrivateCopy) {
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp)};
  rte_mbuf* orig = pkts[0];
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({DpAction::Output(1), SetIpv4Action(s), DpAction::Output(2)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 2u);
  rte_mbuf* to1 = sink_.got[0].pkts.at(0);
  rte_mbuf* to2 = sink_.got[1].pkts.at(0);
  EXPECT_NE(to1, to2);
  EXPECT_EQ(to2, orig);  // the executor's own packet goes to the final output
  EXPECT_EQ(rte_mbuf_refcnt_read(to1), 1);
  EXPECT_EQ(rte_mbuf_refcnt_read(to2), 1);
  EXPECT_EQ(Hex(Read(to1)), Hex(kV4Udp));
  EXPECT_EQ(Hex(Read(to2)), Hex(kV4UdpDstTtlSet));
  // Changing one copy leaves the other alone.
  PacketData(to1)[20] ^= 0xff;
  EXPECT_EQ(Hex(Read(to2)), Hex(kV4UdpDstTtlSet));
}

TEST_F(ExecuteTest, SetThenOutputVersusOutputThenSet) {
  Ipv4Set s;
  s.src = 0x0a010203;
  s.src_mask = 0xffffffff;
  Run({SetIpv4Action(s), DpAction::Output(1)}, {kV4Tcp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4TcpSrcSet));
  sink_.FreeAll();

  Run({DpAction::Output(1), SetIpv4Action(s)}, {kV4Tcp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4Tcp));
  EXPECT_EQ(sink_.drop(ExecDrop::kNoOutput), 1u);  // the rewritten one
}

TEST_F(ExecuteTest, UserspaceAndRecirculateReachTheSink) {
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp)};
  rte_mbuf* m = pkts[0];
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({DpAction::ToUserspace(0xfeedull << 32), DpAction::Output(4), DpAction::Recirc(9)}, pkts,
          layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kUserspace);
  EXPECT_EQ(sink_.got[0].arg, 0xfeedull << 32);
  EXPECT_EQ(sink_.got[1].kind, Kind::kOutput);
  EXPECT_EQ(sink_.got[1].arg, 4u);
  EXPECT_EQ(sink_.got[2].kind, Kind::kRecirc);
  EXPECT_EQ(sink_.got[2].arg, 9u);
  for (const Received& r : sink_.got) EXPECT_EQ(r.pkts.at(0), m);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 3);
  sink_.FreeAll();

  // Last-action userspace and recirc take ownership.
  Run({DpAction::Recirc(7)}, {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kRecirc);
  EXPECT_EQ(sink_.got[0].arg, 7u);
  EXPECT_EQ(rte_mbuf_refcnt_read(sink_.got[0].pkts.at(0)), 1);
  sink_.FreeAll();
  Run({DpAction::ToUserspace(1)}, {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].kind, Kind::kUserspace);
}

// A packet that arrives shared (another holder has a reference) is copied
// before it is changed; the other holder's bytes stay as they were.
TEST_F(ExecuteTest, SharedInputIsCopiedBeforeRewrite) {
  rte_mbuf* m = Pkt(kV4Udp);
  rte_mbuf_refcnt_update(m, 1);  // the "other holder" (this test)
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  std::vector<PacketLayout> layouts = {kV4Layout};
  RunPkts({SetIpv4Action(s), DpAction::Output(1)}, {m}, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_NE(sink_.got[0].pkts.at(0), m);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts[0])), Hex(kV4UdpDstTtlSet));
  EXPECT_EQ(Hex(Read(m)), Hex(kV4Udp));
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);  // the executor let go of its reference
  rte_pktmbuf_free(m);
}

TEST_F(ExecuteTest, LargeBatchesAreChunkedForCopies) {
  const uint32_t n = kMaxBurst + 8;
  std::vector<rte_mbuf*> pkts;
  for (uint32_t i = 0; i < n; ++i) pkts.push_back(Pkt(kV4Udp));
  std::vector<PacketLayout> layouts(n, kV4Layout);
  RunPkts({DpAction::Output(1), DpAction::Output(2)}, pkts, layouts);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[0].pkts.size(), static_cast<size_t>(kMaxBurst));
  EXPECT_EQ(sink_.got[1].pkts.size(), 8u);
  EXPECT_EQ(sink_.got[2].pkts.size(), n);
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(i < static_cast<uint32_t>(kMaxBurst) ? sink_.got[0].pkts[i]
                                                   : sink_.got[1].pkts[i - kMaxBurst],
              sink_.got[2].pkts[i]);
  }
}

TEST_F(ExecuteTest, SinkWithoutDropHookCompilesAndWorks) {
  MinimalSink sink;
  std::vector<rte_mbuf*> pkts = {Pkt(kV4Udp), Pkt(kV4Udp)};
  std::vector<PacketLayout> layouts = {kV4Layout, kV4Layout};
  const DpActions acts({DpAction::Output(1), DpAction::Pop(), DpAction::Recirc(3)});
  ExecuteActions(acts, pkts.data(), layouts.data(), 2, sink);
  EXPECT_EQ(sink.out.size(), 4u);
  FreePackets(sink.out.data(), static_cast<uint32_t>(sink.out.size()));
}

// When the pool is empty, copies are skipped and counted, never a crash; a
// shared packet that must be changed but cannot be copied is dropped.
TEST_F(ExecuteTest, CopyFailuresAreCountedNotFatal) {
  Status st;
  PktPoolOptions o;
  o.name = "actions_tiny";
  o.n_mbufs = 4;
  o.cache_size = 0;
  rte_mempool* tiny = CreatePktPool(o, &st);
  ASSERT_NE(tiny, nullptr) << st.message();
  std::vector<rte_mbuf*> pkts;
  for (int i = 0; i < 4; ++i) pkts.push_back(PacketFromBytes(tiny, kV4Udp.data(), kV4Udp.size()));
  ASSERT_EQ(rte_mempool_avail_count(tiny), 0u);
  Ipv4Set s;
  s.dst = 0xc0a80101;
  s.dst_mask = 0xffffffff;
  s.ttl = 63;
  s.ttl_mask = 0xff;
  {
    std::vector<PacketLayout> layouts(4, kV4Layout);
    RunPkts({DpAction::Output(1), SetIpv4Action(s), DpAction::Output(2)}, pkts, layouts);
    EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 4u);
    ASSERT_EQ(sink_.got.size(), 1u);  // no call for port 1 at all
    EXPECT_EQ(sink_.got[0].arg, 2u);
    ASSERT_EQ(sink_.got[0].pkts.size(), 4u);
    for (rte_mbuf* m : sink_.got[0].pkts) EXPECT_EQ(Hex(Read(m)), Hex(kV4UdpDstTtlSet));
    sink_.FreeAll();
  }
  {
    pkts.clear();
    for (int i = 0; i < 4; ++i) {
      pkts.push_back(PacketFromBytes(tiny, kV4Udp.data(), kV4Udp.size()));
      rte_mbuf_refcnt_update(pkts.back(), 1);
    }
    const std::vector<rte_mbuf*> held = pkts;
    std::vector<PacketLayout> layouts(4, kV4Layout);
    sink_.drops = {};
    RunPkts({SetIpv4Action(s), DpAction::Output(1)}, pkts, layouts);
    EXPECT_EQ(sink_.drop(ExecDrop::kNoMbuf), 4u);
    EXPECT_TRUE(sink_.got.empty());
    for (rte_mbuf* m : held) {
      EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
      EXPECT_EQ(Hex(Read(m)), Hex(kV4Udp));
      rte_pktmbuf_free(m);
    }
  }
  EXPECT_EQ(rte_mempool_in_use_count(tiny), 0u);
  rte_mempool_free(tiny);
}

// --- VLAN push / pop -------------------------------------------------------------------

TEST_F(ExecuteTest, PushVlanLiteral) {
  // The action's tci carries kVlanPresent; the wire must not.
  const auto layouts =
      Run({DpAction::Push(Be16(0x8100), Be16(0x2005 | kVlanPresent)), DpAction::Output(1)},
          {kV4Udp}, {kV4Layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4UdpTagged));
  EXPECT_EQ(layouts[0].l3_ofs, 18);
  EXPECT_EQ(layouts[0].l4_ofs, 38);
}

TEST_F(ExecuteTest, PopVlanLiteral) {
  const auto layouts = Run({DpAction::Pop(), DpAction::Output(1)}, {kV4UdpTagged}, {{18, 38}});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4Udp));
  EXPECT_EQ(layouts[0].l3_ofs, 14);
  EXPECT_EQ(layouts[0].l4_ofs, 34);
}

TEST_F(ExecuteTest, QinQPushAndPop) {
  Spec s;
  const Built plain = Build(s);
  Spec c = s;
  c.vlans = {{0x8100, 0x0064}};
  Spec qinq = s;
  qinq.vlans = {{0x88a8, 0xa0c8}, {0x8100, 0x0064}};

  // Push the customer tag, then the service tag (which becomes outermost).
  auto layouts =
      Run({DpAction::Push(Be16(0x8100), Be16(0x0064 | kVlanPresent)),
           DpAction::Push(Be16(0x88a8), Be16(0xa0c8 | kVlanPresent)), DpAction::Output(1)},
          {plain.bytes}, {plain.layout});
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(Build(qinq).bytes));
  EXPECT_EQ(layouts[0].l3_ofs, Build(qinq).layout.l3_ofs);
  EXPECT_EQ(layouts[0].l4_ofs, Build(qinq).layout.l4_ofs);
  sink_.FreeAll();

  // Pop the outer tag: the customer tag remains; pop again: untagged; a
  // third pop finds no tag and changes nothing.
  const Built q = Build(qinq);
  layouts = Run({DpAction::Pop(), DpAction::Output(1), DpAction::Pop(), DpAction::Output(2),
                 DpAction::Pop(), DpAction::Output(3)},
                {q.bytes}, {q.layout});
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(Build(c).bytes));
  EXPECT_EQ(Hex(Read(sink_.got[1].pkts.at(0))), Hex(plain.bytes));
  EXPECT_EQ(Hex(Read(sink_.got[2].pkts.at(0))), Hex(plain.bytes));
  EXPECT_EQ(layouts[0].l3_ofs, plain.layout.l3_ofs);
  EXPECT_EQ(layouts[0].l4_ofs, plain.layout.l4_ofs);
}

TEST_F(ExecuteTest, PopLeavesUntaggedAndNonVlanFramesAlone) {
  EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, kV4Udp, kV4Layout)), Hex(kV4Udp));
  Spec s;
  s.vlans = {{0x9100, 0x0005}};  // not a TPID this datapath pops
  const Built b = Build(s);
  EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, b.bytes, b.layout)), Hex(b.bytes));
}

TEST_F(ExecuteTest, RewritesAfterPushAndPopUseTheMovedLayout) {
  Spec s;
  s.proto = csum::kIpProtoTcp;
  Ipv4Set set;
  set.dst = 0x0b0c0d0e;
  set.dst_mask = 0xffffffff;
  const DpAction push = DpAction::Push(Be16(0x8100), Be16(0x0007 | kVlanPresent));
  const DpAction tcp = SetL4Action(DpActionType::kSetTcp, 0, 0, 8080, 0xffff);
  Spec want = s;
  for (const DpAction& a : {push, SetIpv4Action(set), tcp}) ApplyToSpec(a, &want);
  const Built b = Build(s);
  Bytes got = RunOne({push, SetIpv4Action(set), tcp}, b.bytes, b.layout);
  EXPECT_EQ(Hex(got), Hex(Build(want).bytes));
  ExpectChecksumsValid(got, want);

  Spec tagged = s;
  tagged.vlans = {{0x88a8, 0x0003}, {0x8100, 0x0004}};
  Spec want2 = tagged;
  for (const DpAction& a : {DpAction::Pop(), SetIpv4Action(set), tcp}) ApplyToSpec(a, &want2);
  const Built t = Build(tagged);
  got = RunOne({DpAction::Pop(), SetIpv4Action(set), tcp}, t.bytes, t.layout);
  EXPECT_EQ(Hex(got), Hex(Build(want2).bytes));
  ExpectChecksumsValid(got, want2);
}

TEST_F(ExecuteTest, PushWithoutHeadroomUsesTailroomOrDrops) {
  // No headroom: the frame is shifted into the tailroom.
  rte_mbuf* m = rte_pktmbuf_alloc(Pool());
  ASSERT_NE(m, nullptr);
  m->data_off = 0;
  std::memcpy(rte_pktmbuf_append(m, kV4Udp.size()), kV4Udp.data(), kV4Udp.size());
  std::vector<PacketLayout> layouts = {kV4Layout};
  const DpAction push = DpAction::Push(Be16(0x8100), Be16(0x2005 | kVlanPresent));
  RunPkts({push, DpAction::Output(1)}, {m}, layouts);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(kV4UdpTagged));
  EXPECT_EQ(layouts[0].l3_ofs, 18);
  sink_.FreeAll();

  // Neither headroom nor tailroom: dropped (never sent untagged), counted.
  rte_mbuf* full = rte_pktmbuf_alloc(Pool());
  ASSERT_NE(full, nullptr);
  full->data_off = 0;
  const uint16_t room = full->buf_len;
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(full, room));
  ASSERT_NE(p, nullptr);
  std::memcpy(p, kV4Udp.data(), kV4Udp.size());
  rte_mbuf* ok = Pkt(kV4Udp);
  std::vector<PacketLayout> two = {kV4Layout, kV4Layout};
  RunPkts({push, DpAction::Output(1)}, {full, ok}, two);
  EXPECT_EQ(sink_.drop(ExecDrop::kNoRoom), 1u);
  ASSERT_EQ(sink_.got.size(), 1u);
  ASSERT_EQ(sink_.got[0].pkts.size(), 1u);
  EXPECT_EQ(sink_.got[0].pkts[0], ok);
  EXPECT_EQ(two[0].l3_ofs, 18);  // layouts compacted along with the packets
}

TEST_F(ExecuteTest, PushAndPopOnTooShortFrames) {
  for (uint32_t len = 0; len < 14; ++len) {
    const Bytes f(kV4Udp.begin(), kV4Udp.begin() + len);
    EXPECT_EQ(Hex(RunOne({DpAction::Push(Be16(0x8100), Be16(0x1001))}, f, {})), Hex(f));
  }
  for (uint32_t len = 0; len < 18; ++len) {
    const Bytes f(kV4UdpTagged.begin(), kV4UdpTagged.begin() + len);
    EXPECT_EQ(Hex(RunOne({DpAction::Pop()}, f, {})), Hex(f));
  }
}

// --- Set actions: literal vectors --------------------------------------------------------

TEST_F(ExecuteTest, LiteralIpv4Rewrites) {
  Ipv4Set src;
  src.src = 0x0a010203;
  src.src_mask = 0xffffffff;
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(src)}, kV4Tcp, kV4Layout)), Hex(kV4TcpSrcSet));
  Ipv4Set dst_ttl;
  dst_ttl.dst = 0xc0a80101;
  dst_ttl.dst_mask = 0xffffffff;
  dst_ttl.ttl = 63;
  dst_ttl.ttl_mask = 0xff;
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(dst_ttl)}, kV4Udp, kV4Layout)), Hex(kV4UdpDstTtlSet));
}

TEST_F(ExecuteTest, LiteralIpv6Rewrite) {
  Ipv6Set s;
  s.src = V6(0x2001, 1);
  s.src[2] = 0x0d;
  s.src[3] = 0xb8;
  s.src_mask = AllOnes6();
  EXPECT_EQ(Hex(RunOne({SetIpv6Action(s)}, kV6Udp, kV6Layout)), Hex(kV6UdpSrcSet));
}

TEST_F(ExecuteTest, LiteralSctpRewrite) {
  const Bytes got =
      RunOne({SetL4Action(DpActionType::kSetSctp, 5000, 0xffff, 0, 0)}, kV4Sctp, kV4Layout);
  EXPECT_EQ(Hex(got), Hex(kV4SctpSportSet));
  EXPECT_TRUE(SctpChecksumOk(got.data() + 34, got.size() - 34));
}

// --- Set actions: every field, masked and unmasked ---------------------------------------

TEST_F(ExecuteTest, SetEthMaskedAndUnmasked) {
  Spec s;
  CheckSet(SetEthAction(Mac(0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f), kAllOnesMac,
                        Mac(0x10, 0x20, 0x30, 0x40, 0x50, 0x60), kAllOnesMac),
           s);
  CheckSet(SetEthAction(Mac(0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff), Mac(0xf0, 0, 0xff, 0, 0, 0x0f),
                        Mac(0x11, 0x22, 0x33, 0x44, 0x55, 0x66), Mac(0, 0, 0, 0, 0, 0xff)),
           s);
  s.l3 = L3::kNone;  // works on any Ethernet frame
  CheckSet(SetEthAction(Mac(1, 2, 3, 4, 5, 6), kAllOnesMac, Mac(0, 0, 0, 0, 0, 0),
                        Mac(0, 0, 0, 0, 0, 0)),
           s);
}

TEST_F(ExecuteTest, SetIpv4EachFieldMaskedAndUnmasked) {
  for (uint8_t proto :
       {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoSctp, csum::kIpProtoIcmp}) {
    for (uint8_t opts : {0, 2}) {
      SCOPED_TRACE(testing::Message() << "proto " << int(proto) << " opts " << int(opts));
      Spec s;
      s.proto = proto;
      s.v4_opt_words = opts;
      s.v4_src = 0xc0a80a0b;
      s.v4_dst = 0xac100001;
      s.tos = 0x2e;
      s.ttl = 17;
      Ipv4Set f;
      f.src = 0x01020304;
      f.src_mask = 0xffffffff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.dst = 0x05060708;
      f.dst_mask = 0xffffffff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.src = 0x0a000000;
      f.src_mask = 0xff000000;  // a prefix
      f.dst = 0x00000063;
      f.dst_mask = 0x000000ff;
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.tos = 0xb8;
      f.tos_mask = 0xfc;  // DSCP only, ECN kept
      CheckSet(SetIpv4Action(f), s);
      f = {};
      f.ttl = 5;
      f.ttl_mask = 0xff;
      CheckSet(SetIpv4Action(f), s);
      f = {0xdeadbeef, 0xffffffff, 0x01010101, 0xffffffff, 0x03, 0xff, 200, 0xff};
      CheckSet(SetIpv4Action(f), s);
      f = {0xdeadbeef, 0x0f0f0f0f, 0x01010101, 0xf0f0f0f0, 0x03, 0x03, 200, 0x0f};
      CheckSet(SetIpv4Action(f), s);
    }
  }
}

TEST_F(ExecuteTest, SetIpv4WithUdpChecksumZeroKeepsZero) {
  Spec s;
  s.udp_csum = false;
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  f.dst = 0x05060708;
  f.dst_mask = 0xffffffff;
  const Built b = Build(s);
  const Bytes got = RunOne({SetIpv4Action(f)}, b.bytes, b.layout);
  EXPECT_EQ(got[b.layout.l4_ofs + 6], 0);
  EXPECT_EQ(got[b.layout.l4_ofs + 7], 0);
  CheckSet(SetIpv4Action(f), s);
  CheckSet(SetL4Action(DpActionType::kSetUdp, 53, 0xffff, 5353, 0xffff), s);
}

// A rewrite after which the UDP checksum computes to 0 must write 0xffff.
TEST_F(ExecuteTest, UdpChecksumThatBecomesZeroIsWrittenAsAllOnes) {
  Spec after;
  after.payload = {0, 0};
  // Choose the payload so that the new frame's UDP sum is all ones.
  {
    Bytes seg = L4Segment(after);
    const uint16_t partial = CsumFold(CsumAdd(
        Ipv4PseudoHeaderSum(Be32(after.v4_src), Be32(after.v4_dst), csum::kIpProtoUdp, seg.size()),
        seg.data(), seg.size()));
    const uint16_t fill = static_cast<uint16_t>(0xffff - partial);
    std::memcpy(after.payload.data(), &fill, 2);
  }
  const Built want = Build(after);
  ASSERT_EQ(want.bytes[want.layout.l4_ofs + 6], 0xff);
  ASSERT_EQ(want.bytes[want.layout.l4_ofs + 7], 0xff);
  Spec before = after;
  before.v4_dst = 0x0a0000fe;
  const Built in = Build(before);
  ASSERT_NE(in.bytes[in.layout.l4_ofs + 6] | in.bytes[in.layout.l4_ofs + 7], 0);
  Ipv4Set f;
  f.dst = after.v4_dst;
  f.dst_mask = 0xffffffff;
  const Bytes got = RunOne({SetIpv4Action(f)}, in.bytes, in.layout);
  EXPECT_EQ(Hex(got), Hex(want.bytes));
  ExpectChecksumsValid(got, after);
  // The same through a port rewrite.
  Spec before_port = after;
  before_port.dport = 7;
  const Built in2 = Build(before_port);
  const Bytes got2 = RunOne({SetL4Action(DpActionType::kSetUdp, 0, 0, after.dport, 0xffff)},
                            in2.bytes, in2.layout);
  EXPECT_EQ(Hex(got2), Hex(want.bytes));
}

TEST_F(ExecuteTest, SetIpv6EachFieldMaskedAndUnmasked) {
  for (uint8_t proto :
       {csum::kIpProtoTcp, csum::kIpProtoUdp, csum::kIpProtoIcmpv6, csum::kIpProtoSctp}) {
    SCOPED_TRACE(testing::Message() << "proto " << int(proto));
    Spec s;
    s.l3 = L3::kIpv6;
    s.proto = proto;
    s.tclass = 0x2e;
    s.label = 0xabcde;
    s.hlimit = 9;
    Ipv6Set f;
    f.src = V6(0x2001, 0x1234);
    f.src_mask = AllOnes6();
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.dst = V6(0x2001, 0x5678);
    f.dst_mask = AllOnes6();
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.src = V6(0x2002, 0x9999);
    f.src_mask = V6(0xffff, 0x00ff);  // a few bytes only
    f.dst = V6(0x3fff, 0xffff);
    f.dst_mask = V6(0x0fff, 0);
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.label = 0x12345;
    f.label_mask = 0xfffff;
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.label = 0x00f00;
    f.label_mask = 0x00ff0;
    f.tclass = 0x01;
    f.tclass_mask = 0x03;
    CheckSet(SetIpv6Action(f), s);
    f = {};
    f.tclass = 0xb8;
    f.tclass_mask = 0xff;
    f.hlimit = 1;
    f.hlimit_mask = 0xff;
    CheckSet(SetIpv6Action(f), s);
  }
}

TEST_F(ExecuteTest, SetIpv6WithTcpBehindExtensionHeaders) {
  Spec s;
  s.l3 = L3::kIpv6;
  s.proto = csum::kIpProtoTcp;
  s.ext = {Ext6{rewrite::kIpv6HopByHop}, Ext6{rewrite::kIpv6DestOpts},
           Ext6{rewrite::kIpv6Fragment, 0, 0, true}};  // first fragment
  Ipv6Set f;
  f.src = V6(0x2001, 0xa);
  f.src_mask = AllOnes6();
  f.dst = V6(0x2001, 0xb);
  f.dst_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 443, 0xffff, 0x8000, 0xf000), s);
}

// With a routing header that has segments left, the pseudo-header holds the
// final destination: changing the address field must not touch the TCP
// checksum; changing the source must.
TEST_F(ExecuteTest, SetIpv6DstWithRoutingHeaderPending) {
  Spec s;
  s.l3 = L3::kIpv6;
  s.proto = csum::kIpProtoTcp;
  Ext6 rh{rewrite::kIpv6Routing};
  rh.segs_left = 1;
  rh.addr = V6(0x2001, 0xf1);
  s.ext = {rh};
  const Built b = Build(s);
  Ipv6Set f;
  f.dst = V6(0x2001, 0xd5);
  f.dst_mask = AllOnes6();
  const Bytes got = RunOne({SetIpv6Action(f)}, b.bytes, b.layout);
  EXPECT_EQ(got[b.layout.l4_ofs + 16], b.bytes[b.layout.l4_ofs + 16]);
  EXPECT_EQ(got[b.layout.l4_ofs + 17], b.bytes[b.layout.l4_ofs + 17]);
  CheckSet(SetIpv6Action(f), s);
  f = {};
  f.src = V6(0x2001, 0x5);
  f.src_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
  // With no segments left the address field is the final destination.
  s.ext[0].segs_left = 0;
  f = {};
  f.dst = V6(0x2001, 0xd5);
  f.dst_mask = AllOnes6();
  CheckSet(SetIpv6Action(f), s);
}

TEST_F(ExecuteTest, SetL4PortsMaskedAndUnmasked) {
  struct Case {
    L3 l3;
    uint8_t proto;
    DpActionType type;
  } cases[] = {
      {L3::kIpv4, csum::kIpProtoTcp, DpActionType::kSetTcp},
      {L3::kIpv4, csum::kIpProtoUdp, DpActionType::kSetUdp},
      {L3::kIpv4, csum::kIpProtoSctp, DpActionType::kSetSctp},
      {L3::kIpv6, csum::kIpProtoTcp, DpActionType::kSetTcp},
      {L3::kIpv6, csum::kIpProtoUdp, DpActionType::kSetUdp},
      {L3::kIpv6, csum::kIpProtoSctp, DpActionType::kSetSctp},
  };
  for (const Case& c : cases) {
    for (size_t payload : {0, 1, 7, 8, 13, 200}) {
      SCOPED_TRACE(testing::Message() << "proto " << int(c.proto) << " payload " << payload);
      Spec s;
      s.l3 = c.l3;
      s.proto = c.proto;
      s.sport = 0x1234;
      s.dport = 0xabcd;
      s.payload.assign(payload, 0);
      for (size_t i = 0; i < payload; ++i) s.payload[i] = static_cast<uint8_t>(i * 7 + 3);
      CheckSet(SetL4Action(c.type, 80, 0xffff, 8080, 0xffff), s);
      CheckSet(SetL4Action(c.type, 0x00ff, 0x00ff, 0, 0), s);
      CheckSet(SetL4Action(c.type, 0, 0, 0x5000, 0xf000), s);
      CheckSet(SetL4Action(c.type, 0x1234, 0xffff, 0xabcd, 0xffff), s);  // same values
      // The wrong protocol's action is a no-op.
      const DpActionType other =
          c.type == DpActionType::kSetTcp ? DpActionType::kSetUdp : DpActionType::kSetTcp;
      const Built b = Build(s);
      EXPECT_EQ(Hex(RunOne({SetL4Action(other, 1, 0xffff, 2, 0xffff)}, b.bytes, b.layout)),
                Hex(b.bytes));
    }
  }
}

// The SCTP update brings the CRC to what recomputation gives, but a packet
// whose CRC was wrong stays wrong by the same error.
TEST_F(ExecuteTest, SctpKeepsABadChecksumBad) {
  Bytes bad = kV4Sctp;
  bad[42] ^= 0x5a;
  const Bytes got =
      RunOne({SetL4Action(DpActionType::kSetSctp, 5000, 0xffff, 0, 0)}, bad, kV4Layout);
  Bytes want = kV4SctpSportSet;
  want[42] ^= 0x5a;
  EXPECT_EQ(Hex(got), Hex(want));
  EXPECT_FALSE(SctpChecksumOk(got.data() + 34, got.size() - 34));
}

TEST_F(ExecuteTest, SctpOnMultiSegmentPacket) {
  Spec s;
  s.proto = csum::kIpProtoSctp;
  s.payload.assign(300, 0);
  for (size_t i = 0; i < s.payload.size(); ++i) s.payload[i] = static_cast<uint8_t>(i);
  const Built b = Build(s);
  // Headers in the first segment, the rest in a second one.
  const uint32_t cut = 60;
  rte_mbuf* head = PacketFromBytes(Pool(), b.bytes.data(), cut);
  rte_mbuf* tail = PacketFromBytes(Pool(), b.bytes.data() + cut, b.bytes.size() - cut);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  ASSERT_EQ(Hex(Read(head)), Hex(b.bytes));
  const DpAction a = SetL4Action(DpActionType::kSetSctp, 0, 0, 9999, 0xffff);
  Spec want = s;
  ApplyToSpec(a, &want);
  std::vector<PacketLayout> layouts = {b.layout};
  // Two outputs: the first gets a deep copy of the chain, the last the chain.
  RunPkts({DpAction::Output(1), a, DpAction::Output(2)}, {head}, layouts);
  ASSERT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(Hex(Read(sink_.got[0].pkts.at(0))), Hex(b.bytes));
  EXPECT_EQ(Hex(Read(sink_.got[1].pkts.at(0))), Hex(Build(want).bytes));
  ExpectChecksumsValid(Read(sink_.got[1].pkts[0]), want);
  sink_.FreeAll();
  // Sharing a chain takes a reference on every segment.
  rte_mbuf* head2 = PacketFromBytes(Pool(), b.bytes.data(), cut);
  rte_mbuf* tail2 = PacketFromBytes(Pool(), b.bytes.data() + cut, b.bytes.size() - cut);
  ASSERT_EQ(rte_pktmbuf_chain(head2, tail2), 0);
  RunPkts({DpAction::Output(1), DpAction::Output(2)}, {head2}, layouts);
  EXPECT_EQ(rte_mbuf_refcnt_read(head2), 2);
  EXPECT_EQ(rte_mbuf_refcnt_read(tail2), 2);
}

// --- Packets without the layer ---------------------------------------------------------

TEST_F(ExecuteTest, FragmentsKeepTheirPayload) {
  // IPv4 later fragment: the bytes at "l4_ofs" are payload.
  Spec v4;
  v4.proto = csum::kIpProtoTcp;
  v4.frag = 100;  // offset 800 bytes
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  CheckSet(SetIpv4Action(f), v4);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), v4);
  // First fragment: TCP header present and updated; SCTP left alone.
  v4.frag = 0x2000;
  CheckSet(SetIpv4Action(f), v4);
  CheckSet(SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), v4);
  v4.proto = csum::kIpProtoSctp;
  const Built b = Build(v4);
  EXPECT_EQ(
      Hex(RunOne({SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0xffff)}, b.bytes, b.layout)),
      Hex(b.bytes));

  Spec v6;
  v6.l3 = L3::kIpv6;
  v6.proto = csum::kIpProtoUdp;
  v6.ext = {Ext6{rewrite::kIpv6Fragment, 0, 77, false}};
  Ipv6Set g;
  g.src = V6(0x2001, 1);
  g.src_mask = AllOnes6();
  CheckSet(SetIpv6Action(g), v6);
  CheckSet(SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), v6);
}

TEST_F(ExecuteTest, NonIpFramesIgnoreIpAndL4Sets) {
  Spec s;
  s.l3 = L3::kNone;
  const Built b = Build(s);
  Ipv4Set f;
  f.src = 0x01020304;
  f.src_mask = 0xffffffff;
  Ipv6Set g;
  g.src = V6(0x2001, 1);
  g.src_mask = AllOnes6();
  for (const DpAction& a :
       {SetIpv4Action(f), SetIpv6Action(g), SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0),
        SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0),
        SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0)}) {
    EXPECT_EQ(Hex(RunOne({a}, b.bytes, b.layout)), Hex(b.bytes));
  }
  // An IPv4 set on an IPv6 packet (and the reverse) is a no-op too.
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(f)}, kV6Udp, kV6Layout)), Hex(kV6Udp));
  EXPECT_EQ(Hex(RunOne({SetIpv6Action(g)}, kV4Udp, kV4Layout)), Hex(kV4Udp));
}

// A frame cut short anywhere before the end of the header a set action needs
// comes out unchanged.
TEST_F(ExecuteTest, TruncatedPacketsUnchanged) {
  Ipv4Set f4;
  f4.src = 0x01020304;
  f4.src_mask = 0xffffffff;
  f4.ttl = 3;
  f4.ttl_mask = 0xff;
  Ipv6Set f6;
  f6.src = V6(0x2001, 1);
  f6.src_mask = AllOnes6();
  f6.hlimit = 3;
  f6.hlimit_mask = 0xff;
  struct Case {
    Bytes frame;
    PacketLayout layout;
    DpAction action;
    uint32_t needed;  // bytes the action needs
  } cases[] = {
      {kV4Udp, kV4Layout, SetEthAction(kAllOnesMac, kAllOnesMac, kAllOnesMac, kAllOnesMac), 12},
      {kV4Udp, kV4Layout, SetIpv4Action(f4), 34},
      {kV4Tcp, kV4Layout, SetL4Action(DpActionType::kSetTcp, 1, 0xffff, 2, 0xffff), 54},
      {kV4Udp, kV4Layout, SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), 42},
      {kV4Sctp, kV4Layout, SetL4Action(DpActionType::kSetSctp, 1, 0xffff, 2, 0xffff), 46},
      {kV6Udp, kV6Layout, SetIpv6Action(f6), 54},
      {kV6Udp, kV6Layout, SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff), 62},
  };
  for (const Case& c : cases) {
    for (uint32_t len = 0; len < c.needed; ++len) {
      SCOPED_TRACE(testing::Message() << "action " << int(c.action.type) << " len " << len);
      const Bytes cut(c.frame.begin(), c.frame.begin() + len);
      ASSERT_EQ(Hex(RunOne({c.action}, cut, c.layout)), Hex(cut));
    }
  }
  // IPv4 header whole but TCP header cut: the IPv4 header (and its checksum)
  // change, the L4 bytes do not.
  const Bytes full = RunOne({SetIpv4Action(f4)}, kV4Tcp, kV4Layout);
  for (uint32_t len = 34; len < 54; ++len) {
    const Bytes cut(kV4Tcp.begin(), kV4Tcp.begin() + len);
    Bytes want = cut;
    std::memcpy(want.data(), full.data(), 34);
    ASSERT_EQ(Hex(RunOne({SetIpv4Action(f4)}, cut, kV4Layout)), Hex(want)) << "len " << len;
  }
  // Missing layers by layout.
  EXPECT_EQ(Hex(RunOne({SetIpv4Action(f4)}, kV4Udp, {kNoOffset, kNoOffset})), Hex(kV4Udp));
  EXPECT_EQ(Hex(RunOne({SetL4Action(DpActionType::kSetUdp, 1, 0xffff, 2, 0xffff)}, kV4Udp,
                       {14, kNoOffset})),
            Hex(kV4Udp));
}

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
  switch (r(11)) {
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

// --- Byte-level primitives --------------------------------------------------------------

TEST(RewriteTest, PrimitivesReportWhetherTheLayerWasThere) {
  Bytes f = kV4Udp;
  SetIpv4 a{};
  a.ttl = 1;
  a.ttl_mask = 0xff;
  EXPECT_TRUE(SetIpv4Masked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, a));
  EXPECT_FALSE(SetIpv4Masked(f.data(), 33, kV4Layout, a));
  EXPECT_FALSE(SetIpv4Masked(f.data(), static_cast<uint32_t>(f.size()), {}, a));
  SetL4 p{};
  p.src = Be16(1);
  p.src_mask = Be16(0xffff);
  EXPECT_TRUE(SetUdpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  EXPECT_FALSE(SetTcpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  EXPECT_FALSE(SetSctpMasked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, p));
  Bytes g = kV6Udp;
  SetIpv6 b{};
  b.hlimit_mask = 0xff;
  EXPECT_TRUE(SetIpv6Masked(g.data(), static_cast<uint32_t>(g.size()), kV6Layout, b));
  EXPECT_FALSE(SetIpv6Masked(f.data(), static_cast<uint32_t>(f.size()), kV4Layout, b));
  SetEth e{};
  EXPECT_TRUE(SetEthMasked(f.data(), 12, e));
  EXPECT_FALSE(SetEthMasked(f.data(), 11, e));
}

// Every primitive, on every prefix of several frames copied into a heap
// buffer of exactly that size: nothing is read or written past `len` (an
// AddressSanitizer build turns any overread into a failure), and a prefix
// shorter than the header the action needs is left unchanged.
TEST(RewriteTest, ExactSizeBuffersAreNeverOverrun) {
  Spec v6ext;
  v6ext.l3 = L3::kIpv6;
  v6ext.proto = csum::kIpProtoTcp;
  Ext6 rh{rewrite::kIpv6Routing};
  rh.segs_left = 1;
  v6ext.ext = {Ext6{rewrite::kIpv6HopByHop}, rh, Ext6{rewrite::kIpv6Fragment}};
  const Built b6 = Build(v6ext);
  struct Frame {
    Bytes bytes;
    PacketLayout layout;
  } frames[] = {{kV4Tcp, kV4Layout},
                {kV4Udp, kV4Layout},
                {kV4Sctp, kV4Layout},
                {kV6Udp, kV6Layout},
                {b6.bytes, b6.layout}};
  SetEth eth{};
  eth.src_mask = kAllOnesMac;
  SetIpv4 v4{};
  v4.src = Be32(0x01020304);
  v4.src_mask = Be32(0xffffffff);
  v4.tos_mask = 0xff;
  SetIpv6 v6{};
  std::memset(v6.dst_mask, 0xff, 16);
  v6.hlimit_mask = 0xff;
  SetL4 l4{};
  l4.src = Be16(7);
  l4.src_mask = Be16(0xffff);
  for (const Frame& f : frames) {
    for (size_t len = 0; len <= f.bytes.size(); ++len) {
      SCOPED_TRACE(testing::Message() << "len " << len);
      const uint32_t n = static_cast<uint32_t>(len);
      auto fresh = [&] {
        std::unique_ptr<uint8_t[]> buf(new uint8_t[len == 0 ? 1 : len]);
        std::memcpy(buf.get(), f.bytes.data(), len);
        return buf;
      };
      auto unchanged = [&](const std::unique_ptr<uint8_t[]>& buf) {
        return std::memcmp(buf.get(), f.bytes.data(), len) == 0;
      };
      auto buf = fresh();
      if (!SetEthMasked(buf.get(), n, eth)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetIpv4Masked(buf.get(), n, f.layout, v4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetIpv6Masked(buf.get(), n, f.layout, v6)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetTcpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetUdpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
      buf = fresh();
      if (!SetSctpMasked(buf.get(), n, f.layout, l4)) {
        EXPECT_TRUE(unchanged(buf));
      }
    }
  }
}

TEST(RewriteTest, ExecDropNames) {
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoOutput), "action_drop");
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoMbuf), "action_no_mbuf");
  EXPECT_STREQ(ExecDropName(ExecDrop::kNoRoom), "push_vlan_no_room");
}

}  // namespace
}  // namespace sluice::dp
