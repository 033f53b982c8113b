#!/usr/bin/env bash
# The main job. Until the machine exists (issue 4) this runs the block
# layer's backend benchmark in quick mode: our io_uring engine against fio on
# the same file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo run --release -p benches -- backend --quick
