#include "datapath/pmd/pmd.h"

#include <pthread.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <spdlog/spdlog.h>

#include <immintrin.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "datapath/actions/execute.h"
#include "datapath/packet/packet.h"
#include "datapath/pmd/meter.h"
#include "datapath/port/port.h"
#include "datapath/util/hash.h"

namespace sluice::dp {
namespace {

constexpr int kMaxRecircDepth = 6;
constexpr uint32_t kSweepPerIteration = 16;
constexpr uint64_t kSortIntervalMs = 1000;

// EmcPolicy::kAuto's structural rule: whether an EMC hit (full parse,
// packet hash, EMC probe and whole-key compare) costs less than what the
// classifier alone does for the same packet. Measured with bench/callgrind
// (docs/perf/2026-11-22-callgrind-s5.md, "EMC policy"), own Ir/packet with
// >= 94 % EMC hits against none: one subtable 261 vs 163 (the walk of one
// subtable after a shallow parse), two subtables 291 vs 246, 4 / 8 / 20
// subtables with the signature cache 292 / 298 / 334 vs 273 / 279 / 316. So
// the EMC is cheaper only with more than two subtables and no signature
// cache -- which the Dpcls does not have today (it keeps the cache from the
// third subtable on), so kAuto keeps the EMC off; the rule stays here so
// that a classifier change (a cache that can be off, a costlier walk) is
// decided by the same test.
bool EmcCheaperThanDpcls(size_t n_subtables, bool smc_active) {
  return n_subtables >= kSmcMinSubtables && !smc_active;
}

uint64_t TscHz() {
  static const uint64_t hz = rte_get_tsc_hz();
  return hz;
}

// Hash for the EMC: the NIC's RSS hash when there is one (only for packets
// fresh from a port: a recirculated packet's key differs), else a hash of the
// words that tell flows apart in practice (metadata, L2, IPv4, L4; the IPv6
// addresses for IPv6). The EMC compares whole keys, so leaving the rare
// words (ND, ARP hardware addresses) out costs nothing but a rare collision.
inline uint32_t PacketHash(const rte_mbuf* m, const FlowKey& key) {
  if (PacketHasRssHash(m) && key.recirc_id == 0) {
    return HashFinish(HashAddWord(PacketRssHash(m), key.in_port), 8);
  }
  const AliasWord* w = key.words();
  uint32_t a = HashAddWord(0, w[0]), b = HashAddWord(0x9e3779b9u, w[1]),
           c = HashAddWord(0x7f4a7c15u, w[2]);
  a = HashAddWord(a, w[3]);
  b = HashAddWord(b, w[4]);
  c = HashAddWord(c, w[5]);
  if (key.eth_type == Be16(0x86dd)) {
    a = HashAddWord(a, w[6] ^ w[7]);
    b = HashAddWord(b, w[8] ^ w[9]);
  }
  return HashFinish(HashAddWord(a, static_cast<uint64_t>(b) << 32 | c), 48);
}

// Whole-key equality: four 32-byte compares.
inline bool KeysEqual(const FlowKey& a, const FlowKey& b) {
  const auto* pa = reinterpret_cast<const __m256i*>(&a);
  const auto* pb = reinterpret_cast<const __m256i*>(&b);
  __m256i x = _mm256_xor_si256(_mm256_load_si256(pa), _mm256_load_si256(pb));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_load_si256(pa + 1), _mm256_load_si256(pb + 1)));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_load_si256(pa + 2), _mm256_load_si256(pb + 2)));
  x = _mm256_or_si256(x, _mm256_xor_si256(_mm256_load_si256(pa + 3), _mm256_load_si256(pb + 3)));
  return _mm256_testz_si256(x, x);
}
static_assert(sizeof(FlowKey) == 4 * sizeof(__m256i) && alignof(FlowKey) >= 32);

// The packets of `dup` whose leader is in `map`, the result of looking up
// `looked_up` (every leader was looked up). Their rules[] are not set here:
// CopyLeaderRules does that when a stage needs them.
inline uint32_t FollowLeaders(uint32_t dup, const uint8_t leader[], uint32_t map,
                              uint32_t looked_up) {
  if ((looked_up & ~map) == 0) return dup;  // every leader found: so is every follower
  uint32_t out = 0;
  for (uint32_t m = dup; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    if (map & (1u << leader[i])) out |= 1u << i;
  }
  return out;
}

inline void CopyLeaderRules(uint32_t dup, const uint8_t leader[], DpclsRule* rules[]) {
  for (uint32_t m = dup; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    rules[i] = rules[leader[i]];
  }
}

// Elephant followers: the bytes compared, and how often a burst tries the
// compare while recent bursts had no follower (1 in kFollowRetryBursts).
constexpr uint32_t kFollowWindow = 64;
constexpr uint32_t kFollowRetryBursts = 64;
static_assert((kFollowRetryBursts & (kFollowRetryBursts - 1)) == 0);

