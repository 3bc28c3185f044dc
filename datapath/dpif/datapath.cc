#include "datapath/dpif/datapath.h"

#include <rte_mempool.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <new>
#include <atomic>
#include <chrono>
#include <thread>

namespace sluice::dp {
namespace {
std::atomic<int> g_pool_serial{0};
}  // namespace

Datapath::Datapath(const DatapathOptions& options) : options_(options) {}

MegaflowPool::~MegaflowPool() {
  for (void* slab : slabs_) ::operator delete(slab, std::align_val_t{alignof(Megaflow)});
}

Megaflow* MegaflowPool::New() {
  static_assert(sizeof(Megaflow) % alignof(Megaflow) == 0);
  if (free_.empty()) {
    auto* slab = static_cast<char*>(
        ::operator new(kSlab * sizeof(Megaflow), std::align_val_t{alignof(Megaflow)}));
    slabs_.push_back(slab);
    for (size_t i = kSlab; i-- > 0;) free_.push_back(slab + i * sizeof(Megaflow));
  }
  void* slot = free_.back();
  free_.pop_back();
  return new (slot) Megaflow();
}

void MegaflowPool::Delete(Megaflow* f) {
  f->~Megaflow();
  free_.push_back(f);
}

Datapath::~Datapath() {
  {
    // The hook's thread may be waiting for mu_ (MarkClear): drop our
    // reference without holding it.
    std::shared_ptr<OffloadHook> hook;
    {
      std::lock_guard lock(mu_);
      hook = std::move(offload_);
    }
  }
  StopPmds();
  std::unique_lock lock(mu_);
  for (auto& slot : pmds_) {
    for (auto& [ufid, flow] : slot.flows) {
      PmdCommand cmd{};
      cmd.kind = PmdCommand::Kind::kRemove;
      cmd.flow = flow.get();
      PostLocked(static_cast<int>(&slot - pmds_.data()), cmd);
    }
  }
  for (auto& slot : pmds_) {
    PmdCommand cmd{};
    cmd.kind = PmdCommand::Kind::kPortConfig;
    cmd.port_config = nullptr;
    PostLocked(static_cast<int>(&slot - pmds_.data()), cmd);
    slot.pmd->SyncApply();
  }
  pmds_.clear();
  ports_.clear();
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

Status Datapath::Init() {
  Status st;
  PktPoolOptions po;
  po.name = "sluice_mbufs_" + std::to_string(g_pool_serial.fetch_add(1));
  po.n_mbufs = options_.n_mbufs;
  pool_ = CreatePktPool(po, &st);
  if (pool_ == nullptr) return st;
  meters_ = std::make_unique<MeterTable>();
  return SetPmdCores(options_.pmd_cores);
}

MempoolInfo Datapath::Mempool() const {
  MempoolInfo m;
  if (pool_ == nullptr) return m;
  m.name = pool_->name;
  m.size = pool_->size;
  m.in_use = rte_mempool_in_use_count(pool_);
  m.available = rte_mempool_avail_count(pool_);
  return m;
}

// --- Meters ---

Status Datapath::MeterSet(const MeterConfig& config) {
  if (!meters_) return Status::Error("datapath not initialised");
  return meters_->Set(config);
}

Status Datapath::MeterDel(uint32_t id) {
  if (!meters_) return Status::Error("datapath not initialised");
  if (!meters_->Del(id)) return Status::Errorf("no meter {}", id);
  return Status::Ok();
}

bool Datapath::MeterStats(uint32_t id, dp::MeterStats* out) const {
  return meters_ && meters_->Stats(id, out);
}

// --- PMDs ---

size_t Datapath::n_pmds() const {
  std::lock_guard lock(mu_);
  return pmds_.size();
}

std::vector<int> Datapath::PmdRange(int pmd) const {
  std::vector<int> out;
  if (pmd == kAllPmds) {
    for (size_t i = 0; i < pmds_.size(); ++i) out.push_back(static_cast<int>(i));
  } else if (pmd >= 0 && static_cast<size_t>(pmd) < pmds_.size()) {
    out.push_back(pmd);
  }
  return out;
}

uint64_t Datapath::PostLocked(int pmd, PmdCommand cmd) {
  PmdSlot& slot = pmds_[pmd];
  cmd.seq = slot.next_seq++;
  while (!slot.pmd->Post(cmd)) {
    // Ring full: the PMD is behind. Let it catch up (or catch up for it).
    if (slot.pmd->running()) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    } else {
      slot.pmd->SyncApply();
    }
  }
  return cmd.seq;
}

Status Datapath::SetPmdCores(const std::vector<int>& cores) {
  if (cores.empty()) return Status::Error("at least one PMD core is needed");
  bool was_started = pmds_started_;
  StopPmds();
  {
    std::unique_lock lock(mu_);
    // Drop every flow: megaflows are per PMD and the PMDs are replaced.
    for (size_t i = 0; i < pmds_.size(); ++i) {
      for (auto& [ufid, flow] : pmds_[i].flows) {
        PmdCommand cmd{};
        cmd.kind = PmdCommand::Kind::kRemove;
        cmd.flow = flow.get();
        PostLocked(static_cast<int>(i), cmd);
      }
      pmds_[i].pmd->SyncApply();
      pmds_[i].flows.clear();
    }
    if (offload_) {
      for (const auto& [ufid, hw] : hw_flows_) offload_->FlowDel(ufid);
    }
    hw_flows_.clear();
    mark_ufid_.clear();  // the new PMDs start with empty mark tables
    ufid_marks_.clear();
    pmds_.clear();  // (with their retire lists: the old PMDs are stopped)
    for (size_t i = 0; i < cores.size(); ++i) {
      PmdOptions po;
      po.core = cores[i];
      po.index = static_cast<int>(i);
      po.emc_insert_inv_prob = options_.emc_insert_inv_prob;
      po.upcall_ring_size = options_.upcall_ring_size;
      po.upcall_rate_limit = options_.upcall_rate_limit;
      po.meters = meters_.get();
      PmdSlot slot;
      slot.pmd = std::make_unique<Pmd>(po);
      slot.pmd->set_upcall_wakeup(&upcall_wakeup_);
      pmds_.push_back(std::move(slot));
    }
    options_.pmd_cores = cores;
    ReconfigureLocked();
    SyncLocked(lock);
  }
  if (was_started) StartPmds();
  return Status::Ok();
}

void Datapath::StartPmds() {
  std::lock_guard lock(mu_);
  for (auto& slot : pmds_) slot.pmd->Start();
  pmds_started_ = true;
}

void Datapath::StopPmds() {
  std::lock_guard lock(mu_);
  for (auto& slot : pmds_) slot.pmd->Stop();
  pmds_started_ = false;
}

uint32_t Datapath::PollAllOnce() {
  std::lock_guard lock(mu_);
  uint32_t n = 0;
  for (auto& slot : pmds_) {
    if (!slot.pmd->running()) n += slot.pmd->PollOnce();
  }
  return n;
}

void Datapath::Rebalance() {
  std::unique_lock lock(mu_);
  ReconfigureLocked();
  SyncLocked(lock);
}

// Assigns every rx queue to a PMD and posts each PMD its new configuration.
void Datapath::ReconfigureLocked() {
  if (pmds_.empty()) return;
  std::vector<RxqState*> rxqs;
  uint32_t max_port_no = 0;
  for (auto& [no, port] : ports_) {
    max_port_no = std::max(max_port_no, no);
    for (auto& q : port.rxqs) rxqs.push_back(q.get());
  }
  // Heaviest first; each to the least loaded PMD so far.
  std::stable_sort(rxqs.begin(), rxqs.end(), [](const RxqState* a, const RxqState* b) {
    return a->cycles.load(std::memory_order_relaxed) > b->cycles.load(std::memory_order_relaxed);
  });
  std::vector<std::unique_ptr<PmdPortConfig>> configs(pmds_.size());
  std::vector<uint64_t> load(pmds_.size(), 0);
  std::vector<size_t> count(pmds_.size(), 0);
  for (auto& c : configs) c = std::make_unique<PmdPortConfig>();
  for (RxqState* q : rxqs) {
    size_t best = 0;
    for (size_t i = 1; i < pmds_.size(); ++i) {
      if (load[i] < load[best] || (load[i] == load[best] && count[i] < count[best])) best = i;
    }
    configs[best]->rxqs.push_back(q);
    RxqOffload o;
    o.marks = offload_ != nullptr;
    o.sources = ports_.at(q->port_no).sources;
    configs[best]->rxq_offload.push_back(std::move(o));
    load[best] += q->cycles.load(std::memory_order_relaxed);
    count[best]++;
  }
  for (size_t i = 0; i < pmds_.size(); ++i) {
    configs[i]->tx.assign(max_port_no + 1, TxTarget{});
    for (auto& [no, port] : ports_) {
      uint16_t n_txq = port.dev->n_txq();
      configs[i]->tx[no] = TxTarget{port.dev.get(), static_cast<uint16_t>(i % n_txq)};
    }
    PmdCommand cmd{};
    cmd.kind = PmdCommand::Kind::kPortConfig;
    cmd.port_config = configs[i].get();
    uint64_t seq = PostLocked(static_cast<int>(i), cmd);
    if (pmds_[i].config) {
      RetireLocked(static_cast<int>(i), Retired{seq, nullptr, nullptr, std::move(pmds_[i].config)});
    }
    pmds_[i].config = std::move(configs[i]);
  }
}

void Datapath::SyncLocked(std::unique_lock<std::mutex>& lock) {
  for (auto& slot : pmds_) {
    uint64_t target = slot.next_seq - 1;
    if (!slot.pmd->running()) {
      slot.pmd->SyncApply();
      continue;
    }
    while (slot.pmd->applied_seq() < target) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      lock.lock();
    }
  }
  ReclaimLocked();
}

