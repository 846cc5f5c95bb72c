#!/usr/bin/env bash
# Regenerates docs/conformance.md: runs the packetdrill corpus and the state
# examples (examples/states) on both targets with `synfin run --json`, one
# script at a time, and formats the results with scripts/conformance.
#
#   sudo scripts/conformance.sh [CORPUS]
#
# Run it from anywhere in the repository, as root (the kernel target creates
# a network namespace and a TUN device per script). CORPUS is the directory
# holding the corpus's tcp/ (default: $SYNFIN_PACKETDRILL_CORPUS, else
# ../shared/conformance/packetdrill next to the repository). The kernel run
# takes a few minutes of real time; the synfin run, a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-${SYNFIN_PACKETDRILL_CORPUS:-../shared/conformance/packetdrill}}
if [ ! -d "$corpus/tcp" ]; then
  echo "conformance: no corpus at $corpus/tcp" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "conformance: the kernel target needs root" >&2
  exit 1
fi
# KEEP=DIR keeps the JSON results there (to re-run the formatter alone).
if [ -n "${KEEP:-}" ]; then
  tmp=$KEEP
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
go build -o "$tmp/synfin" ./cmd/synfin
for target in synfin kernel; do
  # A real-time target may miss a 4 ms tolerance on a busy machine:
  # --retry reruns a script that failed on a timing error.
  echo "conformance: corpus on $target" >&2
  "$tmp/synfin" run --target "$target" --retry 2 --json "$tmp/$target.json" "$corpus/tcp" >"$tmp/$target.log" || true
  tail -n 1 "$tmp/$target.log" >&2
  echo "conformance: examples/states on $target" >&2
  "$tmp/synfin" run --target "$target" --retry 2 --json "$tmp/$target-examples.json" examples/states >"$tmp/$target-examples.log" || true
  tail -n 1 "$tmp/$target-examples.log" >&2
done
go run ./scripts/conformance -corpus "$corpus/tcp" \
  -synfin "$tmp/synfin.json" -kernel "$tmp/kernel.json" \
  -synfin-examples "$tmp/synfin-examples.json" -kernel-examples "$tmp/kernel-examples.json" \
  -o docs/conformance.md
echo "conformance: wrote docs/conformance.md" >&2
