#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each. A crasher fails
# the run; go test writes it to testdata/fuzz/<Target>/ where it stays as a
# regression case.
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
status=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "fuzz: $name ($pkg) for $FUZZTIME"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/fuzz-$name.log 2>&1; then
    cat /tmp/fuzz-$name.log
    status=1
  else
    tail -n 1 /tmp/fuzz-$name.log
  fi
done < <(grep -rHoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' . | sed -E 's/:func /:/' | sed 's|^\./||')
exit $status