void Datapath::Sync() {
  std::unique_lock lock(mu_);
  SyncLocked(lock);
}

void Datapath::Reclaim() {
  std::lock_guard lock(mu_);
  ReclaimLocked();
}

void Datapath::ReclaimLocked() {
  for (auto& slot : pmds_) {
    if (slot.retired.empty()) continue;
    const uint64_t safe = slot.pmd->safe_seq();
    while (!slot.retired.empty() && slot.retired.front().seq <= safe) slot.retired.pop_front();
  }
}

void Datapath::RetireLocked(int pmd, Retired r) { pmds_[pmd].retired.push_back(std::move(r)); }

void Datapath::RetireActionsLocked(int pmd, uint64_t seq, const DpActionsPtr& actions) {
  std::deque<Retired>& list = pmds_[pmd].retired;
  if (!list.empty()) {
    Retired& last = list.back();
    if (last.actions == actions && !last.flow && !last.config) {
      last.seq = seq;  // the newest entry: moving it later keeps the order
      return;
    }
  }
  list.push_back(Retired{seq, nullptr, actions, nullptr});
}

std::vector<PmdInfo> Datapath::PmdStats() const {
  std::lock_guard lock(mu_);
  std::vector<PmdInfo> out;
  for (const auto& slot : pmds_) {
    PmdInfo info;
    info.index = slot.pmd->index();
    info.core = slot.pmd->core();
    info.running = slot.pmd->running();
    info.counters = Snapshot(slot.pmd->counters());
    info.n_subtables = slot.pmd->n_subtables_approx();
    info.upcall_backlog = slot.pmd->upcall_backlog();
    if (slot.config) {
      for (const RxqState* q : slot.config->rxqs) {
        info.rxqs.push_back(RxqInfo{q->port->name(), q->queue,
                                    q->packets.load(std::memory_order_relaxed),
                                    q->cycles.load(std::memory_order_relaxed)});
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

// --- Ports ---

Status Datapath::AddPort(const PortConfig& config, uint32_t* port_no) {
  std::unique_lock lock(mu_);
  for (const auto& [no, port] : ports_) {
    if (port.dev->name() == config.name) return Status::Errorf("port {} already exists", config.name);
  }
  uint32_t no = *port_no;
  if (no == 0) {
    no = 1;
    while (ports_.count(no)) ++no;
  } else if (ports_.count(no)) {
    return Status::Errorf("port number {} is already used by {}", no, ports_[no].dev->name());
  }
  PortConfig cfg = config;
  cfg.n_txq = static_cast<uint16_t>(std::max<size_t>(cfg.n_txq, pmds_.size()));
  Status st;
  std::unique_ptr<DpdkPort> dev;
  if (cfg.unified_proxy != 0) {
    // A unified representor VF: no ethdev, traffic through its proxy.
    auto pit = ports_.find(cfg.unified_proxy);
    if (pit == ports_.end()) {
      return Status::Errorf("port {}: no unified proxy port number {}", cfg.name,
                            cfg.unified_proxy);
    }
    if (pit->second.unified_proxy != 0) {
      return Status::Errorf("port {}: unified proxy {} is itself a VF", cfg.name,
                            pit->second.dev->name());
    }
    if (cfg.unified_source_id == pit->second.dev->port_id()) {
      return Status::Errorf("port {}: source id {} is the proxy's own (the uplink's)", cfg.name,
                            cfg.unified_source_id);
    }
    for (const auto& [pno, p] : ports_) {
      if (p.unified_proxy == cfg.unified_proxy &&
          p.dev->unified_source_id() == cfg.unified_source_id) {
        return Status::Errorf("port {}: source id {} already used by {}", cfg.name,
                              cfg.unified_source_id, p.dev->name());
      }
    }
    dev = DpdkPort::OpenUnifiedVf(cfg, pit->second.dev.get(), &st);
  } else {
    dev = DpdkPort::Open(cfg, pool_, &st);
  }
  if (!dev) return st;
  Port port;
  port.port_no = no;
  port.unified_proxy = cfg.unified_proxy;
  port.created_ms = Pmd::NowMs();
  for (uint16_t q = 0; q < dev->n_rxq(); ++q) {
    auto rxq = std::make_unique<RxqState>();
    rxq->port = dev.get();
    rxq->queue = q;
    rxq->port_no = no;
    port.rxqs.push_back(std::move(rxq));
  }
  const uint16_t ethdev = dev->port_id();
  port.dev = std::move(dev);
  ports_.emplace(no, std::move(port));
  *port_no = no;
  if (cfg.unified_proxy != 0) RebuildSourcesLocked(cfg.unified_proxy);
  if (offload_) offload_->PortAdded(no, cfg, ethdev);
  ReconfigureLocked();
  SyncLocked(lock);
  return Status::Ok();
}

Status Datapath::DelPort(uint32_t port_no) {
  std::unique_lock lock(mu_);
  auto it = ports_.find(port_no);
  if (it == ports_.end()) return Status::Errorf("no port number {}", port_no);
  size_t vfs = 0;
  for (const auto& [no, p] : ports_) vfs += p.unified_proxy == port_no;
  if (vfs != 0) {
    return Status::Errorf("port {} is the unified proxy of {} VF ports: delete them first",
                          it->second.dev->name(), vfs);
  }
  Port port = std::move(it->second);
  ports_.erase(it);
  if (port.unified_proxy != 0) RebuildSourcesLocked(port.unified_proxy);
  ReconfigureLocked();
  SyncLocked(lock);  // every PMD now runs a configuration without the port
  if (offload_) offload_->PortDeleted(port_no);
  // Old configurations referencing the port may still sit on the retire list
  // but are never dereferenced again; the device can close.
  spdlog::info("port {} (number {}) removed", port.dev->name(), port_no);
  return Status::Ok();
}

std::vector<PortInfo> Datapath::Ports() const {
  std::lock_guard lock(mu_);
  std::vector<PortInfo> out;
  for (const auto& [no, port] : ports_) {
    PortInfo info;
    info.port_no = no;
    info.name = port.dev->name();
    info.devargs = port.dev->devargs();
    info.driver = port.dev->driver();
    info.n_rxq = port.dev->n_rxq();
    info.n_txq = port.dev->n_txq();
    info.link_up = port.dev->LinkUp();
    info.mtu = port.dev->Mtu();
    info.link_speed_mbps = port.dev->LinkSpeedMbps();
    info.mac = port.dev->MacAddr();
    info.created_ms = port.created_ms;
    info.stats = port.dev->Stats();
    out.push_back(std::move(info));
  }
  return out;
}

bool Datapath::PortByName(const std::string& name, uint32_t* port_no) const {
  std::lock_guard lock(mu_);
  for (const auto& [no, port] : ports_) {
    if (port.dev->name() == name) {
      *port_no = no;
      return true;
    }
  }
  return false;
}

// --- Megaflows ---

Status Datapath::FlowPut(const FlowKey& key, const FlowMask& mask, DpActionsPtr actions, int pmd,
                         Ufid* ufid_out) {
  if (!actions) return Status::Error("flow put without actions");
  alignas(64) FlowKey masked;
  MaskKey(key, mask, &masked);
  Ufid ufid = UfidFromMatch(masked, mask);
  std::lock_guard lock(mu_);
  std::vector<int> range = PmdRange(pmd);
  if (range.empty()) return Status::Errorf("no PMD {}", pmd);
  for (int i : range) PutOneLocked(i, masked, mask, ufid, actions);
  OffloadSyncLocked(ufid);
  if (ufid_out) *ufid_out = ufid;
  ReclaimLocked();
  return Status::Ok();
}

void Datapath::FlowPutBatch(FlowPutOp* ops, size_t n, size_t flow_limit) {
  // Masking and the ufid hash outside the lock.
  struct alignas(64) Masked {
    FlowKey key;
  };
  constexpr size_t kChunk = 64;
  Masked masked[kChunk];
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    for (size_t j = 0; j < m; ++j) {
      FlowPutOp& op = ops[base + j];
      MaskKey(*op.key, *op.mask, &masked[j].key);
      op.ufid = UfidFromMatch(masked[j].key, *op.mask);
    }
    std::lock_guard lock(mu_);
    size_t n_flows = FlowCountLocked();
    for (size_t j = 0; j < m; ++j) {
      FlowPutOp& op = ops[base + j];
      if (!op.actions) {
        op.result = FlowPutOp::Result::kNoPmd;
        continue;
      }
      if (op.pmd == kAllPmds) {
        op.result = FlowPutOp::Result::kNoPmd;
        for (size_t i = 0; i < pmds_.size(); ++i) {
          FlowPutOp::Result r = PutOneLocked(static_cast<int>(i), masked[j].key, *op.mask, op.ufid,
                                             op.actions, flow_limit, &n_flows);
          // Report the first PMD's outcome, unless a later one was refused.
          if (i == 0 || r == FlowPutOp::Result::kOverLimit) op.result = r;
        }
      } else if (op.pmd >= 0 && static_cast<size_t>(op.pmd) < pmds_.size()) {
        op.result = PutOneLocked(op.pmd, masked[j].key, *op.mask, op.ufid, op.actions, flow_limit,
                                 &n_flows);
      } else {
        op.result = FlowPutOp::Result::kNoPmd;
      }
      OffloadSyncLocked(op.ufid);
    }
    ReclaimLocked();
  }
}

size_t Datapath::FlowCountLocked() const {
  size_t n = 0;
  for (const auto& slot : pmds_) n += slot.flows.size();
  return n;
}

FlowPutOp::Result Datapath::PutOneLocked(int pmd, const FlowKey& masked, const FlowMask& mask,
                                         const Ufid& ufid, const DpActionsPtr& actions,
                                         size_t flow_limit, size_t* n_flows) {
  PmdSlot& slot = pmds_[pmd];
  auto it = slot.flows.find(ufid);
  if (it != slot.flows.end()) {
    Megaflow* f = it->second.get();
    if (f->actions_ref == actions || *f->actions_ref == *actions) return FlowPutOp::Result::kExists;
    PmdCommand cmd{};
    cmd.kind = PmdCommand::Kind::kModify;
    cmd.flow = f;
    cmd.actions = actions.get();
    uint64_t seq = PostLocked(pmd, cmd);
    RetireLocked(pmd, Retired{seq, nullptr, std::move(f->actions_ref), nullptr});
    f->actions_ref = actions;
    return FlowPutOp::Result::kModified;
  }
  if (n_flows != nullptr) {
    if (*n_flows >= flow_limit) return FlowPutOp::Result::kOverLimit;
    ++*n_flows;
  }
  MegaflowPtr flow(megaflow_pool_.New(), MegaflowDeleter{&megaflow_pool_});
  flow->rule.key = masked;
  flow->mask = mask;
  flow->ufid = ufid;
  flow->pmd_index = pmd;
  flow->actions_ref = actions;
  flow->created_ms = Pmd::NowMs();
  PmdCommand cmd{};
  cmd.kind = PmdCommand::Kind::kInstall;
  cmd.flow = flow.get();
  cmd.actions = actions.get();
  PostLocked(pmd, cmd);
  if (auto mit = ufid_marks_.find(ufid); mit != ufid_marks_.end()) {
    for (uint32_t mark : mit->second) {
      PmdCommand mc{};
      mc.kind = PmdCommand::Kind::kMarkSet;
      mc.flow = flow.get();
      mc.value = mark;
      PostLocked(pmd, mc);
    }
  }
  slot.flows.emplace(ufid, std::move(flow));
  return FlowPutOp::Result::kInstalled;
}

void Datapath::DelOneLocked(int pmd, const Ufid& ufid) {
  PmdSlot& slot = pmds_[pmd];
  auto it = slot.flows.find(ufid);
  if (it == slot.flows.end()) return;
  auto mit = ufid_marks_.find(ufid);
  if (mit != ufid_marks_.end()) {
    // The PMD's mark table must never point at a removed flow.
    for (uint32_t mark : mit->second) {
      PmdCommand mc{};
      mc.kind = PmdCommand::Kind::kMarkClear;
      mc.value = mark;
      PostLocked(pmd, mc);
    }
  }
  PmdCommand cmd{};
  cmd.kind = PmdCommand::Kind::kRemove;
  cmd.flow = it->second.get();
  uint64_t seq = PostLocked(pmd, cmd);
  RetireLocked(pmd, Retired{seq, std::move(it->second), nullptr, nullptr});
  slot.flows.erase(it);
  if (mit != ufid_marks_.end() && !HeldByAnyPmdLocked(ufid)) {
    for (uint32_t mark : mit->second) mark_ufid_.erase(mark);
    ufid_marks_.erase(mit);
  }
}

Status Datapath::FlowDel(const Ufid& ufid, int pmd) {
  std::lock_guard lock(mu_);
  bool found = false;
  for (int i : PmdRange(pmd)) {
    found |= pmds_[i].flows.count(ufid) > 0;
    DelOneLocked(i, ufid);
  }
  OffloadSyncLocked(ufid);
  ReclaimLocked();
  if (!found) return Status::Error("no such flow");
  return Status::Ok();
}

void Datapath::FlowFlush() {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < pmds_.size(); ++i) {
    std::vector<Ufid> ufids;
    for (const auto& [u, f] : pmds_[i].flows) ufids.push_back(u);
    for (const Ufid& u : ufids) DelOneLocked(static_cast<int>(i), u);
  }
  std::vector<Ufid> offloaded;
  for (const auto& [u, hw] : hw_flows_) offloaded.push_back(u);
  for (const Ufid& u : offloaded) OffloadSyncLocked(u);
  ReclaimLocked();
}

static FlowInfo InfoOf(const Megaflow& f) {
  FlowInfo info;
  info.ufid = f.ufid;
  info.key = f.rule.key;
  info.mask = f.mask;
  info.actions = f.actions_ref;
  info.pmd = f.pmd_index;
  info.packets = f.stats.packets.load(std::memory_order_relaxed);
  info.bytes = f.stats.bytes.load(std::memory_order_relaxed);
  info.used_ms = f.stats.used_ms.load(std::memory_order_relaxed);
  info.tcp_flags = f.stats.tcp_flags.load(std::memory_order_relaxed);
  info.created_ms = f.created_ms;
  return info;
}

std::vector<FlowInfo> Datapath::FlowDump() const {
  std::lock_guard lock(mu_);
  FoldHwCountersLocked();
  const uint64_t now = hw_flows_.empty() ? 0 : Pmd::NowMs();
  std::vector<FlowInfo> out;
  for (const auto& slot : pmds_) {
    for (const auto& [u, f] : slot.flows) {
      FlowInfo info = InfoOf(*f);
      if (!hw_flows_.empty()) {
        AddHwLocked(u, f->pmd_index, now, &info.packets, &info.bytes, &info.used_ms,
                    &info.hw_packets, &info.hw_bytes);
      }
      out.push_back(std::move(info));
    }
  }
  return out;
}

std::vector<FlowStatsInfo> Datapath::FlowStatsDump() const {
  std::lock_guard lock(mu_);
  FoldHwCountersLocked();
  const uint64_t now = hw_flows_.empty() ? 0 : Pmd::NowMs();
  std::vector<FlowStatsInfo> out;
  size_t n = 0;
  for (const auto& slot : pmds_) n += slot.flows.size();
  out.reserve(n);
  for (const auto& slot : pmds_) {
    for (const auto& [u, f] : slot.flows) {
      out.push_back(FlowStatsInfo{f->ufid, f->pmd_index, f->stats.packets.load(std::memory_order_relaxed),
                                  f->stats.bytes.load(std::memory_order_relaxed),
                                  f->stats.used_ms.load(std::memory_order_relaxed), f->created_ms});
      if (!hw_flows_.empty()) {
        FlowStatsInfo& info = out.back();
        AddHwLocked(u, f->pmd_index, now, &info.packets, &info.bytes, &info.used_ms,
                    &info.hw_packets, &info.hw_bytes);
      }
    }
  }
  return out;
}

bool Datapath::FlowGet(const Ufid& ufid, FlowInfo* info) const {
  std::lock_guard lock(mu_);
  FoldHwCountersLocked();
  const uint64_t now = hw_flows_.empty() ? 0 : Pmd::NowMs();
  bool found = false;
  for (const auto& slot : pmds_) {
    auto it = slot.flows.find(ufid);
    if (it == slot.flows.end()) continue;
    FlowInfo one = InfoOf(*it->second);
    if (!hw_flows_.empty()) {
      AddHwLocked(ufid, one.pmd, now, &one.packets, &one.bytes, &one.used_ms, &one.hw_packets,
                  &one.hw_bytes);
    }
    if (!found) {
      *info = one;
      found = true;
    } else {
      info->packets += one.packets;
      info->bytes += one.bytes;
      info->hw_packets += one.hw_packets;
      info->hw_bytes += one.hw_bytes;
      info->used_ms = std::max(info->used_ms, one.used_ms);
      info->tcp_flags |= one.tcp_flags;
    }
  }
  return found;
}

size_t Datapath::FlowCount() const {
  std::lock_guard lock(mu_);
  return FlowCountLocked();
}

// --- Slow path ---

bool Datapath::RecvUpcall(Upcall* out) { return RecvUpcalls(out, 1) == 1; }

size_t Datapath::RecvUpcalls(Upcall* out, size_t max) {
  std::lock_guard lock(mu_);
  const size_t n_pmds = pmds_.size();
  if (n_pmds == 0 || max == 0) return 0;
  // First pass: each PMD up to its share (so that one busy PMD does not
  // starve the others' upcalls); second pass: fill up from any.
  const size_t share = (max + n_pmds - 1) / n_pmds;
  size_t got = 0;
  for (int pass = 0; pass < 2 && got < max; ++pass) {
    for (size_t i = 0; i < n_pmds && got < max; ++i) {
      Pmd& pmd = *pmds_[(upcall_rr_ + i) % n_pmds].pmd;
      const size_t limit = pass == 0 ? std::min(max, got + share) : max;
      while (got < limit && pmd.PopUpcall(&out[got])) ++got;
    }
  }
  upcall_rr_ = (upcall_rr_ + 1) % n_pmds;
  return got;
}

bool Datapath::WaitForUpcalls(int timeout_ms) {
  // pmd/upcall_wakeup.h, "The protocol": register, re-check, sleep.
  const uint32_t epoch = upcall_wakeup_.Park();
  size_t backlog = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& slot : pmds_) backlog += slot.pmd->upcall_backlog();
  }
  if (backlog != 0) {
    upcall_wakeup_.Unpark(epoch);
    return true;
  }
  return upcall_wakeup_.Wait(epoch, timeout_ms);
}

