#pragma once
// What: the management-socket commands that show and change a bridge's
// OpenFlow side (ovs-ofctl's and ovs-appctl's bridge commands, in spirit):
// dump-flows/add-flow/mod-flows/del-flows, add-group/del-groups/dump-groups,
// dump-tables, trace, fdb/show, upcall-stats. Flows and groups use
// ovs-ofctl's text syntax (ofproto/ofctl_parse.h).

#include "controller/mgmt_server.h"
#include "datapath/dpif/datapath.h"
#include "ofproto/bridge_set.h"

namespace sluice::ctl {

// Registers the bridge commands; each names its bridge, looked up in
// `bridges` at every call (bridges come and go with the store). `dump-flows`
// with no bridge name shows the datapath's megaflows (also `dpctl/dump-flows`).
class OffloadControl;
// `offload` (may be null) adds each megaflow's offload state to dump-flows.
void RegisterBridgeViews(MgmtServer* server, dp::Datapath* dp, ofproto::BridgeSet* bridges,
                         OffloadControl* offload = nullptr);

}  // namespace sluice::ctl
