// ParseFlowTo (datapath/flow/parse.h), the PMD's parser: at every depth the
// status and layout are ParseFlow's and the key is ParseFlow's key masked to
// the depth (tcp_flags included); and its `reads` map is sound: changing any
// byte outside it (keeping the length) changes neither status, key nor
// layout. Frames: the valid-frame table (every protocol the parser knows),
// random fast-path frames, and random mutations of both.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "datapath/flow/parse.h"
#include "tests/datapath/flow_parse_test_util.h"
#include "tests/datapath/flow_parse_valid_cases.h"

namespace sluice::dp {
namespace {

using namespace flow_parse_test;

constexpr ParseDepth kDepths[] = {ParseDepth::kMeta, ParseDepth::kL2, ParseDepth::kFull};

struct Result {
  ParseStatus status;
  FlowKey key;
  PacketLayout layout;
  uint64_t reads = 0;
};

// Parses an exactly sized heap copy (so that ASan sees any overread).
Result ParseTo(ParseDepth d, const std::vector<uint8_t>& f, uint32_t in_port = kPort) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[f.size() + 1]);
  if (!f.empty()) std::memcpy(copy.get(), f.data(), f.size());
  alignas(64) FlowKey key;
  std::memset(&key, 0xa5, sizeof(key));  // every byte must be written
  Result r{};
  const auto len = static_cast<uint32_t>(f.size());
  ParseResult pr{};
  switch (d) {
    case ParseDepth::kMeta:
      pr = ParseFlowTo<ParseDepth::kMeta>(copy.get(), len, in_port, 0, &key, &r.layout);
      break;
    case ParseDepth::kL2:
      pr = ParseFlowTo<ParseDepth::kL2>(copy.get(), len, in_port, 0, &key, &r.layout);
      break;
    case ParseDepth::kFull:
      pr = ParseFlowTo<ParseDepth::kFull>(copy.get(), len, in_port, 0, &key, &r.layout);
      break;
  }
  r.status = pr.status;
  r.reads = pr.reads;
  r.key = key;
  return r;
}

Result ParseFull(const std::vector<uint8_t>& f) {
  Result r{};
  alignas(64) FlowKey key;
  r.status = ParseFlow(f.data(), static_cast<uint32_t>(f.size()), kPort, &key, &r.layout);
  r.key = key;
  return r;
}

FlowKey Masked(const FlowKey& k, ParseDepth d) {
  FlowKey out;
  MaskKey(k, ParseDepthMask(d), &out);
  return out;
}

std::vector<uint8_t> RandomFastFrame(std::mt19937_64& rng) {
  const bool tcp = rng() & 1;
  const size_t l4 = tcp ? 20 + 4 * (rng() % 3) : 8;
  const size_t payload = rng() % 60;
  std::vector<uint8_t> f(14 + 20 + l4 + payload);
  for (auto& b : f) b = static_cast<uint8_t>(rng());
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const size_t total = 20 + l4 + payload;
  ip[2] = static_cast<uint8_t>(total >> 8);
  ip[3] = static_cast<uint8_t>(total);
  ip[6] &= 0x40;
  ip[7] = 0;
  ip[9] = tcp ? 6 : 17;
  if (tcp) ip[20 + 12] = static_cast<uint8_t>((l4 / 4) << 4 | (ip[20 + 12] & 0x0f));
  return f;
}

void Mutate(std::mt19937_64& rng, std::vector<uint8_t>& f) {
  if (f.empty()) return;
  switch (rng() % 3) {
    case 0:
      f[rng() % std::min<size_t>(f.size(), 64)] = static_cast<uint8_t>(rng());
      break;
    case 1:
      f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    default:
      f.resize(rng() % (f.size() + 1));
      break;
  }
}

// Every frame of the corpus: the valid table, random fast-path frames, and
// mutations of both (a fixed seed, printed on failure).
std::vector<std::vector<uint8_t>> Corpus(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint8_t>> out;
  for (const Case& c : ValidCases()) {
    out.push_back(c.frame.v);
    for (int k = 0; k < 20; ++k) {
      std::vector<uint8_t> f = c.frame.v;
      const int n = 1 + static_cast<int>(rng() % 2);
      for (int j = 0; j < n; ++j) Mutate(rng, f);
      out.push_back(std::move(f));
    }
  }
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> f = RandomFastFrame(rng);
    if (rng() % 2) Mutate(rng, f);
    out.push_back(std::move(f));
  }
  return out;
}

void ExpectSameResult(const Result& a, const Result& b, const std::string& what) {
  ASSERT_EQ(a.status, b.status) << what;
  if (a.status != ParseStatus::kOk) return;
  ASSERT_TRUE(a.key == b.key) << what << "\ngot:\n" << Dump(a.key) << "want:\n" << Dump(b.key);
  ASSERT_EQ(a.layout.l3_ofs, b.layout.l3_ofs) << what;
  ASSERT_EQ(a.layout.l4_ofs, b.layout.l4_ofs) << what;
}