void Datapath::WakeUpcallHandlers() { upcall_wakeup_.WakeAll(); }

Status Datapath::Execute(int pmd, rte_mbuf* packet, uint32_t in_port, const PacketLayout& layout,
                         DpActionsPtr actions) {
  ExecuteOp op;
  op.pmd = pmd;
  op.packet = packet;
  op.in_port = in_port;
  op.layout = layout;
  op.actions = std::move(actions);
  if (ExecuteBatch(&op, 1) != 0) return Status::Errorf("no PMD {}", pmd);
  return Status::Ok();
}

size_t Datapath::ExecuteBatch(ExecuteOp* ops, size_t n) {
  size_t bad = 0;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    ExecuteOp& op = ops[i];
    if (op.pmd < 0 || static_cast<size_t>(op.pmd) >= pmds_.size() || !op.actions) {
      rte_pktmbuf_free(op.packet);
      ++bad;
      continue;
    }
    PmdCommand cmd{};
    cmd.kind = PmdCommand::Kind::kExecute;
    cmd.packet = op.packet;
    cmd.layout = op.layout;
    cmd.in_port = op.in_port;
    cmd.actions = op.actions.get();
    uint64_t seq = PostLocked(op.pmd, cmd);
    RetireActionsLocked(op.pmd, seq, op.actions);
  }
  ReclaimLocked();
  return bad;
}

