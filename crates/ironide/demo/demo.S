# ironide's built-in demo guest (GNU as, AT&T syntax, real mode).
#
# Boots from floppy A, loads the rest of itself with INT 13h, asks the BIOS about every drive
# (floppy A, disk 80h, CD E0h), reads sectors whose contents the host wrote with a known
# pattern, checksums them against values the host patched into `xsum_table`, prints a report
# on COM1 and leaves through isa-debug-exit (0xF4): 0 when every check passed, 1 otherwise.
#
# The expected BIOS answers are those of SeaBIOS for the images `demo.rs` builds: a 1.44M
# floppy, a blank 61440-sector disk (geometry from size 60/16/63, translation none) at ide0
# master and a 300-sector (2048-byte) CD at ide1 master.

        .code16
        .text
        .globl _start

        .set PROG_SECTORS, 16           # sectors loaded after the boot sector (demo.rs agrees)
        .set COM1, 0x3f8
        .set EXIT_PORT, 0xf4
        .set BUF_SEG, 0x1000            # read buffer at 0x10000 (no 64 KiB DMA crossing)

# ---------------------------------------------------------------- boot sector
_start:
        cli
        xorw %ax, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw $0x7c00, %sp
        sti
        ljmp $0, $boot
boot:
        cld
        movb %dl, bootdrv
        movb $3, tries
load:
        # Sectors 2..17 of cylinder 0, head 0 -> 0x7E00.
        xorw %ax, %ax
        movw %ax, %es
        movw $0x7e00, %bx
        movw $0x0200 + PROG_SECTORS, %ax
        movw $0x0002, %cx
        xorb %dh, %dh
        movb bootdrv, %dl
        int $0x13
        jnc main
        xorb %ah, %ah                   # reset the drive and try again
        movb bootdrv, %dl
        int $0x13
        decb tries
        jnz load
        movw $s_loadfail, %si
        call puts
        movb $1, %al
        jmp exit

# Print the NUL-terminated string at DS:SI. Clobbers AX, DX, SI.
puts:
1:      lodsb
        testb %al, %al
        jz 2f
        call putc
        jmp 1b
2:      ret

# Print AL on COM1 once the transmitter holding register is empty. Clobbers DX.
putc:
        pushw %ax
        movw $COM1 + 5, %dx
1:      inb %dx, %al
        testb $0x20, %al
        jz 1b
        popw %ax
        movw $COM1, %dx
        outb %al, %dx
        ret

# Leave with AL as the isa-debug-exit value; halt if there is no such device.
exit:
        outb %al, $EXIT_PORT
1:      cli
        hlt
        jmp 1b

bootdrv:    .byte 0
tries:      .byte 0
s_loadfail: .asciz "ironide demo: loading the program from the floppy failed\r\nRESULT: FAIL\r\n"

        .org 510
        .byte 0x55, 0xaa

