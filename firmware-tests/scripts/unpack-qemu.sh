#!/usr/bin/env bash
# Unpack Debian bookworm's QEMU 7.2 into a private prefix (default: <workspace>/target/qemu72)
# as the side-by-side baseline. `apt-get install qemu-system-x86` would replace the qemu-utils
# backport on the development machines, so the packages are only downloaded and `dpkg -x`ed.
# Idempotent: does nothing when the binary already runs. Prints the binary's path last.
#
# Run QEMU with:  LD_LIBRARY_PATH=$PREFIX/lib $PREFIX/usr/bin/qemu-system-x86_64 -L $PREFIX/usr/share/qemu ...
# (firmware-tests does that itself when IRONIDE_EMULATOR points at this binary).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ws="$(cd "$here/../.." && pwd)"
prefix="${1:-$ws/target/qemu72}"
bin="$prefix/usr/bin/qemu-system-x86_64"

runs() { LD_LIBRARY_PATH="$prefix/lib" "$bin" --version >/dev/null 2>&1; }
# qemu-system-data's option ROMs (linuxboot_dma.bin for -kernel, kvmvapic.bin): run with -L.
roms() { [ -f "$prefix/usr/share/qemu/linuxboot_dma.bin" ]; }

if [ -x "$bin" ] && runs && roms; then
    echo "$bin"
    exit 0
fi

# Libraries the QEMU binary needs that a build machine usually lacks (found with ldd), and the
# option ROMs that direct Linux boot needs (qemu-system-data).
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data libcapstone4 libfdt1 libslirp0 libvdeplug2)

dl="$prefix/debs"
mkdir -p "$dl" "$prefix/lib"
(
    cd "$dl"
    # apt's sandbox user cannot write into root-owned private directories: harmless warning.
    apt-get download "${PKGS[@]}" >/dev/null 2>&1 || apt-get download "${PKGS[@]}"
)
for deb in "$dl"/*.deb; do
    dpkg -x "$deb" "$prefix"
done

# Gather every shared library from the unpacked packages into one directory for LD_LIBRARY_PATH.
find "$prefix/usr/lib" "$prefix/lib" -maxdepth 3 -name 'lib*.so*' \( -type f -o -type l \) 2>/dev/null |
    while read -r so; do
        # Relative links: the prefix may be moved or copied.
        [ "$(dirname "$so")" = "$prefix/lib" ] || ln -sf "..${so#"$prefix"}" "$prefix/lib/$(basename "$so")"
    done

missing="$(LD_LIBRARY_PATH="$prefix/lib" ldd "$bin" | grep 'not found' || true)"
if [ -n "$missing" ]; then
    echo "unpack-qemu: libraries still missing:" >&2
    echo "$missing" >&2
    exit 1
fi
runs || { echo "unpack-qemu: $bin does not run" >&2; exit 1; }
roms || { echo "unpack-qemu: qemu-system-data's option ROMs are missing" >&2; exit 1; }
echo "$bin"