// --- Hardware offload ---

bool Datapath::HeldByAnyPmdLocked(const Ufid& ufid) const {
  for (const auto& slot : pmds_) {
    if (slot.flows.count(ufid)) return true;
  }
  return false;
}

// Brings the hook's view of `ufid` in line with the PMDs' (class comment).
void Datapath::OffloadSyncLocked(const Ufid& ufid) {
  if (!offload_) return;
  const Megaflow* first = nullptr;
  int first_pmd = -1;
  for (size_t i = 0; i < pmds_.size() && first == nullptr; ++i) {
    auto it = pmds_[i].flows.find(ufid);
    if (it != pmds_[i].flows.end()) {
      first = it->second.get();
      first_pmd = static_cast<int>(i);
    }
  }
  auto hw = hw_flows_.find(ufid);
  if (first == nullptr) {
    if (hw != hw_flows_.end()) {
      offload_->FlowDel(ufid);
      hw_flows_.erase(hw);
    }
    return;
  }
  if (hw == hw_flows_.end()) {
    HwFlow h;
    h.actions = first->actions_ref;
    h.put_ms = Pmd::NowMs();
    h.pmd = first_pmd;
    hw_flows_.emplace(ufid, std::move(h));
    offload_->FlowPut(ufid, first->rule.key, first->mask, first->actions_ref);
    return;
  }
  HwFlow& h = hw->second;
  if (h.pmd < 0 || static_cast<size_t>(h.pmd) >= pmds_.size() ||
      !pmds_[h.pmd].flows.count(ufid)) {
    // The copy holding the counters went: the next one starts from zero.
    h.pmd = first_pmd;
    h.packets = h.bytes = h.used_ms = 0;
  }
  if (!(*h.actions == *first->actions_ref)) {
    h.actions = first->actions_ref;
    h.put_ms = Pmd::NowMs();
    offload_->FlowPut(ufid, first->rule.key, first->mask, first->actions_ref);
  }
}

