#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine. Idempotent: it only
# installs what is missing. Go modules come from the module proxy via go.sum.
set -euo pipefail
need=()
command -v go >/dev/null || { echo "deps: go is required (https://go.dev/dl)"; exit 1; }
# Packages for later test suites are added here as they are needed
# (format: command:package).
for pair in python3:python3 tshark:tshark curl:curl ping:iputils-ping ip:iproute2 ss:iproute2 tcpdump:tcpdump chromium:chromium; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
go mod download
