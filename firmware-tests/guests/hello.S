# Boot marker: prints "BOOT OK DL=xx" (the boot drive the BIOS handed over) and exits 0.
        .include "prologue.inc"
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