void Datapath::FoldHwCountersLocked() const {
  if (!offload_) return;
  delta_scratch_.clear();
  offload_->TakeCounterDeltas(&delta_scratch_);
  if (delta_scratch_.empty()) return;
  const uint64_t now = Pmd::NowMs();
  for (const HwCounterDelta& d : delta_scratch_) {
    auto it = hw_flows_.find(d.ufid);
    if (it == hw_flows_.end()) continue;  // deleted meanwhile: its last counts are lost
    it->second.packets += d.packets;
    it->second.bytes += d.bytes;
    if (d.packets != 0) it->second.used_ms = now;
  }
}

// Adds the hardware's share to one PMD copy's statistics: the counters to
// the copy that holds them; to every copy, "used" until two counter
// intervals after the Put (capped at now), so that a flow the hardware
// takes over is not expired before its counters were read once.
void Datapath::AddHwLocked(const Ufid& ufid, int pmd, uint64_t now_ms, uint64_t* packets,
                           uint64_t* bytes, uint64_t* used_ms, uint64_t* hw_packets,
                           uint64_t* hw_bytes) const {
  auto it = hw_flows_.find(ufid);
  if (it == hw_flows_.end()) return;
  const HwFlow& h = it->second;
  if (h.pmd == pmd) {
    *hw_packets = h.packets;
    *hw_bytes = h.bytes;
    *packets += h.packets;
    *bytes += h.bytes;
    *used_ms = std::max(*used_ms, h.used_ms);
  }
  const uint64_t grace = 2 * static_cast<uint64_t>(offload_ ? offload_->CounterIntervalMs() : 0);
  *used_ms = std::max(*used_ms, std::min(now_ms, h.put_ms + grace));
}