// Stage 1 of ProcessPackets: parses the burst at depth D into keys[] and
// layouts[], drops (and counts) malformed packets, and returns the live map.
// With kFollow, a packet whose head length equals the previous parsed live
// packet's and whose first kFollowWindow bytes equal that packet's on the
// bytes its parse read (ParseResult::reads: the same bytes and length
// give the same status, key and layout) is not parsed: key_ptrs[i] points
// to that packet's key, its layout is copied, leader[i] names it and bit i
// of *followers is set. Both packets need kFollowWindow readable bytes in
// their buffers (every pool mbuf has; the bytes past the head are loaded but
// never decide anything, as `reads` has no bit at or past the head length).
template <ParseDepth D, bool kFollow>
inline uint32_t ParseBurst(rte_mbuf** pkts, uint32_t n, uint32_t in_port, uint32_t recirc_id,
                           FlowKey keys[], const FlowKey* key_ptrs[], PacketLayout layouts[],
                           uint8_t leader[], uint32_t* followers, PmdCounters& counters) {
  constexpr uint32_t kNoLen = UINT32_MAX;  // no head length is this: nothing to follow
  uint32_t live = 0;
  uint32_t dup = 0;
  // The packet followers follow: its first 64 bytes, head length, read map,
  // index, key and layout.
  __m256i prev_lo = _mm256_setzero_si256();
  __m256i prev_hi = _mm256_setzero_si256();
  uint32_t prev_len = kNoLen;
  uint64_t prev_reads = 0;
  uint8_t lead = 0;
  const FlowKey* lead_key = nullptr;
  PacketLayout lead_layout;
  for (uint32_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (i + 1 < n) rte_prefetch0(PacketData(pkts[i + 1]));
    const uint8_t* data = PacketData(m);
    const uint32_t len = PacketHeadLen(m);
    __m256i lo = prev_lo;
    __m256i hi = prev_hi;
    bool window = false;
    if constexpr (kFollow) {
      window = static_cast<uint32_t>(m->buf_len - m->data_off) >= kFollowWindow;
      if (window) {
        lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data));
        hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + 32));
        if (len == prev_len) {
          const uint64_t eq =
              static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, prev_lo))) |
              static_cast<uint64_t>(static_cast<uint32_t>(
                  _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, prev_hi)))) << 32;
          if ((prev_reads & ~eq) == 0) {
            key_ptrs[i] = lead_key;
            layouts[i] = lead_layout;
            leader[i] = lead;
            dup |= 1u << i;
            continue;
          }
        }
      }
    }
    const ParseResult r = ParseFlowTo<D>(data, len, in_port, recirc_id, &keys[i], &layouts[i]);
    key_ptrs[i] = &keys[i];
    if (__builtin_expect(r.status != ParseStatus::kOk, 0)) {
      CounterAdd(counters.parse_drops[static_cast<int>(r.status)], 1);
      rte_pktmbuf_free(m);
      continue;
    }
    live |= 1u << i;
    if constexpr (kFollow) {
      prev_lo = lo;
      prev_hi = hi;
      prev_len = window && r.reads != 0 ? len : kNoLen;
      prev_reads = r.reads;
      lead = static_cast<uint8_t>(i);
      lead_key = &keys[i];
      lead_layout = layouts[i];
    }
  }
  *followers = dup;
  return live | dup;
}

template <ParseDepth D>
inline uint32_t ParseBurstAt(bool follow, rte_mbuf** pkts, uint32_t n, uint32_t in_port,
                             uint32_t recirc_id, FlowKey keys[], const FlowKey* key_ptrs[],
                             PacketLayout layouts[], uint8_t leader[], uint32_t* followers,
                             PmdCounters& counters) {
  return follow ? ParseBurst<D, true>(pkts, n, in_port, recirc_id, keys, key_ptrs, layouts, leader,
                                      followers, counters)
                : ParseBurst<D, false>(pkts, n, in_port, recirc_id, keys, key_ptrs, layouts,
                                       leader, followers, counters);
}

// A flow batch's statistics: once per flow per burst.
inline void AddFlowStats(Megaflow* f, uint32_t n, uint64_t bytes, uint16_t tcp_flags,
                         uint64_t now_ms) {
  CounterAdd(f->stats.packets, n);
  CounterAdd(f->stats.bytes, bytes);
  f->stats.used_ms.store(now_ms, std::memory_order_relaxed);
  if (tcp_flags) {
    f->stats.tcp_flags.store(f->stats.tcp_flags.load(std::memory_order_relaxed) | tcp_flags,
                             std::memory_order_relaxed);
  }
}

}  // namespace

struct Pmd::TxBuffer {
  TxTarget target;
  uint16_t n = 0;
  bool dirty = false;
  rte_mbuf* pkts[kMaxBurst];
};

