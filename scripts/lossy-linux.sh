#!/usr/bin/env bash
# The Linux reference for issue #5's lossy path (100 Mbit/s, 50 ms RTT, 1 %
# random loss each way, 50 ms tail-drop queue): kernel-to-kernel goodput
# with the kernel's defaults and CUBIC, 10 s per run, median of RUNS (5).
#
#   sudo scripts/lossy-linux.sh [RUNS]
#
# Two network namespaces are created, each holding one kernel end behind a
# TUN device; `go run ./bench -lossy-linux A,B` joins the two devices
# through bench/emu.go, the same real-time emulated path synfin and gVisor
# are measured on (this machine's kernel has no netem qdisc, and one
# emulator for all three stacks keeps the figures comparable). The
# namespaces are deleted on exit, failure and interrupt included; only the
# two created here are ever touched.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "lossy-linux: RUNS must be a positive number, not '$runs'" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "lossy-linux: needs root (network namespaces, TUN devices)" >&2
  exit 1
fi
nsA="synfin-lossy-a-$$"
nsB="synfin-lossy-b-$$"
made=()
cleanup() {
  for ns in "${made[@]}"; do
    ip netns del "$ns" 2>/dev/null || echo "lossy-linux: could not delete namespace $ns" >&2
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ns in "$nsA" "$nsB"; do
  if ip netns list | grep -qw "$ns"; then
    echo "lossy-linux: namespace $ns already exists; not touching it" >&2
    exit 1
  fi
  ip netns add "$ns"
  made+=("$ns")
done
# A new namespace inherits the host's default congestion control (bbr on
# some hosts) and may not set a restricted one as its default, so the bench
# sets CUBIC, Linux's default, on its sockets (TCP_CONGESTION) and checks
# it. Everything else is the namespace's own defaults.
echo "kernel $(uname -r); in the namespaces:"
ip netns exec "$nsA" sysctl net.ipv4.tcp_rmem net.ipv4.tcp_wmem \
  net.ipv4.tcp_sack net.ipv4.tcp_timestamps net.ipv4.tcp_recovery net.ipv4.tcp_early_retrans | sed 's/^/  /'
(cd bench && go build -o "${TMPDIR:-/tmp}/synfin-bench-$$" .)
trap 'rm -f "${TMPDIR:-/tmp}/synfin-bench-$$"; cleanup' EXIT
"${TMPDIR:-/tmp}/synfin-bench-$$" -lossy-linux "$nsA,$nsB" -reps "$runs"
