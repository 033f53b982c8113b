//! QEMU-exact throttling (being written).
