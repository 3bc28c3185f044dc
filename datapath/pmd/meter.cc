#include "datapath/pmd/meter.h"

#include <immintrin.h>
#include <rte_cycles.h>

#include <algorithm>
#include <cstring>

#include "datapath/actions/csum.h"
#include "datapath/packet/packet.h"

namespace sluice::dp {

__extension__ typedef unsigned __int128 u128;

namespace {

constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint16_t kEthTypeIpv6 = 0x86dd;
// The action of one packet, decided under the lock, carried out after it.
constexpr uint8_t kPass = 0xff;  // no band applies
constexpr uint8_t kDrop = 0xfe;  // a drop band applies; else: remark by this many levels

// DSCP with its AF drop precedence raised by `levels` (at most to 3).
inline uint8_t RaiseDropPrecedence(uint8_t dscp, uint8_t levels) {
  const uint32_t dp = (dscp >> 1) & 3u;
  const uint32_t raised = std::min<uint32_t>(dp + levels, 3u);
  return static_cast<uint8_t>((dscp & ~0x06u) | (raised << 1));
}

// Remarks one packet's DSCP (IPv4 or IPv6; others are left alone).
void RemarkDscp(rte_mbuf* m, const PacketLayout& layout, uint8_t levels) {
  const uint32_t l3 = layout.l3_ofs;
  if (l3 == kNoOffset || l3 < 2) return;
  uint8_t* p = PacketData(m);
  const uint32_t head = PacketHeadLen(m);
  const uint16_t eth_type = static_cast<uint16_t>(p[l3 - 2] << 8 | p[l3 - 1]);
  if (eth_type == kEthTypeIpv4 && l3 + 20 <= head) {
    uint8_t* ip = p + l3;
    const uint8_t tos = ip[1];
    const uint8_t new_tos =
        static_cast<uint8_t>(RaiseDropPrecedence(tos >> 2, levels) << 2 | (tos & 0x03));
    if (new_tos == tos) return;
    be16 old_word, new_word, csum;
    std::memcpy(&old_word.raw, ip, 2);
    ip[1] = new_tos;
    std::memcpy(&new_word.raw, ip, 2);
    std::memcpy(&csum.raw, ip + 10, 2);
    csum = CsumUpdate16(csum, old_word, new_word);
    std::memcpy(ip + 10, &csum.raw, 2);
  } else if (eth_type == kEthTypeIpv6 && l3 + 40 <= head) {
    // version:4 tclass:8 label:20; tclass = DSCP:6 ECN:2. No header checksum,
    // and the L4 pseudo-header does not cover the traffic class.
    uint8_t* ip = p + l3;
    const uint8_t tclass = static_cast<uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
    const uint8_t new_tclass =
        static_cast<uint8_t>(RaiseDropPrecedence(tclass >> 2, levels) << 2 | (tclass & 0x03));
    ip[0] = static_cast<uint8_t>((ip[0] & 0xf0) | new_tclass >> 4);
    ip[1] = static_cast<uint8_t>((ip[1] & 0x0f) | (new_tclass & 0x0f) << 4);
  }
}

}  // namespace

// One configured meter. Everything here is guarded by its slot's lock.
struct MeterTable::Meter {
  struct Band {
    MeterBand config;
    u128 rate_per_s;  // units per second = tokens gained per TSC cycle (see Refill)
    u128 capacity;    // in units * tsc_hz
    u128 tokens;      // in units * tsc_hz
    MeterBandStats stats;
  };
  bool pktps = false;
  std::vector<Band> bands;
  uint64_t last_tsc = 0;
  bool started = false;
  uint64_t packets_in = 0, bytes_in = 0;