# ---------------------------------------------------------------- the program
main:
        movw $s_title, %si
        call puts

        # floppy A: AH=08h -> BL=4 (1.44M), CX=4F12 (max cylinder 79, 18 sectors), DX=0101
        call line_start
        movw $s_fd08, %si
        call puts
        xorw %bx, %bx
        movw $0x0800, %ax
        xorb %dl, %dl
        call int13
        movw $s_bl, %si
        movb r_bx, %al
        call put_kv8
        cmpb $0x04, r_bx
        call expect
        call print_cx_dx
        cmpw $0x4f12, r_cx
        call expect
        cmpw $0x0101, r_dx
        call expect
        movw $s_144, %si
        call puts
        call verdict

        # floppy A: AH=15h -> AH=01 (diskette, no change-line support reported)
        call line_start
        movw $s_fd15, %si
        call puts
        movw $0x15ff, %ax
        xorb %dl, %dl
        call int13
        call print_ah
        cmpb $0x01, r_ax + 1
        call expect
        call verdict

        # floppy A: AH=02h two sectors at C/H/S 1/1/17 (LBA 70-71)
        call line_start
        movw $s_fdread, %si
        call puts
        movw $0x0202, %ax
        movw $0x0111, %cx
        movw $0x0100, %dx
        call chs_read
        movw $1024, %cx
        movl xs_floppy, %ebx
        call check_sum
        call verdict

        # disk 80h: AH=08h -> logical 60/16/63 with the last cylinder kept back: CX=3A3F DX=0F01
        call line_start
        movw $s_hd08, %si
        call puts
        movw $0x0800, %ax
        movb $0x80, %dl
        call int13
        call print_cx_dx
        cmpw $0x3a3f, r_cx
        call expect
        cmpw $0x0f01, r_dx
        call expect
        call verdict

        # disk 80h: AH=15h -> AH=03 (fixed disk), CX:DX = 59*16*63 = 59472 sectors
        call line_start
        movw $s_hd15, %si
        call puts
        movw $0x15ff, %ax
        movb $0x80, %dl
        call int13
        call print_ah
        movw $s_sectors, %si
        call puts
        movw r_cx, %ax
        call puthex16
        movw r_dx, %ax
        call puthex16
        cmpb $0x03, r_ax + 1
        call expect
        cmpw $0, r_cx
        call expect
        cmpw $59472, r_dx
        call expect
        call verdict

        # disk 80h: AH=41h, AH=48h
        movb $0x80, %dl
        movw $s_hd, %si
        call ext_check
        call line_start
        movw $s_hd, %si
        call puts
        movb $0x80, %dl
        call drive_params
        cmpl $61440, edd_sectors
        call expect
        cmpl $0, edd_sectors + 4
        call expect
        cmpw $512, edd_bps
        call expect
        call verdict

        # disk 80h: AH=02h four sectors at C/H/S 5/3/10 (LBA 5238-5241)
        call line_start
        movw $s_hdchs, %si
        call puts
        movw $0x0204, %ax
        movw $0x050a, %cx
        movw $0x0380, %dx
        call chs_read
        movw $2048, %cx
        movl xs_disk_chs, %ebx
        call check_sum
        call verdict

        # disk 80h: AH=42h the last eight sectors (LBA 61432-61439)
        call line_start
        movw $s_hdlba, %si
        call puts
        movl $61432, dap_lba
        movw $8, dap_count
        movb $0x80, %dl
        call lba_read
        movw $4096, %cx
        movl xs_disk_lba, %ebx
        call check_sum
        call verdict

        # CD E0h (SeaBIOS maps ATAPI drives from E0h even when not booted from them):
        # AH=41h, AH=48h (2048-byte sectors; SeaBIOS does not ask the CD its capacity and
        # reports all ones as the sector count), AH=42h two sectors at LBA 16
        movb $0xe0, %dl
        movw $s_cd, %si
        call ext_check
        call line_start
        movw $s_cd, %si
        call puts
        movb $0xe0, %dl
        call drive_params
        cmpl $0xffffffff, edd_sectors
        call expect
        cmpl $0xffffffff, edd_sectors + 4
        call expect
        cmpw $2048, edd_bps
        call expect
        call verdict

        call line_start
        movw $s_cdlba, %si
        call puts
        movl $16, dap_lba
        movw $2, dap_count
        movb $0xe0, %dl
        call lba_read
        movw $4096, %cx
        movl xs_cd, %ebx
        call check_sum
        call verdict

        # The result.
        cmpb $0, failures
        jne 1f
        movw $s_pass, %si
        call puts
        xorb %al, %al
        jmp exit
1:      movw $s_fail, %si
        call puts
        movb failures, %al
        call puthex8
        movw $s_failtail, %si
        call puts
        movb $1, %al
        jmp exit

# ---------------------------------------------------------------- helpers

# INT 13h with the caller's registers; keeps ES and stores AX/BX/CX/DX and CF.
int13:
        pushw %es
        int $0x13
        popw %es
        movw %ax, r_ax
        movw %bx, r_bx
        movw %cx, r_cx
        movw %dx, r_dx
        sbbb %al, %al                   # 0xFF when CF was set
        movb %al, r_cf
        cmpb $0, %al                    # a call that failed fails the line
        call expect
        ret

line_start:
        movb $1, line_ok
        ret

# After a compare: clears the line's verdict unless ZF is set.
expect:
        jz 1f
        movb $0, line_ok
1:      ret

# Ends the line with "... ok" or "... FAIL" and counts failures.
verdict:
        cmpb $0, r_cf
        je 1f
        movw $s_cf, %si
        call puts
        movb r_ax + 1, %al
        call puthex8
1:      movw $s_ok, %si
        cmpb $0, line_ok
        jne 2f
        movw $s_bad, %si
        incb failures
2:      call puts
        ret

print_ah:
        movw $s_ah, %si
        movb r_ax + 1, %al
        # fall through
# Print the string at SI then AL in hex.
put_kv8:
        pushw %ax
        call puts
        popw %ax
        jmp puthex8

print_cx_dx:
        movw $s_cx, %si
        call puts
        movw r_cx, %ax
        call puthex16
        movw $s_dx, %si
        call puts
        movw r_dx, %ax
        jmp puthex16

# AH=41h on drive DL; SI = the line's drive label.
ext_check:
        pushw %dx
        call line_start
        call puts
        movw $s_ext, %si
        call puts
        popw %dx
        movw $0x4100, %ax
        movw $0x55aa, %bx
        call int13
        movw $s_bx, %si
        call puts
        movw r_bx, %ax
        call puthex16
        movw $s_cx, %si
        call puts
        movw r_cx, %ax
        call puthex16
        cmpw $0xaa55, r_bx
        call expect
        testw $1, r_cx                  # bit 0: the packet (AH=42h..) functions
        jz 1f
        call verdict
        ret
1:      movb $0, line_ok
        call verdict
        ret

# AH=48h on drive DL into edd_buf; prints sectors and bytes per sector.
drive_params:
        movw $0x1e, edd_size
        movw $edd_buf, %si
        movw $0x4800, %ax
        call int13
        movw $s_params, %si
        call puts
        movl edd_sectors + 4, %eax
        call puthex32
        movl edd_sectors, %eax
        call puthex32
        movw $s_bps, %si
        call puts
        movw edd_bps, %ax
        call puthex16
        ret