// The executor's sink: outputs go to tx buffers, userspace actions to the
// upcall ring, recirculations to a per-call list processed afterwards.
class Pmd::Sink {
 public:
  Sink(Pmd* pmd, uint32_t in_port) : pmd_(pmd), in_port_(in_port) {}

  void Output(uint32_t port, rte_mbuf** pkts, uint32_t n) { pmd_->TxEnqueue(port, pkts, n); }

  void Userspace(uint64_t cookie, rte_mbuf** pkts, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      alignas(64) FlowKey key;
      PacketLayout layout;
      ParseFlow(PacketData(pkts[i]), PacketHeadLen(pkts[i]), in_port_, &key, &layout);
      pmd_->QueueUpcall(pkts[i], key, layout, UpcallType::kUserspace, cookie);
    }
  }

  // Runs the batch through a meter (one lock per batch, see meter.h).
  uint32_t Meter(uint32_t meter_id, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n) {
    MeterTable* meters = pmd_->options_.meters;
    if (meters == nullptr) return n;
    const uint32_t left = meters->Apply(meter_id, pkts, layouts, n, rte_rdtsc());
    CounterAdd(pmd_->counters_.meter_drops, n - left);
    return left;
  }

  // Packets the executor dropped (copy failed, no room to push a tag, ...).
  void Dropped(ExecDrop, uint32_t n) { CounterAdd(pmd_->counters_.action_drops, n); }

  void Recirculate(uint32_t recirc_id, rte_mbuf** pkts, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      if (n_recirc_ == kMaxBurst) {
        rte_pktmbuf_free(pkts[i]);
        CounterAdd(pmd_->counters_.recirc_drops, 1);
        continue;
      }
      recirc_[n_recirc_] = pkts[i];
      recirc_ids_[n_recirc_++] = recirc_id;
    }
  }

  // Runs the recirculated packets through the datapath again, grouped by
  // recirculation id (receive order kept within an id).
  void Drain(int depth) {
    uint32_t done = 0;
    while (done != n_recirc_) {
      uint32_t id = 0;
      rte_mbuf* batch[kMaxBurst];
      uint32_t nb = 0;
      for (uint32_t i = 0; i < n_recirc_; ++i) {
        if (recirc_[i] == nullptr) continue;
        if (nb == 0) id = recirc_ids_[i];
        if (recirc_ids_[i] != id) continue;
        batch[nb++] = recirc_[i];
        recirc_[i] = nullptr;
      }
      done += nb;
      if (depth >= kMaxRecircDepth) {
        FreePackets(batch, nb);
        CounterAdd(pmd_->counters_.recirc_drops, nb);
      } else {
        pmd_->ProcessPackets(batch, nb, in_port_, id, depth + 1);
      }
    }
    n_recirc_ = 0;
  }

 private:
  Pmd* pmd_;
  uint32_t in_port_;
  uint32_t n_recirc_ = 0;
  rte_mbuf* recirc_[kMaxBurst];
  uint32_t recirc_ids_[kMaxBurst];
};

Pmd::Pmd(const PmdOptions& options)
    : options_(options),
      commands_(options.command_ring_size),
      upcalls_(options.upcall_ring_size),
      emc_(options.emc_insert_inv_prob) {
  tsc_hz_ = TscHz();
  now_ms_ = NowMs();
  if (const char* env = std::getenv("SLUICE_PMD_EMC"); env != nullptr && *env != '\0') {
    if (ParseEmcPolicy(env, &options_.emc_policy)) {
      spdlog::info("pmd {}: EMC policy {} (SLUICE_PMD_EMC)", options_.index, env);
    } else {
      spdlog::error("pmd {}: SLUICE_PMD_EMC={} is not auto, adaptive, on or off; ignored",
                    options_.index, env);
    }
  }
  emc_cheaper_off_ = EmcCheaperOff();
  SetEmcActive();
}

const char* EmcStateName(uint64_t state) {
  switch (static_cast<EmcState>(state)) {
    case EmcState::kOn: return "on";
    case EmcState::kOffHitRatio: return "off: hits too rarely";
    case EmcState::kOffCheaper: return "off: the megaflow classifier is cheaper";
    case EmcState::kOffConfigured: return "off: configured off";
  }
  return "unknown";
}

bool ParseEmcPolicy(const char* s, EmcPolicy* out) {
  static constexpr std::pair<const char*, EmcPolicy> kNames[] = {
      {"auto", EmcPolicy::kAuto}, {"adaptive", EmcPolicy::kAdaptive},
      {"on", EmcPolicy::kOn}, {"off", EmcPolicy::kOff}};
  for (const auto& [name, policy] : kNames) {
    if (std::strcmp(s, name) == 0) {
      *out = policy;
      return true;
    }
  }
  return false;
}

Pmd::~Pmd() { Stop(); }

uint64_t Pmd::NowMs() { return rte_get_tsc_cycles() / (TscHz() / 1000); }

void Pmd::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void Pmd::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  thread_.join();
  ApplyCommands();
  FlushTx();
}