  // Adds rate * elapsed cycles worth of tokens to every bucket (capped).
  // A unit is one packet (pktps) or one bit (kbps); tokens are counted in
  // units * tsc_hz, so one cycle at `rate` units/s adds exactly `rate`.
  void Refill(uint64_t now_tsc) {
    if (!started) {
      started = true;
      last_tsc = now_tsc;
      return;
    }
    if (now_tsc <= last_tsc) return;  // clocks of other cores may lag a little
    const u128 elapsed = now_tsc - last_tsc;
    last_tsc = now_tsc;
    for (Band& b : bands) {
      const u128 room = b.capacity - b.tokens;
      const u128 add = elapsed * b.rate_per_s;  // < 2^64 * 2^42: no overflow
      b.tokens = add >= room ? b.capacity : b.tokens + add;
    }
  }
};

MeterTable::MeterTable(uint64_t tsc_hz)
    : tsc_hz_(tsc_hz ? tsc_hz : rte_get_tsc_hz()), slots_(new Slot[kMaxMeters]) {}

MeterTable::~MeterTable() {
  for (uint32_t i = 0; i < kMaxMeters; ++i) delete slots_[i].meter;
}

void MeterTable::Lock(Slot& s) {
  for (;;) {
    if (s.lock.exchange(1, std::memory_order_acquire) == 0) return;
    while (s.lock.load(std::memory_order_relaxed) != 0) _mm_pause();
  }
}

void MeterTable::Unlock(Slot& s) { s.lock.store(0, std::memory_order_release); }

Status MeterTable::Set(const MeterConfig& config) {
  if (config.id >= kMaxMeters) {
    return Status::Errorf("meter id {} out of range (max {})", config.id, kMaxMeters - 1);
  }
  if (config.bands.empty()) return Status::Errorf("meter {} has no bands", config.id);
  auto m = std::make_unique<Meter>();
  m->pktps = config.pktps;
  // A unit is a packet or a bit; rates and bursts in kbit scale by 1000.
  const u128 scale = config.pktps ? 1 : 1000;
  for (const MeterBand& b : config.bands) {
    if (b.rate == 0) return Status::Errorf("meter {}: band with rate 0", config.id);
    Meter::Band band{};
    band.config = b;
    band.rate_per_s = b.rate * scale;
    const uint64_t size = config.burst_flag && b.burst != 0 ? b.burst : b.rate;
    band.capacity = size * scale * tsc_hz_;
    band.tokens = band.capacity;
    m->bands.push_back(band);
  }
  Slot& s = slots_[config.id];
  Lock(s);
  Meter* old = s.meter;
  if (old) {
    m->packets_in = old->packets_in;
    m->bytes_in = old->bytes_in;
  }
  s.meter = m.release();
  ++s.version;
  Unlock(s);
  delete old;
  return Status::Ok();
}

bool MeterTable::Del(uint32_t id) {
  if (id >= kMaxMeters) return false;
  Slot& s = slots_[id];
  Lock(s);
  Meter* old = s.meter;
  s.meter = nullptr;
  ++s.version;
  Unlock(s);
  delete old;
  return old != nullptr;
}

bool MeterTable::Stats(uint32_t id, MeterStats* out) const {
  if (id >= kMaxMeters) return false;
  Slot& s = slots_[id];
  *out = MeterStats{};
  out->bands.reserve(8);
  Lock(s);
  const Meter* m = s.meter;
  if (m) {
    out->packets_in = m->packets_in;
    out->bytes_in = m->bytes_in;
    out->config_version = s.version;
    // Up to 8 bands copy without allocating under the lock.
    for (const Meter::Band& b : m->bands) out->bands.push_back(b.stats);
  }
  Unlock(s);
  return m != nullptr;
}

uint32_t MeterTable::Apply(uint32_t meter_id, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                           uint64_t now_tsc) {
  if (meter_id >= kMaxMeters || n == 0) return n;
  Slot& s = slots_[meter_id];
  uint32_t out = 0;
  for (uint32_t off = 0; off < n; off += kMaxBurst) {
    const uint32_t chunk = std::min<uint32_t>(n - off, kMaxBurst);
    uint8_t verdict[kMaxBurst];
    // Step 1 (under the lock): refill, choose each packet's band, count.
    Lock(s);
    Meter* m = s.meter;
    if (m == nullptr) {
      Unlock(s);
      // Unknown meter: everything passes.
      if (out != off) {
        std::memmove(pkts + out, pkts + off, (n - off) * sizeof(*pkts));
        std::memmove(layouts + out, layouts + off, (n - off) * sizeof(*layouts));
      }
      return out + (n - off);
    }
    m->Refill(now_tsc);
    const size_t n_bands = m->bands.size();
    for (uint32_t i = 0; i < chunk; ++i) {
      const uint32_t len = PacketLen(pkts[off + i]);
      m->packets_in++;
      m->bytes_in += len;
      const u128 cost = (m->pktps ? u128{1} : u128{len} * 8) * tsc_hz_;
      int best = -1;
      for (size_t b = 0; b < n_bands; ++b) {
        Meter::Band& band = m->bands[b];
        if (band.tokens >= cost) {
          band.tokens -= cost;
        } else if (best < 0 || band.config.rate > m->bands[best].config.rate) {
          best = static_cast<int>(b);
        }
      }
      if (best < 0) {
        verdict[i] = kPass;
        continue;
      }
      Meter::Band& band = m->bands[best];
      band.stats.packets++;
      band.stats.bytes += len;
      verdict[i] = band.config.type == MeterBand::kDrop
                       ? kDrop
                       : std::min<uint8_t>(band.config.prec_level, 3);
    }
    Unlock(s);

    // Step 2 (no lock): carry out the verdicts and compact.
    rte_mbuf* dropped[kMaxBurst];
    uint32_t n_dropped = 0;
    for (uint32_t i = 0; i < chunk; ++i) {
      rte_mbuf* m_pkt = pkts[off + i];
      const uint8_t v = verdict[i];
      if (v == kDrop) {
        dropped[n_dropped++] = m_pkt;
        continue;
      }
      if (v != kPass && v != 0) RemarkDscp(m_pkt, layouts[off + i], v);
      layouts[out] = layouts[off + i];
      pkts[out++] = m_pkt;
    }
    if (n_dropped != 0) FreePackets(dropped, n_dropped);
  }
  return out;
}

}  // namespace sluice::dp
