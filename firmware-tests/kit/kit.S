# The guest test kit: a real-mode program that drives the IDE and floppy controllers the way
# an OS driver does (its own IRQ handlers, hlt until the interrupt, bus-master DMA from the
# PCI BAR4, the 8237 for the floppy) and reports `CHECK <name> PASS|FAIL ...` per check on
# COM1, then `KIT-DONE <pass>/<total>` and an isa-debug-exit value (0 = all passed).
#
# It boots from the first hard disk: SeaBIOS loads sector 0 (this boot sector), which loads
# the rest (LBA 1..LOAD_SECTORS) with INT 13h and jumps to it. The host patches the
# parameter block at 0x7DE0 (mode and three dwords, see firmware-tests/src/kit.rs) into the
# image; the mode picks the check family or a benchmark loop.

        .include "prologue.inc"
        .set LOAD_SECTORS, 56           # sectors 2..57 of cylinder 0, head 0: 28 KiB

        movb %dl, boot_drive
        movw $0x0200 + LOAD_SECTORS, %ax
        movw $0x0002, %cx               # cylinder 0, sector 2
        xorb %dh, %dh                   # head 0 (DL = the boot drive)
        xorw %bx, %bx
        movw %bx, %es
        movw $0x7e00, %bx
        int $0x13
        jnc main
        movw $s_loadfail, %si
        call puts
        movb $2, %al
        jmp exit

s_loadfail:     .asciz "KIT-LOAD-FAIL\r\n"
boot_drive:     .byte 0

        .include "common.inc"

        .org 0x1e0
# The parameter block the host patches (little endian).
param_mode:     .long 0                 # 1 ATA, 2 ATAPI, 3 floppy, 4 DMA bench, 5 PIO bench
param1:         .long 0
param2:         .long 0
param3:         .long 0
        .org 510
        .byte 0x55, 0xaa

# ---- sector 1 onwards ----------------------------------------------------------------------
main:
        movw $s_hello, %si
        call puts
        call install_irqs
        movl param_mode, %eax
        cmpl $1, %eax
        je ata_checks
        cmpl $2, %eax
        je atapi_checks
        cmpl $3, %eax
        je fdc_checks
        cmpl $4, %eax
        je dma_bench
        cmpl $5, %eax
        je pio_bench
        movw $s_badmode, %si
        call puts
        movb $2, %al
        jmp exit

check_pci:
        call pci_setup
        jnc 1f
        movw $s_nopci, %si
        xorl %eax, %eax
        xorl %edx, %edx
        ret
1:      movzwl bm_bar, %eax
        movzwl pci_cmd, %edx
        testb $1, %al                   # an I/O BAR
        jz 8f
        cmpw $1, %ax                    # assigned
        je 8f
        testb $4, %dl                   # bus mastering stuck
        jz 8f
        clc
        ret
8:      movw $s_badbar, %si
        stc
        ret

s_hello:        .asciz "KIT-START\r\n"
s_badmode:      .asciz "KIT-BAD-MODE\r\n"
s_nopci:        .asciz "no-8086:7010"
s_badbar:       .asciz "bar4/command"

        .include "lib.inc"
        .include "ata.inc"
        .include "atapi.inc"
        .include "fdc.inc"
        .include "bench.inc"

# (kit.rs refuses a binary larger than LOAD_SECTORS + 1 sectors.)