bool Pmd::Post(const PmdCommand& cmd) { return commands_.TryPush(cmd); }

void Pmd::SyncApply() {
  ApplyCommands();
  uint64_t target = emc_.sweep_cycles() + 2;
  while (emc_.sweep_cycles() < target) emc_.SlowSweep(kEmcEntries);
  last_sweep_cycles_ = emc_.sweep_cycles();
  seq_at_last_sweep_cycle_ = applied_seq_.load(std::memory_order_relaxed);
  safe_seq_.store(seq_at_last_sweep_cycle_, std::memory_order_release);
  FlushTx();
}

PmdCountersSnapshot Snapshot(const PmdCounters& c) {
  PmdCountersSnapshot s;
#define SLUICE_X(name, text) s.name = c.name.load(std::memory_order_relaxed);
  SLUICE_PMD_COUNTERS(SLUICE_X)
#undef SLUICE_X
  for (int i = 0; i < static_cast<int>(ParseStatus::kCount); ++i) {
    s.parse_drops[i] = c.parse_drops[i].load(std::memory_order_relaxed);
  }
  return s;
}

void Pmd::Run() {
  if (options_.core >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options_.core, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc != 0) spdlog::warn("pmd {}: cannot pin to core {}: {}", options_.index, options_.core, strerror(rc));
  }
  char name[16];
  std::snprintf(name, sizeof(name), "pmd-c%02d", options_.core < 0 ? 99 : options_.core);
  pthread_setname_np(pthread_self(), name);
  // An EAL lcore id gives this thread DPDK's per-lcore mempool caches.
  bool registered = rte_thread_register() == 0;
  if (!registered) spdlog::warn("pmd {}: rte_thread_register failed; mempool caches unused", options_.index);
  spdlog::info("pmd {} on core {} started (lcore {})", options_.index, options_.core, rte_lcore_id());

  while (!stop_.load(std::memory_order_relaxed)) PollOnce();

  if (registered) rte_thread_unregister();
  spdlog::info("pmd {} on core {} stopped", options_.index, options_.core);
}

uint32_t Pmd::PollOnce() {
  // One TSC read per iteration plus one per non-empty queue: each queue is
  // charged the cycles since the previous reading (its poll and processing,
  // plus any empty polls just before it).
  uint64_t start = rte_rdtsc();
  uint64_t prev = start;
  uint32_t total = 0;
  ApplyCommands();
  if (port_config_ != nullptr) {
    const std::vector<RxqState*>& rxqs = port_config_->rxqs;
    const RxqOffload* offload =
        port_config_->rxq_offload.empty() ? nullptr : port_config_->rxq_offload.data();
    for (size_t qi = 0; qi < rxqs.size(); ++qi) {
      RxqState* rxq = rxqs[qi];
      rte_mbuf* pkts[kMaxBurst];
      uint16_t n = rxq->port->RxBurst(rxq->queue, pkts, kMaxBurst);
      if (n == 0) continue;
      CounterAdd(counters_.rx_packets, n);
      CounterAdd(counters_.rx_batches, 1);
      // One flag test per burst: offload-aware handling lives in
      // pmd_offload.cc. (The `plain != 0` test keeps GCC from analysing
      // an inlined ProcessPackets for an empty burst.)
      uint16_t plain = n;
      if (__builtin_expect(offload != nullptr && offload[qi].active(), 0)) {
        ProcessOffloadBurst(offload[qi], pkts, n, rxq->port_no);
        plain = 0;
      }
      if (plain != 0) ProcessPackets(pkts, plain, rxq->port_no, 0, 0);
      FlushTx();
      uint64_t now = rte_rdtsc();
      CounterAdd(rxq->packets, n);
      CounterAdd(rxq->cycles, now - prev);
      prev = now;
      total += n;
    }
  }
  if (total == 0) prev = rte_rdtsc();
  Housekeeping(prev);
  CounterAdd(counters_.iterations, 1);
  CounterAdd(total ? counters_.busy_cycles : counters_.idle_cycles, prev - start);
  return total;
}

void Pmd::Housekeeping(uint64_t now_tsc) {
  emc_.SlowSweep(kSweepPerIteration);
  if (emc_.sweep_cycles() != last_sweep_cycles_) {
    last_sweep_cycles_ = emc_.sweep_cycles();
    safe_seq_.store(seq_at_last_sweep_cycle_, std::memory_order_release);
    seq_at_last_sweep_cycle_ = applied_seq_.load(std::memory_order_relaxed);
  }
  now_ms_ = now_tsc / (tsc_hz_ / 1000);
  if (now_tsc >= next_sort_tsc_) {
    dpcls_.Sort();
    n_subtables_.store(dpcls_.n_subtables(), std::memory_order_relaxed);
    next_sort_tsc_ = now_tsc + kSortIntervalMs * (tsc_hz_ / 1000);
  }
  if (options_.upcall_rate_limit != 0) {
    uint64_t elapsed = now_tsc - last_refill_tsc_;
    uint64_t add = elapsed * options_.upcall_rate_limit / tsc_hz_;
    if (add > 0) {
      upcall_tokens_ = std::min<uint64_t>(upcall_tokens_ + add, options_.upcall_rate_limit);
      last_refill_tsc_ = now_tsc;
    }
  }
}

