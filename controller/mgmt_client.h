#pragma once
// What: the client side of the management socket (mgmt_server.h): send one
// command, wait for its reply.

#include <string>
#include <vector>

#include "controller/mgmt_server.h"
#include "datapath/util/status.h"

namespace sluice::ctl {

// Sends `method params...` to the socket at `path`; fills *reply. Fails with
// a clear message when the socket is absent, the switch does not answer
// within timeout_s, or the switch reports an error.
Status MgmtCall(const std::string& path, const std::string& method,
                const std::vector<std::string>& params, double timeout_s, MgmtReply* reply);

std::string DefaultCtlPath();

}  // namespace sluice::ctl