TEST(FlowParseDepth, EveryDepthIsTheFullParseMasked) {
  const uint64_t seed = 20261122;
  const auto corpus = Corpus(seed);
  for (size_t i = 0; i < corpus.size(); ++i) {
    const Result full = ParseFull(corpus[i]);
    for (ParseDepth d : kDepths) {
      Result r = ParseTo(d, corpus[i]);
      Result want = full;
      want.key = Masked(full.key, d);
      ExpectSameResult(r, want,
                       "seed " + std::to_string(seed) + " frame " + std::to_string(i) + " depth " +
                           std::to_string(static_cast<int>(d)));
      if (r.status == ParseStatus::kOk) {
        // The map never names a byte past the frame.
        if (corpus[i].size() < 64) {
          ASSERT_EQ(r.reads >> corpus[i].size(), 0u) << "frame " << i;
        }
      }
    }
  }
}

// The `reads` contract: bytes outside the map (and, when the map is not 0,
// every byte from 64 on) may change without changing the result.
TEST(FlowParseDepth, BytesOutsideReadsDoNotMatter) {
  const uint64_t seed = 4242;
  std::mt19937_64 rng(seed);
  const auto corpus = Corpus(seed);
  size_t checked = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    for (ParseDepth d : kDepths) {
      const Result base = ParseTo(d, corpus[i]);
      if (base.status != ParseStatus::kOk) continue;
      if (base.reads == 0) {
        ASSERT_GT(corpus[i].size(), 64u) << "frame " << i << ": a short frame can always follow";
        continue;
      }
      for (int k = 0; k < 8; ++k) {
        std::vector<uint8_t> f = corpus[i];
        for (size_t b = 0; b < f.size(); ++b) {
          const bool read = b < 64 && (base.reads >> b & 1);
          if (!read && rng() % 2) f[b] = static_cast<uint8_t>(rng());
        }
        ExpectSameResult(ParseTo(d, f), base,
                         "seed " + std::to_string(seed) + " frame " + std::to_string(i) +
                             " variant " + std::to_string(k));
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

// The fast path reads neither the IPv4 id and checksum nor TCP sequence
// numbers, window and checksum: packets of one TCP flow that differ only
// there may follow each other; the flags are read.
TEST(FlowParseDepth, FastPathReadsOnlyTheKeyBytes) {
  Bytes b = Eth(kMacA, kMacB, 0x0800);
  const size_t l3 = AddIp4(b, 6, 0x0a000001, 0x0a000002);
  AddTcp(b, 1000, 80, 0x5010);
  FinishIp4(b, l3);
  const Result r = ParseTo(ParseDepth::kFull, b.v);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  for (int byte : {18, 19, 24, 25, 38, 39, 40, 41, 42, 43, 44, 45, 48, 49, 50, 51}) {
    EXPECT_EQ(r.reads >> byte & 1, 0u) << byte;
  }
  for (int byte : {0, 5, 6, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 26, 33, 34, 37, 46, 47}) {
    EXPECT_EQ(r.reads >> byte & 1, 1u) << byte;
  }
}

// IPv6 with a hop-by-hop header puts the UDP ports at bytes 62-65: a frame
// longer than 64 bytes cannot be followed (its map is 0); the same frame
// cut to 64 bytes names all of its bytes.
TEST(FlowParseDepth, HeadersPastTheWindowAreNeverFollowed) {
  Bytes ext;
  ext.U8(17).U8(0).Zeros(6);
  AddUdp(ext, 1234, 5678, 20);
  const Bytes b = Ip6Frame(0, ext);
  ASSERT_GT(b.size(), 64u);
  const Result r = ParseTo(ParseDepth::kFull, b.v);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.key.tp_dst, Be16(5678));
  EXPECT_EQ(r.reads, 0u);
}

TEST(FlowParseDepth, DepthOfMasks) {
  FlowMask m;
  m.Clear();
  EXPECT_EQ(ParseDepthFor(m), ParseDepth::kMeta);
  m.in_port = ~0u;
  m.recirc_id = ~0u;
  EXPECT_EQ(ParseDepthFor(m), ParseDepth::kMeta);
  m.tcp_flags = Be16(0x0fff);
  m.pkt_mark = 1;
  EXPECT_EQ(ParseDepthFor(m), ParseDepth::kMeta);
  m.eth_dst = EthAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  EXPECT_EQ(ParseDepthFor(m), ParseDepth::kL2);
  m.vlan[1].tci = Be16(0x0fff);
  m.eth_type = Be16(0xffff);
  EXPECT_EQ(ParseDepthFor(m), ParseDepth::kL2);
  FlowMask l3 = m;
  l3.nw_proto = 0xff;  // shares word 2 with eth_src
  EXPECT_EQ(ParseDepthFor(l3), ParseDepth::kFull);
  FlowMask l4 = m;
  l4.tp_dst = Be16(0xffff);  // shares word 5 with tcp_flags
  EXPECT_EQ(ParseDepthFor(l4), ParseDepth::kFull);
  FlowMask nd = m;
  nd.arp_tha.b[0] = 1;
  EXPECT_EQ(ParseDepthFor(nd), ParseDepth::kFull);
  EXPECT_EQ(ParseDepthFor(ExactMask()), ParseDepth::kFull);
}

}  // namespace
}  // namespace sluice::dp
