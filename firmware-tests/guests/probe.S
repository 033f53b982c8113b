# Asks the BIOS about drives 00h (floppy A) and 80h (first disk) with INT 13h AH=08h and
# prints the registers in hex, one line per drive:
#   "AH08 D=80 CF=0 AX=0000 BX=0000 CX=08BF DX=FE01"
# then "PROBE DONE" and exit 0. Booted from the floppy.
        .include "prologue.inc"
        movb $0x00, %dl
        call ah08
        movb $0x80, %dl
        call ah08
        movw $done, %si
        call puts
        xorb %al, %al
        jmp exit

# INT 13h AH=08h on drive DL; prints the result line.
ah08:
        movb %dl, drive
        xorw %di, %di
        movw %di, %es
        xorw %bx, %bx
        movb $0x08, %ah
        int $0x13
        movw %ax, r_ax
        movw %bx, r_bx
        movw %cx, r_cx
        movw %dx, r_dx
        movb $'0', %al
        jnc 1f
        movb $'1', %al
1:      movb %al, r_cf
        movw $s_head, %si
        call puts
        movb drive, %al
        call puthex8
        movw $s_cf, %si
        call puts
        movb r_cf, %al
        call putc
        movw $s_ax, %si
        call puts
        movw r_ax, %ax
        call puthex16
        movw $s_bx, %si
        call puts
        movw r_bx, %ax
        call puthex16
        movw $s_cx, %si
        call puts
        movw r_cx, %ax
        call puthex16
        movw $s_dx, %si
        call puts
        movw r_dx, %ax
        call puthex16
        movw $nl, %si
        call puts
        ret

        .include "common.inc"

drive:  .byte 0
r_cf:   .byte 0
r_ax:   .word 0
r_bx:   .word 0
r_cx:   .word 0
r_dx:   .word 0
s_head: .asciz "AH08 D="
s_cf:   .asciz " CF="
s_ax:   .asciz " AX="
s_bx:   .asciz " BX="
s_cx:   .asciz " CX="
s_dx:   .asciz " DX="
done:   .asciz "PROBE DONE\r\n"
nl:     .asciz "\r\n"

        .org 510
        .byte 0x55, 0xaa