# Fills the read buffer with 0xEE so stale data cannot pass.
clear_buf:
        pushw %es
        pushw %di
        pushw %cx
        pushw %ax
        movw $BUF_SEG, %ax
        movw %ax, %es
        xorw %di, %di
        movw $4096, %cx
        movb $0xee, %al
        rep stosb
        popw %ax
        popw %cx
        popw %di
        popw %es
        ret

# AH=02h with the caller's AX/CX/DX into BUF_SEG:0.
chs_read:
        call clear_buf
        pushw %es
        pushw %ax
        movw $BUF_SEG, %ax
        movw %ax, %es
        popw %ax
        xorw %bx, %bx
        call int13
        popw %es
        ret

# AH=42h on drive DL with the DAP below (count and LBA set by the caller).
lba_read:
        call clear_buf
        movw $0, dap_off
        movw $BUF_SEG, dap_seg
        movw $dap, %si
        movw $0x4200, %ax
        call int13
        ret

# Checksums CX bytes at BUF_SEG:0, prints it, compares with EBX.
# The sum: a += byte, b += a (16 bits each), result b << 16 | a (demo.rs computes the same).
check_sum:
        pushw %es
        pushl %ebx
        movw $BUF_SEG, %ax
        movw %ax, %es
        xorw %si, %si
        xorw %ax, %ax
        xorw %dx, %dx
        xorw %bx, %bx
1:      movb %es:(%si), %bl
        addw %bx, %ax
        addw %ax, %dx
        incw %si
        loop 1b
        shll $16, %edx
        movzwl %ax, %eax
        orl %edx, %eax
        popl %ebx
        popw %es
        pushl %eax
        movw $s_sum, %si
        call puts
        popl %eax
        call puthex32
        cmpl %ebx, %eax
        call expect
        ret

puthex32:
        pushl %eax
        shrl $16, %eax
        call puthex16
        popl %eax
        # fall through
puthex16:
        pushw %ax
        movb %ah, %al
        call puthex8
        popw %ax
        # fall through
puthex8:
        pushw %ax
        shrb $4, %al
        call puthexdigit
        popw %ax
        pushw %ax
        call puthexdigit
        popw %ax
        ret
puthexdigit:
        andb $0x0f, %al
        addb $'0', %al
        cmpb $'9', %al
        jbe 1f
        addb $'A' - '0' - 10, %al
1:      jmp putc

# ---------------------------------------------------------------- data

# Patched by demo.rs (build_images): the checksums of the pattern it wrote.
        .balign 4
xsum_table:  .ascii "XSUMTBL1"
xs_floppy:   .long 0
xs_disk_chs: .long 0
xs_disk_lba: .long 0
xs_cd:       .long 0

        .balign 4
dap:        .byte 0x10, 0
dap_count:  .word 0
dap_off:    .word 0
dap_seg:    .word 0
dap_lba:    .long 0, 0

        .balign 4
edd_buf:
edd_size:    .word 0
edd_flags:   .word 0
edd_cyls:    .long 0
edd_heads:   .long 0
edd_spt:     .long 0
edd_sectors: .long 0, 0
edd_bps:     .word 0
edd_dpte:    .long 0
             .space 16

r_ax:       .word 0
r_bx:       .word 0
r_cx:       .word 0
r_dx:       .word 0
r_cf:       .byte 0
line_ok:    .byte 0
failures:   .byte 0

s_title:    .asciz "ironide demo: INT 13h on every drive, sector reads with checksums\r\n"
s_fd08:     .asciz " floppy A: AH=08h"
s_144:      .asciz " (1.44M)"
s_fd15:     .asciz " floppy A: AH=15h"
s_fdread:   .asciz " floppy A: AH=02h C/H/S 1/1/17 x2"
s_hd08:     .asciz " disk 80h: AH=08h"
s_hd15:     .asciz " disk 80h: AH=15h"
s_hd:       .asciz " disk 80h:"
s_hdchs:    .asciz " disk 80h: AH=02h C/H/S 5/3/10 x4"
s_hdlba:    .asciz " disk 80h: AH=42h LBA 61432 x8"
s_cd:       .asciz " cd E0h:"
s_cdlba:    .asciz " cd E0h: AH=42h LBA 16 x2"
s_ext:      .asciz " AH=41h"
s_params:   .asciz " AH=48h sectors="
s_bps:      .asciz " bytes/sector="
s_sectors:  .asciz " sectors="
s_sum:      .asciz " sum="
s_ah:       .asciz " AH="
s_bl:       .asciz " BL="
s_bx:       .asciz " BX="
s_cx:       .asciz " CX="
s_dx:       .asciz " DX="
s_cf:       .asciz " CF=1 AH="
s_ok:       .asciz " ... ok\r\n"
s_bad:      .asciz " ... FAIL\r\n"
s_pass:     .asciz "RESULT: PASS\r\n"
s_fail:     .asciz "RESULT: FAIL ("
s_failtail: .asciz " checks failed)\r\n"
