// Shared helpers for the action executor tests (actions_*_dpdk_test.cc) and
// the meter test: a packet pool, frame builders, a frame model (Spec/Build)
// that computes every checksum from scratch, checksum verification
// (ExpectChecksumsValid), a fake Sink, the ExecuteTest fixture and literal
// test frames. Header-only; every function is inline.
//
// Frames are built by hand, either as literal bytes (with expected results
// computed by an independent implementation of the checksums) or by a small
// frame builder (Build) that computes every checksum from scratch; a rewrite
// is then checked byte for byte against the frame built with the new field
// values, and the checksums of every output are verified again
// (ExpectChecksumsValid). The executor's bookkeeping (sharing, copies, drops,
// ownership) is checked through a fake Sink and the pool's in-use count,
// which must be back to its start value after every test.
#ifndef SLUICE_TESTS_DATAPATH_ACTIONS_TEST_UTIL_H_
#define SLUICE_TESTS_DATAPATH_ACTIONS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "datapath/actions/csum.h"
#include "datapath/actions/dp_actions.h"
#include "datapath/actions/execute.h"
#include "datapath/actions/rewrite.h"
#include "datapath/packet/packet.h"

namespace sluice::dp::testutil {

// --- Test helpers ------------------------------------------------------------

using Bytes = std::vector<uint8_t>;

inline std::string Hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += buf;
    if (i % 16 == 15) s += '\n';
  }
  return s;
}

