#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each, one after the
# other. A crasher fails the run; go test writes it to
# <pkg>/testdata/fuzz/<Target>/ where it stays as a regression case.
#
# Prints one summary line per target (wall time, executions, new corpus
# entries, result) and, at the end, the same figures as Markdown table rows
# for the fuzz table in RELIABILITY.md.
#
# Environment:
#   FUZZTIME      time per target (default 10s)
#   FUZZPARALLEL  fuzzing workers per target (-parallel; default: GOMAXPROCS)
#   FUZZTARGETS   regexp: only targets whose name matches (default: all)
#   FUZZLOGDIR    where each target's full output goes (default /tmp)
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
FUZZPARALLEL=${FUZZPARALLEL:-}
FUZZTARGETS=${FUZZTARGETS:-.}
FUZZLOGDIR=${FUZZLOGDIR:-/tmp}
mkdir -p "$FUZZLOGDIR"

parallel=()
if [ -n "$FUZZPARALLEL" ]; then parallel=(-parallel "$FUZZPARALLEL"); fi

# human prints an integer with thousands separators.
human() { printf '%s' "$1" | sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta'; }

status=0
rows=()
while IFS=: read -r file name; do
  [[ $name =~ $FUZZTARGETS ]] || continue
  pkg=./$(dirname "$file")
  log=$FUZZLOGDIR/fuzz-$name.log
  echo "fuzz: $name ($pkg) for $FUZZTIME"
  start=$(date +%s)
  result=ok
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "${parallel[@]}" "$pkg" >"$log" 2>&1; then
    cat "$log"
    result=FAIL
    status=1
  fi
  secs=$(( $(date +%s) - start ))
  # The coordinator's last progress line holds the final counts:
  # "fuzz: elapsed: 60s, execs: 123456 (2057/sec), new interesting: 3 (total: 40)"
  last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
  newi=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
  total=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")
  crashers=0
  if grep -q 'Failing input written to' "$log"; then crashers=$(grep -c 'Failing input written to' "$log"); fi
  rate=0
  if [ "$secs" -gt 0 ] && [ -n "$execs" ]; then rate=$(( execs / secs )); fi
  printf 'fuzz-summary: %s %s: %ds wall, %s execs (%s/s), %s new interesting (corpus %s), %s crashers, %s\n' \
    "$name" "$pkg" "$secs" "${execs:-?}" "$rate" "${newi:-?}" "${total:-?}" "$crashers" "$result"
  rows+=("| $name | ${pkg#./} | $(( secs / 60 ))m$(( secs % 60 ))s | $(human "${execs:-0}") | $(human "$rate") | ${newi:-?} (corpus ${total:-?}) | $crashers |")
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's/:func /:/' | sed 's|^\./||' | sort -t: -k2)

echo "Fuzzed on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), FUZZTIME=$FUZZTIME per target${FUZZPARALLEL:+, -parallel $FUZZPARALLEL}:"
echo "| Target | Package | Wall time | Executions | execs/s | New interesting (corpus) | Crashers |"
echo "|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
exit $status
