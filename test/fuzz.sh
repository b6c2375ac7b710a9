#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 10s) and
# reports the ones that failed. A target is retried once when the run ends
# with no crasher written: the Go fuzzer can end a run with "context
# deadline exceeded" when a worker is mid-input at the deadline on a loaded
# machine, which is not a finding.
set -u
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
failed=()
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
		dir=$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$f
		for try in 1 2; do
			before=$(ls "$dir" 2>/dev/null | wc -l)
			echo "== $pkg $f (try $try)"
			if go test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg"; then
				break
			fi
			after=$(ls "$dir" 2>/dev/null | wc -l)
			if [ "$after" -gt "$before" ] || [ "$try" = 2 ]; then
				failed+=("$pkg $f")
				break
			fi
		done
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz failures:\n'; printf '  %s\n' "${failed[@]}"
	exit 1
fi
echo "all fuzz targets passed ($FUZZTIME each)"
