#pragma once
// What: management-socket views of the datapath's ports and packet memory:
//   memory/show   the mbuf pool: size, in use, available (JSON with
//                 --format=json); in_use returns to the same value once
//                 traffic stops, which is how tests check for mbuf leaks.
//   port-stats    every port's counters read now (dpif/show's come from
//                 the once-a-second sample, with rates): per queue, tx
//                 retries and drops included.
//
// Thread-safety: the handlers run on the management server's thread and
// only read the Datapath (its methods may be called from any thread).

#include "controller/mgmt_server.h"
#include "datapath/dpif/datapath.h"

namespace sluice::ctl {

void RegisterPortViews(MgmtServer* server, dp::Datapath* dp);

}  // namespace sluice::ctl