void Pmd::ProcessPackets(rte_mbuf** pkts, uint32_t n, uint32_t in_port, uint32_t recirc_id,
                         int depth) {
  alignas(64) FlowKey keys[kMaxBurst];
  PacketLayout layouts[kMaxBurst];
  uint32_t hashes[kMaxBurst] = {};  // (zeroed: GCC cannot see they are set when used)
  const FlowKey* key_ptrs[kMaxBurst];  // every entry set by ParseBurst
  DpclsRule* rules[kMaxBurst];
  uint8_t leader[kMaxBurst];  // set for followers (bits of `dup`) only

  // Stage 1: parse, as deep as the lookups need (the EMC compares whole
  // keys: full depth while it is on), skipping elephant followers (see
  // ParseBurst). Followers' keys[] stay unwritten: read keys via key_ptrs.
  const ParseDepth parse_depth = emc_active_ ? ParseDepth::kFull : parse_depth_;
  const bool follow = (follow_idle_ & (kFollowRetryBursts - 1)) == 0;
  uint32_t bdup = 0;
  uint32_t live;
  switch (parse_depth) {
    case ParseDepth::kMeta:
      live = ParseBurstAt<ParseDepth::kMeta>(follow, pkts, n, in_port, recirc_id, keys, key_ptrs,
                                             layouts, leader, &bdup, counters_);
      break;
    case ParseDepth::kL2:
      live = ParseBurstAt<ParseDepth::kL2>(follow, pkts, n, in_port, recirc_id, keys, key_ptrs,
                                           layouts, leader, &bdup, counters_);
      break;
    default:
      live = ParseBurstAt<ParseDepth::kFull>(follow, pkts, n, in_port, recirc_id, keys, key_ptrs,
                                             layouts, leader, &bdup, counters_);
      break;
  }
  follow_idle_ = bdup ? 0 : follow_idle_ + 1;

  // Stage 1b: hash, in a second pass: the general parser writes the key in
  // narrow stores (the fast path in whole words), and reading narrow stores
  // back as 64-bit words right away would stall on store forwarding; a burst
  // later the stores have retired. The hash serves the EMC (lookup and
  // insertion) and the dpcls signature cache; with both off (many flows, few
  // subtables) it is not computed. Only parsed packets are hashed: a
  // follower is never looked up itself.
  // Stage 1c: a parsed packet whose key equals the previous parsed live
  // packet's (a flow whose packets differ in bytes ParseBurst compares) is
  // not looked up either: it follows its leader, the first packet of that
  // run, and counts as the same kind of hit. A byte follower of such a
  // packet then follows that run's leader too.
  const bool hashed = emc_active_ || dpcls_.smc_active();
  uint32_t dup = bdup;
  if (hashed) {
    uint32_t kdup = 0;
    uint32_t prev_hash = 0;
    int prev = -1;
    int lead = -1;
    for (uint32_t m = live & ~bdup; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      const uint32_t h = PacketHash(pkts[i], keys[i]);
      hashes[i] = h;
      if (h == prev_hash && prev >= 0 && KeysEqual(keys[i], keys[prev])) {
        kdup |= 1u << i;
        leader[i] = static_cast<uint8_t>(lead);
      } else {
        lead = i;
      }
      prev_hash = h;
      prev = i;
    }
    if (kdup) {
      for (uint32_t m = bdup; m; m &= m - 1) {
        const int i = std::countr_zero(m);
        if (kdup & (1u << leader[i])) leader[i] = leader[leader[i]];
      }
      dup |= kdup;
    }
  }
  const uint32_t lookup = live & ~dup;

  // Stage 2: exact-match cache.
  uint32_t hit = 0;
  if (emc_active_) {
    hit = emc_.LookupBatch(key_ptrs, hashes, lookup, rules);
    if (dup) hit |= FollowLeaders(dup, leader, hit, lookup);
    CounterAdd(counters_.emc_hits, std::popcount(hit));
  }
  if (emc_adapt_) EmcAdapt(std::popcount(live), std::popcount(hit));

  // Stage 3: megaflow classifier for the EMC misses; 4: upcall the rest.
  uint32_t miss = live & ~hit;
  if (miss) {
    const uint32_t looked_up = miss & ~dup;
    uint32_t found = dpcls_.LookupBatch(key_ptrs, hashes, looked_up, rules);
    // Only full keys go into the EMC (EmcAdapt may just have switched it on
    // after a shallow parse, or without a hash).
    if (emc_active_ && hashed && parse_depth == ParseDepth::kFull) {
      for (uint32_t m = found; m; m &= m - 1) {
        int i = std::countr_zero(m);
        emc_.MaybeInsert(keys[i], hashes[i], rules[i]);
      }
    }
    if (dup) found |= FollowLeaders(dup, leader, found, looked_up) & miss;
    CounterAdd(counters_.dpcls_hits, std::popcount(found));
    miss &= ~found;
    if (miss) {
      CounterAdd(counters_.misses, std::popcount(miss));
      for (uint32_t m = miss; m; m &= m - 1) {
        int i = std::countr_zero(m);
        const FlowKey* key = key_ptrs[i];
        if (parse_depth != ParseDepth::kFull) {
          // The slow path needs the whole key: parse again, fully (same
          // status as the shallow parse: kOk).
          ParseFlow(PacketData(pkts[i]), PacketHeadLen(pkts[i]), in_port, &keys[i], &layouts[i]);
          keys[i].recirc_id = recirc_id;
          key = &keys[i];
        }
        QueueUpcall(pkts[i], *key, layouts[i], UpcallType::kMiss, 0);
      }
      live &= ~miss;
    }
  }
  if (!live) return;

  // Stage 5, fast path: the whole burst hit one megaflow (one big flow, or
  // many flows under one wildcard megaflow): no regrouping, no copies.
  // Followers have their leader's rule (and key): only leaders are checked.
  if (live == (n == kMaxBurst ? ~0u : (1u << n) - 1)) {
    const uint32_t leaders = live & ~dup;
    DpclsRule* const first = rules[std::countr_zero(leaders)];
    uint32_t m = leaders & (leaders - 1);
    while (m && rules[std::countr_zero(m)] == first) m &= m - 1;
    if (m == 0) {
      uint64_t bytes = 0;
      uint16_t tcp_flags = 0;
      for (uint32_t i = 0; i < n; ++i) {
        bytes += PacketLen(pkts[i]);
        tcp_flags |= key_ptrs[i]->tcp_flags.raw;
      }
      RunFlowBatch(Megaflow::FromRule(first), pkts, layouts, n, bytes, tcp_flags, in_port, depth);
      return;
    }
  }
  if (dup) CopyLeaderRules(dup & live, leader, rules);

  // Stage 5: group by megaflow; statistics once per flow. A packet of a
  // single-output flow goes straight into its port's tx buffer (receive
  // order kept, within a flow and across flows); the other flows' packets
  // are gathered per flow, in receive order, for the executor (stage 6).
  struct Group {
    Megaflow* flow;
    TxBuffer* tx;  // single output to an existing port; nullptr: run the actions
    uint32_t n;
    uint32_t tcp_flags;
    uint64_t bytes;
  };
  Group groups[kMaxBurst];
  uint8_t group_of[kMaxBurst];
  uint32_t n_groups = 0;
  uint32_t exec_map = 0;
  for (uint32_t m = live; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    Megaflow* f = Megaflow::FromRule(rules[i]);
    uint32_t slot = f->batch_slot;
    if (slot == 0) {
      Group& g = groups[n_groups];
      g.flow = f;
      g.tx = nullptr;
      g.n = 0;
      g.tcp_flags = 0;
      g.bytes = 0;
      const DpActions& actions = *f->actions;
      if (actions.single_output()) {
        const uint32_t port_no = actions.single_output_port();
        if (port_no < tx_buffers_.size() && tx_buffers_[port_no].target.port != nullptr) {
          TxBuffer& b = tx_buffers_[port_no];
          if (!b.dirty) {
            b.dirty = true;
            tx_dirty_.push_back(port_no);  // capacity reserved in SetPortConfig
          }
          g.tx = &b;
        }
      }
      slot = f->batch_slot = ++n_groups;
    }
    Group& g = groups[slot - 1];
    g.n++;
    g.bytes += PacketLen(pkts[i]);
    g.tcp_flags |= key_ptrs[i]->tcp_flags.raw;
    if (g.tx != nullptr) {
      TxBuffer& b = *g.tx;
      if (b.n == kMaxBurst) FlushBuffer(b);
      b.pkts[b.n++] = pkts[i];
    } else {
      group_of[i] = static_cast<uint8_t>(slot - 1);
      exec_map |= 1u << i;
    }
  }

  for (uint32_t gi = 0; gi < n_groups; ++gi) {
    Group& g = groups[gi];
    g.flow->batch_slot = 0;
    if (g.tx != nullptr) AddFlowStats(g.flow, g.n, g.bytes, static_cast<uint16_t>(g.tcp_flags), now_ms_);
  }
  if (exec_map == 0) return;

  // Stage 6 for the flows that need the executor (or drop).
  for (uint32_t gi = 0; gi < n_groups; ++gi) {
    Group& g = groups[gi];
    if (g.tx != nullptr) continue;
    rte_mbuf* gpkts[kMaxBurst];
    PacketLayout glayouts[kMaxBurst];
    uint32_t gn = 0;
    for (uint32_t m = exec_map; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      if (group_of[i] != gi) continue;
      gpkts[gn] = pkts[i];
      glayouts[gn++] = layouts[i];
      exec_map &= ~(1u << i);
    }
    RunFlowBatch(g.flow, gpkts, glayouts, gn, g.bytes, static_cast<uint16_t>(g.tcp_flags), in_port,
                 depth);
    if (exec_map == 0) break;
  }
}

