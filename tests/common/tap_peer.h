// TapPeer: the kernel side of a net_tap port, for integration tests: a
// packet socket bound to the tap interface sends frames into the switch and
// receives what the switch transmits there. Header-only.
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

class TapPeer {
 public:
  ~TapPeer() {
    if (fd_ >= 0) close(fd_);
  }
  ::testing::AssertionResult Open(const std::string& ifname) {
    unsigned idx = if_nametoindex(ifname.c_str());
    if (idx == 0) return ::testing::AssertionFailure() << "no interface " << ifname;
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd_ < 0) return ::testing::AssertionFailure() << "packet socket: " << strerror(errno);
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = static_cast<int>(idx);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      return ::testing::AssertionFailure() << "bind to " << ifname << ": " << strerror(errno);
    }
    int sz = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    return ::testing::AssertionSuccess();
  }

  bool Send(const std::vector<uint8_t>& f) {
    for (int i = 0; i < 100; ++i) {
      if (send(fd_, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size())) return true;
      if (errno != EAGAIN && errno != ENOBUFS) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  // Calls cb(frame) for every frame the switch transmits, until cb returns
  // false or `ms` pass.
  template <class F>
  void Receive(int ms, F cb) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::vector<uint8_t> buf(2048);
    while (true) {
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      ssize_t n =
          recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) {
        if (from.sll_pkttype == PACKET_OUTGOING) continue;  // our own sends
        if (!cb(std::vector<uint8_t>(buf.begin(), buf.begin() + n))) return;
        continue;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      pollfd p{fd_, POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    }
  }

  // Drains whatever is queued.
  void Drain() {
    Receive(100, [](const std::vector<uint8_t>&) { return true; });
  }

 private:
  int fd_ = -1;
};

}  // namespace sluice::test
