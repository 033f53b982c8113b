# Boot marker: prints "BOOT OK DL=xx" (the boot drive the BIOS handed over) and exits 0.
        .code16
        .text
        .globl _start
_start:
        ljmp $0, $start
start:
        xorw %ax, %ax
        movw %ax, %ds
        movw %ax, %ss
        movw $0x7c00, %sp
        movb %dl, bootdrv
        movw $msg, %si
        call puts
        movb bootdrv, %al
        call puthex8
        movw $nl, %si
        call puts
        xorb %al, %al
        jmp exit

        .include "common.inc"

bootdrv: .byte 0
msg:    .asciz "BOOT OK DL="
nl:     .asciz "\r\n"

        .org 510
        .byte 0x55, 0xaa