inline rte_mempool* Pool() {
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

inline rte_mbuf* Pkt(const Bytes& b) {
  // An empty frame is allocated directly: PacketFromBytes would memcpy from
  // the empty vector's null data().
  rte_mbuf* m = b.empty() ? rte_pktmbuf_alloc(Pool())
                          : PacketFromBytes(Pool(), b.data(), static_cast<uint32_t>(b.size()));
  EXPECT_NE(m, nullptr);
  return m;
}

// All bytes of a (possibly multi-segment) packet.
inline Bytes Read(const rte_mbuf* m) {
  Bytes out(PacketLen(m));
  if (out.empty()) return out;
  const void* p = rte_pktmbuf_read(m, 0, PacketLen(m), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

inline DpAction Blank(DpActionType t) {
  DpAction a;
  std::memset(static_cast<void*>(&a), 0, sizeof(a));
  a.type = t;
  return a;
}

inline EthAddr Mac(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e, uint8_t f) {
  return EthAddr{{a, b, c, d, e, f}};
}
inline const EthAddr kAllOnesMac = Mac(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

inline DpAction SetEthAction(EthAddr src, EthAddr src_mask, EthAddr dst, EthAddr dst_mask) {
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
inline DpAction SetIpv4Action(const Ipv4Set& s) {
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
inline Addr6 V6(uint16_t first, uint16_t last) {
  Addr6 a{};
  a[0] = static_cast<uint8_t>(first >> 8);
  a[1] = static_cast<uint8_t>(first);
  a[14] = static_cast<uint8_t>(last >> 8);
  a[15] = static_cast<uint8_t>(last);
  return a;
}
inline Addr6 AllOnes6() {
  Addr6 a;
  a.fill(0xff);
  return a;
}

struct Ipv6Set {
  Addr6 src{}, src_mask{}, dst{}, dst_mask{};
  uint32_t label = 0, label_mask = 0;
  uint8_t tclass = 0, tclass_mask = 0, hlimit = 0, hlimit_mask = 0;
};
inline DpAction SetIpv6Action(const Ipv6Set& s) {
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

inline DpAction SetL4Action(DpActionType t, uint16_t src, uint16_t src_mask, uint16_t dst,
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

inline void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
inline void Put32(Bytes* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}

inline bool IsLaterFragment(const Spec& s) {
  if (s.l3 == L3::kIpv4) return (s.frag & 0x1fff) != 0;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Fragment && e.frag_offset != 0) return true;
  }
  return false;
}
inline bool IsFragment(const Spec& s) {
  if (s.l3 == L3::kIpv4) return (s.frag & 0x3fff) != 0;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Fragment) return true;
  }
  return false;
}
inline bool HasL4Header(const Spec& s) {
  return s.l3 != L3::kNone && !IsLaterFragment(s) &&
         (s.proto == csum::kIpProtoTcp || s.proto == csum::kIpProtoUdp ||
          s.proto == csum::kIpProtoSctp || s.proto == csum::kIpProtoIcmpv6);
}
// The destination in the IPv6 pseudo-header (RFC 8200 8.1).
inline Addr6 PseudoDst(const Spec& s) {
  Addr6 d = s.v6_dst;
  for (const Ext6& e : s.ext) {
    if (e.type == rewrite::kIpv6Routing && e.segs_left != 0) d = e.addr;
  }
  return d;
}

inline Bytes L4Segment(const Spec& s) {
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
inline void FillL4Checksum(const Spec& s, uint64_t pseudo, Bytes* seg) {
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

inline Built Build(const Spec& s) {
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
inline void ExpectChecksumsValid(const Bytes& f, const Spec& s) {
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

inline void ApplyToSpec(const DpAction& a, Spec* s) {
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
inline const Bytes kV4Tcp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x7c, 0xcd, 0x7f, 0x00,
    0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x91, 0x7c, 0x00, 0x00,
};
// kV4Tcp with nw_src 10.1.2.3: IPv4 checksum 0xefca, TCP checksum 0x047a.
inline const Bytes kV4TcpSrcSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0xef, 0xca, 0x0a, 0x01,
    0x02, 0x03, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x14, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x04, 0x7a, 0x00, 0x00,
};
inline const Bytes kV4Udp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7c, 0xcd, 0x7f, 0x00, 0x00, 0x01,
    0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
// kV4Udp with nw_dst 192.168.1.1 and ttl 63.
inline const Bytes kV4UdpDstTtlSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x3f, 0x11, 0x3b, 0x25, 0x7f, 0x00, 0x00, 0x01,
    0xc0, 0xa8, 0x01, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x46, 0xc7, 0x78,
};
// kV4Udp with an 802.1Q tag, PCP 1, VID 5.
inline const Bytes kV4UdpTagged = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x20, 0x05,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x1d, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x7c, 0xcd, 0x7f, 0x00,
    0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x89, 0x6f, 0x78,
};
inline const Bytes kV6Udp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x87, 0x70, 0x78,
};
// kV6Udp with ipv6_src 2001:db8::1: UDP checksum 0x59b7.
inline const Bytes kV6UdpSrcSet = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35, 0x00, 0x35, 0x00, 0x09, 0x59, 0xb7, 0x78,
};
// IPv4 carrying a captured SCTP INIT (CRC32c bytes 9f 78 a7 04).
inline const Bytes kV4Sctp = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x34, 0x00, 0x02, 0x00, 0x00, 0x40, 0x84, 0x8e, 0x0d, 0xc0, 0x00,
    0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x0f, 0xe4, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00,
    0x9f, 0x78, 0xa7, 0x04, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00,
    0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c,
};
// kV4Sctp with source port 5000: CRC32c bytes 06 1c de 84.
inline const Bytes kV4SctpSportSet = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x34, 0x00, 0x02, 0x00, 0x00, 0x40, 0x84, 0x8e, 0x0d, 0xc0, 0x00,
    0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x13, 0x88, 0x0f, 0x1c, 0x00, 0x00, 0x00, 0x00,
    0x06, 0x1c, 0xde, 0x84, 0x01, 0x00, 0x00, 0x14, 0xbb, 0x7b, 0x0f, 0x9c, 0x00, 0x00,
    0xfa, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0xbb, 0x7b, 0x0f, 0x9c,
};
inline const PacketLayout kV4Layout{14, 34};
inline const PacketLayout kV6Layout{14, 54};

}  // namespace sluice::dp::testutil

#endif  // SLUICE_TESTS_DATAPATH_ACTIONS_TEST_UTIL_H_
