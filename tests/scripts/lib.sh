# lib.sh - what the scripted tests share (sourced, not run): the pass/fail counters and
# `expect NAME CONDITION-CMD...`, which counts a check and names it when it fails.
passed=0 failed=0
expect() {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name"; fi
}