// Stage 6: one flow's batch: statistics once, actions once.
void Pmd::RunFlowBatch(Megaflow* f, rte_mbuf** pkts, PacketLayout* layouts, uint32_t n,
                       uint64_t bytes, uint16_t tcp_flags, uint32_t in_port, int depth) {
  AddFlowStats(f, n, bytes, tcp_flags, now_ms_);
  const DpActions& actions = *f->actions;
  if (actions.single_output()) {
    TxEnqueue(actions.single_output_port(), pkts, n);
  } else if (actions.empty()) {
    FreePackets(pkts, n);
    CounterAdd(counters_.action_drops, n);
  } else {
    Sink sink(this, in_port);
    ExecuteActions(actions, pkts, layouts, n, sink);
    sink.Drain(depth);
  }
}

// Adaptive EMC: when the cache hits less than 1 lookup in kEmcMinHitRatio
// over a window (many more flows than entries: 100k flows thrash 8k
// entries), probing it is pure cost, so the PMD stops looking it up (and
// inserting) for kEmcOffLookups lookups, then measures again.
void Pmd::EmcAdapt(uint32_t lookups, uint32_t hits) {
  constexpr uint64_t kWindow = 1 << 16;
  constexpr uint64_t kEmcOffLookups = 1 << 20;
  constexpr uint64_t kEmcMinHitRatio = 10;
  emc_window_lookups_ += lookups;
  emc_window_hits_ += hits;
  if (emc_hit_on_) {
    if (emc_window_lookups_ < kWindow) return;
    if (emc_window_hits_ * kEmcMinHitRatio < emc_window_lookups_ && emc_.insert_inv_prob() != 0) {
      emc_hit_on_ = false;
      CounterAdd(counters_.emc_off_periods, 1);
    }
  } else if (emc_window_lookups_ < kEmcOffLookups) {
    return;
  } else {
    emc_hit_on_ = true;
  }
  emc_window_lookups_ = emc_window_hits_ = 0;
  SetEmcActive();
}

