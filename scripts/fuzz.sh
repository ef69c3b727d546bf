#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) in turn and prints a line per target.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); see fuzz/README.md.
set -euo pipefail
seconds="${1:-600}"
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -a
for target in score_request tabular_data model_parsers policy_input policy_bundle ledger_proofs; do
    mkdir -p "corpus/$target"
    log="$(mktemp)"
    if cargo fuzz run -s none -a "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -m1 "stat::number_of_executed_units" "$log" | awk '{print $2}')
        echo "$target: ${seconds} s, ${runs:-?} executions, no crash"
    else
        echo "$target: CRASH (see $log and fuzz/artifacts/$target)"
        exit 1
    fi
done