void Datapath::RebuildSourcesLocked(uint32_t proxy_no) {
  auto pit = ports_.find(proxy_no);
  if (pit == ports_.end()) return;
  Port& proxy = pit->second;
  std::vector<std::pair<uint32_t, uint32_t>> vfs;  // source id, port_no
  uint32_t max_id = proxy.dev->port_id();
  for (const auto& [no, p] : ports_) {
    if (p.unified_proxy != proxy_no) continue;
    vfs.emplace_back(p.dev->unified_source_id(), no);
    max_id = std::max(max_id, p.dev->unified_source_id());
  }
  if (vfs.empty()) {
    proxy.sources = nullptr;
    return;
  }
  // Flat, indexed by flow port id (< 65536): one load per packet.
  auto table = std::make_shared<std::vector<uint32_t>>(max_id + 1, 0);
  (*table)[proxy.dev->port_id()] = proxy_no;  // the uplink's own id
  for (const auto& [id, no] : vfs) (*table)[id] = no;
  proxy.sources = std::move(table);
}

void Datapath::SetOffload(std::shared_ptr<OffloadHook> hook) {
  std::shared_ptr<OffloadHook> old;
  {
    std::unique_lock lock(mu_);
    old = std::move(offload_);
    if (old) {
      for (const auto& [ufid, hw] : hw_flows_) old->FlowDel(ufid);
      // The old provider's marks go with it (its MarkClear calls then only wait).
      for (size_t i = 0; i < pmds_.size(); ++i) {
        PmdCommand mc{};
        mc.kind = PmdCommand::Kind::kMarkClearAll;
        PostLocked(static_cast<int>(i), mc);
      }
    }
    hw_flows_.clear();
    mark_ufid_.clear();
    ufid_marks_.clear();
    offload_ = std::move(hook);
    if (offload_) {
      for (const auto& [no, port] : ports_) {
        PortConfig cfg;
        cfg.name = port.dev->name();
        cfg.devargs = port.dev->devargs();
        cfg.n_rxq = port.dev->n_rxq();
        cfg.n_txq = port.dev->n_txq();
        cfg.rx_metadata = port.dev->rx_metadata_features() != 0;
        cfg.unified_proxy = port.unified_proxy;
        cfg.unified_source_id = port.dev->unified_source_id();
        offload_->PortAdded(no, cfg, port.dev->port_id());
      }
      for (const auto& slot : pmds_) {
        for (const auto& [ufid, flow] : slot.flows) {
          if (!hw_flows_.count(ufid)) OffloadSyncLocked(ufid);
        }
      }
    }
    ReconfigureLocked();  // the rx queues' mark flag
    SyncLocked(lock);
  }
  // Released outside mu_: a provider being destroyed joins its thread, which
  // may be waiting for mu_.
  old.reset();
}

