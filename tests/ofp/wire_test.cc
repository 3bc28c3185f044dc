// Tests of the codec's byte-level tools (controller/ofp/ofp_wire.cc): the
// bounds-checked Reader, the Writer and OpenFlow 1.0 port numbers.

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

#include "controller/ofp/ofp_wire.h"

namespace sluice::ofp {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(Reader, ReadsBigEndian) {
  const Bytes b = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                   0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
  Reader r(b.data(), b.size());
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.u16(), 0x0203);
  EXPECT_EQ(r.u32(), 0x04050607u);
  EXPECT_EQ(r.u64(), 0x08090a0b0c0d0e0full);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.offset(), 15u);
  EXPECT_EQ(r.remaining(), 2u);
  EXPECT_EQ(r.here(), b.data() + 15);
  EXPECT_EQ(r.u16(), 0x1011);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(r.ok());
}

// A short read fails, returns zeros, and every later read fails too, even
// one that would have fitted.
TEST(Reader, ShortReadsFailForGood) {
  const Bytes b = {0xaa, 0xbb, 0xcc};
  Reader r(b.data(), b.size());
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.u8(), 0u);
  EXPECT_FALSE(r.ok());

  for (int width : {1, 2, 4, 8}) {
    SCOPED_TRACE(width);
    for (size_t n = 0; n < static_cast<size_t>(width); ++n) {
      Bytes buf(n, 0xff);
      Reader s(buf.data(), buf.size());
      uint64_t v = width == 1 ? s.u8() : width == 2 ? s.u16() : width == 4 ? s.u32() : s.u64();
      EXPECT_EQ(v, 0u);
      EXPECT_FALSE(s.ok());
    }
  }
}

TEST(Reader, BytesAndSkip) {
  const Bytes b = {1, 2, 3, 4, 5};
  Reader r(b.data(), b.size());
  uint8_t out[3] = {9, 9, 9};
  r.skip(1);
  r.bytes(out, 3);
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(out[2], 4);
  r.bytes(out, 3);  // only one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 0);

  Reader s(b.data(), b.size());
  s.skip(6);
  EXPECT_FALSE(s.ok());
  Reader t(b.data(), b.size());
  t.skip(5);
  EXPECT_TRUE(t.ok());
  EXPECT_EQ(t.remaining(), 0u);
  t.bytes(out, 0);
  EXPECT_TRUE(t.ok());
}

TEST(Reader, FixedWidthStrings) {
  const Bytes b = {'e', 't', 'h', '0', 0, 0, 0, 0, 'a', 'b', 'c', 'd'};
  Reader r(b.data(), b.size());
  EXPECT_EQ(r.str(8), "eth0");
  EXPECT_EQ(r.str(4), "abcd");  // no NUL: the whole field
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.str(1), "");
  EXPECT_FALSE(r.ok());
}

TEST(Reader, SubReaders) {
  const Bytes b = {1, 2, 3, 4, 5, 6};
  Reader r(b.data(), b.size());
  r.u8();
  Reader s = r.sub(3);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.remaining(), 3u);
  EXPECT_EQ(r.offset(), 4u);  // the parent skipped the sub-reader's bytes
  EXPECT_EQ(s.u16(), 0x0203);
  EXPECT_EQ(s.u16(), 0u);  // past the sub-reader's end, not into 5, 6
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u16(), 0x0506);

  Reader t(b.data(), b.size());
  Reader too_long = t.sub(7);
  EXPECT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.remaining(), 0u);
  EXPECT_EQ(too_long.u8(), 0u);
  EXPECT_FALSE(t.ok());

  Reader u(b.data(), b.size());
  Reader empty = u.sub(0);
  EXPECT_TRUE(empty.ok());
  EXPECT_EQ(empty.remaining(), 0u);
}

// Random reads over random buffers stay in bounds (run under ASan) and
// fail exactly when they would run past the end.
TEST(Reader, RandomReadsStayInBounds) {
  const uint64_t seed = 99;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int rep = 0; rep < 2000; ++rep) {
    Bytes buf(rng() % 40);
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    Reader r(buf.data(), buf.size());
    size_t pos = 0;
    bool ok = true;
    while (ok) {
      static constexpr size_t kWidths[] = {1, 2, 4, 8, 3, 0};
      size_t k = rng() % 6;
      size_t n = kWidths[k];
      switch (k) {
        case 0:
          r.u8();
          break;
        case 1:
          r.u16();
          break;
        case 2:
          r.u32();
          break;
        case 3:
          r.u64();
          break;
        case 4:
          r.skip(3);
          break;
        case 5: {
          n = rng() % 9;
          Reader s = r.sub(n);
          while (s.ok() && s.remaining()) s.u8();
          break;
        }
      }
      ok = pos + n <= buf.size();
      if (ok) pos += n;
      EXPECT_EQ(r.ok(), ok);
      if (ok) {
        EXPECT_EQ(r.offset(), pos);
      }
    }
  }
}

