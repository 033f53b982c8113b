#!/usr/bin/env bash
# Run one cargo-fuzz target for a while: scripts/fuzz.sh TARGET [SECONDS]
# Targets: ide, atapi, fdc (and qmp once it exists). Needs cargo-fuzz
# (`cargo install cargo-fuzz`); the stable toolchain is used with
# RUSTC_BOOTSTRAP=1 for the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?target}
secs=${2:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
mkdir -p corpus/$target artifacts/$target
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" corpus/$target -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
