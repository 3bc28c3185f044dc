#!/usr/bin/env bash
# Installs everything Sluice needs to build, test and run, from Debian 12's
# packages. Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config clang lld libclang-rt-14-dev
  # DPDK 22.11: headers, runtime drivers, dpdk-testpmd
  libdpdk-dev dpdk dpdk-dev libpcap-dev
  # libraries
  libboost1.81-dev libboost-json1.81-dev libssl-dev libsqlite3-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev valgrind
  # real clients and tools the tests drive
  iproute2 tcpdump python3 python3-scapy openssl
  openvswitch-common openvswitch-switch tshark python3-os-ken
  # network namespaces and hosts of the os-ken test (ping, veth offloads)
  iputils-ping ethtool
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # tshark's package asks whether non-root users may capture; answer no
  # instead of prompting (the tests capture as root).
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  # openvswitch-switch is installed for its ovs-vsctl client only: its
  # daemons must not start (they would compete with Sluice for the machine).
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
else
  echo "install-deps: all ${#packages[@]} packages present"
fi