TEST(Writer, WritesBigEndian) {
  Bytes out;
  Writer w(&out);
  w.u8(0x01);
  w.u16(0x0203);
  w.u32(0x04050607);
  w.u64(0x08090a0b0c0d0e0f);
  EXPECT_EQ(w.size(), 15u);
  EXPECT_EQ(out, (Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(Writer, PaddingStringsAndPatching) {
  Bytes out;
  Writer w(&out);
  w.u16(0);
  w.str("eth0", 8);
  EXPECT_EQ(out, (Bytes{0, 0, 'e', 't', 'h', '0', 0, 0, 0, 0}));
  w.str("abcdef", 4);  // truncated to 3 chars and a NUL
  EXPECT_EQ(Bytes(out.begin() + 10, out.end()), (Bytes{'a', 'b', 'c', 0}));
  w.pad_to(8);
  EXPECT_EQ(out.size(), 16u);
  w.pad_to(8);
  EXPECT_EQ(out.size(), 16u);
  w.zeros(3);
  EXPECT_EQ(out.size(), 19u);
  w.put_u16(0, 0xbeef);
  EXPECT_EQ(out[0], 0xbe);
  EXPECT_EQ(out[1], 0xef);
  const uint8_t raw[] = {7, 8};
  w.bytes(raw, 2);
  EXPECT_EQ(out.back(), 8);
  EXPECT_EQ(&w.out(), &out);
}

TEST(Writer, ReaderReadsWhatWriterWrote) {
  const uint64_t seed = 5;
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Bytes out;
  Writer w(&out);
  std::vector<std::pair<int, uint64_t>> written;
  for (int i = 0; i < 500; ++i) {
    int width = 1 << (rng() % 4);
    uint64_t v = rng() & (width == 8 ? ~0ull : (1ull << (8 * width)) - 1);
    if (width == 1) w.u8(static_cast<uint8_t>(v));
    if (width == 2) w.u16(static_cast<uint16_t>(v));
    if (width == 4) w.u32(static_cast<uint32_t>(v));
    if (width == 8) w.u64(v);
    written.push_back({width, v});
  }
  Reader r(out.data(), out.size());
  for (auto [width, v] : written) {
    uint64_t got = width == 1 ? r.u8() : width == 2 ? r.u16() : width == 4 ? r.u32() : r.u64();
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Ports, OpenFlow10Mapping) {
  EXPECT_EQ(PortFrom10(1), 1u);
  EXPECT_EQ(PortFrom10(0xfeff), 0xfeffu);
  EXPECT_EQ(PortFrom10(0xff00), 0xffffff00u);  // OFPP_MAX
  EXPECT_EQ(PortFrom10(0xfff8), ofproto::kPortInPort);
  EXPECT_EQ(PortFrom10(0xfff9), ofproto::kPortTable);
  EXPECT_EQ(PortFrom10(0xfffa), ofproto::kPortNormal);
  EXPECT_EQ(PortFrom10(0xfffb), ofproto::kPortFlood);
  EXPECT_EQ(PortFrom10(0xfffc), ofproto::kPortAll);
  EXPECT_EQ(PortFrom10(0xfffd), ofproto::kPortController);
  EXPECT_EQ(PortFrom10(0xfffe), ofproto::kPortLocal);
  EXPECT_EQ(PortFrom10(0xffff), ofproto::kPortAny);  // OFPP_NONE
  EXPECT_EQ(PortTo10(ofproto::kPortController), 0xfffd);
  EXPECT_EQ(PortTo10(ofproto::kPortAny), 0xffff);
  EXPECT_EQ(PortTo10(7), 7);
  // No 16-bit number: OFPP_NONE.
  EXPECT_EQ(PortTo10(0xff00), 0xffff);
  EXPECT_EQ(PortTo10(0x10000), 0xffff);
  EXPECT_EQ(PortTo10(0xfffffeff), 0xffff);
  for (uint32_t p = 0; p <= 0xffff; ++p) {
    EXPECT_EQ(PortTo10(PortFrom10(static_cast<uint16_t>(p))), p);
  }
}

}  // namespace
}  // namespace sluice::ofp
