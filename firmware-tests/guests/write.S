# Writes sectors to the first hard disk with INT 13h AH=03h and reads them back with AH=02h.
# Three sectors at C/H/S 0/1/1 (LBA 63 on a disk with 63 sectors per track); byte i of the
# n-th sector (n = 0..2) is (i + 3*n) & 0xff XOR 0x5A. The host checks the image afterwards.
# Prints "WRITE OK" (exit 0) or "WRITE FAIL step=x AH=yy" (exit 1). Booted from the floppy.
        .include "prologue.inc"
        # Fill the 1536-byte buffer at 0x1000:0.
        movw $0x1000, %ax
        movw %ax, %es
        xorw %di, %di
        xorw %bx, %bx           # BL = sector number n, used as the per-sector offset 3*n
fill_sector:
        xorw %cx, %cx           # CX = byte index i
1:      movb %cl, %al
        addb %bl, %al
        addb %bl, %al
        addb %bl, %al
        xorb $0x5a, %al
        stosb
        incw %cx
        cmpw $512, %cx
        jb 1b
        incb %bl
        cmpb $3, %bl
        jb fill_sector

        movb $'W', step
        movw $0x0303, %ax       # AH=03h write, AL=3 sectors
        movw $0x0001, %cx       # cylinder 0, sector 1
        movw $0x0180, %dx       # head 1, drive 80h
        xorw %bx, %bx
        int $0x13
        jc fail

        # Clear a second buffer and read the sectors back into it.
        movw $0x2000, %ax
        movw %ax, %es
        xorw %di, %di
        movw $768, %cx
        xorw %ax, %ax
        rep stosw
        movb $'R', step
        movw $0x0203, %ax
        movw $0x0001, %cx
        movw $0x0180, %dx
        xorw %bx, %bx
        int $0x13
        jc fail

        movb $'C', step
        movw $0x1000, %ax
        movw %ax, %ds
        xorw %si, %si
        xorw %di, %di
        movw $768, %cx
        cld
        repe cmpsw
        xorw %ax, %ax
        movw %ax, %ds
        jne fail

        movw $ok, %si
        call puts
        xorb %al, %al
        jmp exit

fail:
        xorw %bx, %bx
        movw %bx, %ds
        pushw %ax
        movw $bad, %si
        call puts
        movb step, %al
        call putc
        movw $bad_ah, %si
        call puts
        popw %ax
        movb %ah, %al
        call puthex8
        movw $nl, %si
        call puts
        movb $1, %al
        jmp exit

        .include "common.inc"

step:   .byte 0
ok:     .asciz "WRITE OK\r\n"
bad:    .asciz "WRITE FAIL step="
bad_ah: .asciz " AH="
nl:     .asciz "\r\n"

        .org 510
        .byte 0x55, 0xaa
