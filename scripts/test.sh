#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every test of the
# workspace. Tests that need something the machine lacks (e.g. /dev/kvm,
# qemu-io) skip with a message saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace
cargo test --release --workspace
