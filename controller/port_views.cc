#include "controller/port_views.h"

#include <fmt/format.h>

#include "controller/stats_view.h"

namespace sluice::ctl {

void RegisterPortViews(MgmtServer* server, dp::Datapath* dp) {
  server->Register("memory/show", "the packet-buffer pool: size, mbufs in use, available",
                   [dp](const std::vector<std::string>&) {
                     dp::MempoolInfo m = dp->Mempool();
                     MgmtReply r;
                     r.text = fmt::format("mempool {}: {} mbufs, {} in use, {} available\n", m.name,
                                          m.size, m.in_use, m.available);
                     r.json = {{"mempool",
                                {{"name", m.name},
                                 {"size", m.size},
                                 {"in_use", m.in_use},
                                 {"available", m.available}}}};
                     return r;
                   });
  server->Register("port-stats", "every port's counters, read now (no rates)",
                   [dp](const std::vector<std::string>&) {
                     StatsSample s;
                     s.ports = dp->Ports();
                     MgmtReply r;
                     r.text = PortsText(s, nullptr);
                     r.json = PortsJson(s, nullptr);
                     return r;
                   });
}

}  // namespace sluice::ctl
