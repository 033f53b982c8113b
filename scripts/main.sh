#!/usr/bin/env bash
# The main job: build ironide and boot its built-in demo guest under KVM.
# The demo boots from a virtual floppy, asks SeaBIOS about every drive,
# checksums sectors from the demo floppy, hard disk and CD, prints its report
# and exits 0 when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p ironide
exec target/release/ironide
