#!/usr/bin/env bash
# Install what ironide's build, tests and benchmarks need on a fresh Debian 12
# machine. Idempotent and quick when everything is already there.
set -euo pipefail

PKGS=(fio seabios grub-pc-bin grub-common xorriso mtools dosfstools binutils gnuplot-nox qemu-utils)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install-deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    # qemu-utils may come from backports on the development machines: never
    # let apt replace it, only add what is missing.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "install-deps: cargo not found (install Rust with rustup)"; exit 1; }

# The QMP tests drive ironide with QEMU's own Python client too.
if command -v python3 >/dev/null && ! python3 -c 'import qemu.qmp' 2>/dev/null; then
    echo "install-deps: installing the Python QMP client (qemu.qmp)"
    python3 -m pip install -q qemu.qmp || echo "install-deps: pip install qemu.qmp failed; the Python QMP test will be skipped"
fi