bool Datapath::MarkSet(const OffloadHook* from, const Ufid& ufid, uint32_t mark) {
  std::lock_guard lock(mu_);
  if (!offload_ || offload_.get() != from || mark == 0) return false;
  if (!HeldByAnyPmdLocked(ufid)) return false;
  if (auto mit = mark_ufid_.find(mark); mit != mark_ufid_.end()) {
    // A mark names one flow: forget its previous owner everywhere.
    auto& marks = ufid_marks_[mit->second];
    std::erase(marks, mark);
    if (marks.empty()) ufid_marks_.erase(mit->second);
    mark_ufid_.erase(mit);
    for (size_t i = 0; i < pmds_.size(); ++i) {
      PmdCommand mc{};
      mc.kind = PmdCommand::Kind::kMarkClear;
      mc.value = mark;
      PostLocked(static_cast<int>(i), mc);
    }
  }
  mark_ufid_[mark] = ufid;
  ufid_marks_[ufid].push_back(mark);
  for (size_t i = 0; i < pmds_.size(); ++i) {
    auto it = pmds_[i].flows.find(ufid);
    if (it == pmds_[i].flows.end()) continue;
    PmdCommand mc{};
    mc.kind = PmdCommand::Kind::kMarkSet;
    mc.flow = it->second.get();
    mc.value = mark;
    PostLocked(static_cast<int>(i), mc);
  }
  return true;
}

void Datapath::MarkClear(const OffloadHook* from, uint32_t mark) {
  std::unique_lock lock(mu_);
  if (offload_ && offload_.get() == from) {
    if (auto mit = mark_ufid_.find(mark); mit != mark_ufid_.end()) {
      auto uit = ufid_marks_.find(mit->second);
      if (uit != ufid_marks_.end()) {
        std::erase(uit->second, mark);
        if (uit->second.empty()) ufid_marks_.erase(uit);
      }
      mark_ufid_.erase(mit);
    }
    for (size_t i = 0; i < pmds_.size(); ++i) {
      PmdCommand mc{};
      mc.kind = PmdCommand::Kind::kMarkClear;
      mc.value = mark;
      PostLocked(static_cast<int>(i), mc);
    }
  }
  SyncLocked(lock);  // every PMD has passed the clear
}

}  // namespace sluice::dp