// The union of the subtables' masks changes only when a subtable is created
// or destroyed; commands are applied between bursts, so a burst parses at
// one depth and a deeper megaflow is looked up with deep keys from the
// first burst after its install. The EMC's structural rule (kAuto) depends
// on the subtable count too and is recomputed here.
void Pmd::UpdateParseDepth() {
  if (dpcls_.n_subtables() == depth_subtables_) return;
  depth_subtables_ = dpcls_.n_subtables();
  parse_depth_ = ParseDepthFor(dpcls_.MaskUnion());
  const bool cheaper_off = EmcCheaperOff();
  if (cheaper_off != emc_cheaper_off_) {
    emc_cheaper_off_ = cheaper_off;
    // The hit-ratio rule starts a fresh window when the EMC comes back.
    emc_window_lookups_ = emc_window_hits_ = 0;
    SetEmcActive();
  }
}

bool Pmd::EmcCheaperOff() const {
  return options_.emc_policy == EmcPolicy::kAuto &&
         !EmcCheaperThanDpcls(dpcls_.n_subtables(), dpcls_.smc_active());
}

void Pmd::SetEmcActive() {
  EmcState state;
  switch (options_.emc_policy) {
    case EmcPolicy::kOn: state = EmcState::kOn; break;
    case EmcPolicy::kOff: state = EmcState::kOffConfigured; break;
    default:
      state = emc_cheaper_off_ ? EmcState::kOffCheaper
                               : (emc_hit_on_ ? EmcState::kOn : EmcState::kOffHitRatio);
      break;
  }
  emc_active_ = state == EmcState::kOn;
  // The hit-ratio rule measures only while nothing else decides.
  emc_adapt_ = !emc_cheaper_off_ && (options_.emc_policy == EmcPolicy::kAuto ||
                                     options_.emc_policy == EmcPolicy::kAdaptive);
  counters_.emc_state.store(static_cast<uint64_t>(state), std::memory_order_relaxed);
}

void Pmd::QueueUpcall(rte_mbuf* pkt, const FlowKey& key, const PacketLayout& layout,
                      UpcallType type, uint64_t cookie) {
  if (options_.upcall_rate_limit != 0) {
    if (upcall_tokens_ == 0) {
      CounterAdd(counters_.lost_upcalls, 1);
      rte_pktmbuf_free(pkt);
      return;
    }
    --upcall_tokens_;
  }
  Upcall u;
  std::memcpy(&u.key, &key, sizeof(key));
  u.packet = pkt;
  u.layout = layout;
  u.type = type;
  u.pmd_index = static_cast<uint16_t>(options_.index);
  u.cookie = cookie;
  if (!upcalls_.TryPush(u)) {
    CounterAdd(counters_.lost_upcalls, 1);
    rte_pktmbuf_free(pkt);
    return;
  }
  // One load while the handlers are awake; a syscall only to wake a parked one.
  if (upcall_wakeup_ != nullptr) upcall_wakeup_->Notify();
  CounterAdd(type == UpcallType::kMiss ? counters_.upcalls : counters_.userspace, 1);
}

void Pmd::TxEnqueue(uint32_t port_no, rte_mbuf** pkts, uint32_t n) {
  if (__builtin_expect(port_no >= tx_buffers_.size() || tx_buffers_[port_no].target.port == nullptr, 0)) {
    FreePackets(pkts, n);
    CounterAdd(counters_.no_port_drops, n);
    return;
  }
  TxBuffer& b = tx_buffers_[port_no];
  if (!b.dirty) {
    b.dirty = true;
    tx_dirty_.push_back(port_no);  // capacity reserved in SetPortConfig
  }
  while (n > 0) {
    if (b.n == kMaxBurst) FlushBuffer(b);
    uint32_t room = kMaxBurst - b.n;
    uint32_t take = n < room ? n : room;
    std::memcpy(&b.pkts[b.n], pkts, take * sizeof(rte_mbuf*));
    b.n = static_cast<uint16_t>(b.n + take);
    pkts += take;
    n -= take;
  }
}

void Pmd::FlushBuffer(TxBuffer& b) {
  if (b.n == 0) return;
  uint16_t sent = b.target.port->TxBurst(b.target.queue, b.pkts, b.n);
  CounterAdd(counters_.tx_packets, sent);
  if (sent < b.n) {
    FreePackets(b.pkts + sent, b.n - sent);
    CounterAdd(counters_.tx_dropped, b.n - sent);
    b.target.port->CountTxDropped(b.target.queue, b.n - sent);
  }
  b.n = 0;
}

void Pmd::FlushTx() {
  for (uint32_t port_no : tx_dirty_) {
    TxBuffer& b = tx_buffers_[port_no];
    b.dirty = false;
    FlushBuffer(b);
  }
  tx_dirty_.clear();
}

void Pmd::SetPortConfig(const PmdPortConfig* config) {
  FlushTx();
  port_config_ = config;
  tx_buffers_.assign(config ? config->tx.size() : 0, TxBuffer{});
  for (size_t i = 0; config && i < config->tx.size(); ++i) tx_buffers_[i].target = config->tx[i];
  tx_dirty_.clear();
  tx_dirty_.reserve(tx_buffers_.size());
}

void Pmd::ApplyCommands() {
  PmdCommand cmd;
  while (commands_.TryPop(&cmd)) {
    Apply(cmd);
    applied_seq_.store(cmd.seq, std::memory_order_release);
  }
}

void Pmd::Apply(const PmdCommand& cmd) {
  switch (cmd.kind) {
    case PmdCommand::Kind::kInstall:
      cmd.flow->actions = cmd.actions;
      dpcls_.Insert(&cmd.flow->rule, cmd.flow->mask);
      CounterAdd(counters_.flows, 1);
      UpdateParseDepth();
      break;
    case PmdCommand::Kind::kModify:
      cmd.flow->actions = cmd.actions;
      break;
    case PmdCommand::Kind::kRemove:
      dpcls_.Remove(&cmd.flow->rule);
      cmd.flow->rule.dead = true;
      counters_.flows.store(counters_.flows.load(std::memory_order_relaxed) - 1,
                            std::memory_order_relaxed);
      UpdateParseDepth();
      break;
    case PmdCommand::Kind::kExecute: {
      rte_mbuf* pkts[1] = {cmd.packet};
      PacketLayout layouts[1] = {cmd.layout};
      CounterAdd(counters_.executed, 1);
      Sink sink(this, cmd.in_port);
      ExecuteActions(*cmd.actions, pkts, layouts, 1, sink);
      sink.Drain(0);
      FlushTx();
      break;
    }
    case PmdCommand::Kind::kPortConfig:
      SetPortConfig(cmd.port_config);
      break;
    case PmdCommand::Kind::kEmcFlush:
      emc_.Clear();
      break;
    case PmdCommand::Kind::kEmcProb:
      emc_.set_insert_inv_prob(cmd.value);
      break;
    case PmdCommand::Kind::kMarkSet:
    case PmdCommand::Kind::kMarkClear:
    case PmdCommand::Kind::kMarkClearAll:
      ApplyMarkCommand(cmd);
      break;
  }
  n_subtables_.store(dpcls_.n_subtables(), std::memory_order_relaxed);
}

}  // namespace sluice::dp
