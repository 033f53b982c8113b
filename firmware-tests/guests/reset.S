# Reset paths: counts boots in CMOS NVRAM byte 0x40 and prints "BOOT nn".
# Boot 1 leaves markers in RAM at 0x1000 and at 0x107FF0 (above 1 MiB,
# through the A20 gate SeaBIOS leaves open; SeaBIOS itself clears
# 0x7000-0x90000 at POST, so nothing is put there) and resets the machine the way
# the byte at offset 509 says (1: port 0x92 bit 0, 2: i8042 command 0xFE,
# 3: 0xCF9 = 0x06). Boot 2 prints "RAM KEPT" (or "RAM LOST") and exits 0.
# A third boot exits 0x13.
        .include "prologue.inc"
        movw $0x100, %ax
        movw %ax, %es
        movw $0xffff, %ax
        movw %ax, %fs
        movb $0x40, %al
        outb %al, $0x70
        inb $0x71, %al
        incb %al
        movb %al, count
        movb $0x40, %al
        outb %al, $0x70
        movb count, %al
        outb %al, $0x71
        movw $msg, %si
        call puts
        movb count, %al
        call puthex8
        movw $nl, %si
        call puts
        cmpb $1, count
        jne second
        movl $0x4d415221, %es:0
        movl $0x48494748, %fs:0x8000
        movb method, %al
        cmpb $1, %al
        je via_port92
        cmpb $2, %al
        je via_i8042
        movw $0xcf9, %dx
        movb $0x06, %al
        outb %al, %dx
        jmp stop
via_port92:
        inb $0x92, %al
        orb $1, %al
        outb %al, $0x92
        jmp stop
via_i8042:
1:      inb $0x64, %al
        testb $2, %al
        jnz 1b
        movb $0xfe, %al
        outb %al, $0x64
stop:   cli
        hlt
        jmp stop
second:
        cmpb $2, count
        jne too_many
        movw $kept, %si
        cmpl $0x4d415221, %es:0
        jne 1f
        cmpl $0x48494748, %fs:0x8000
        je 2f
1:      movw $lost, %si
2:      call puts
        xorb %al, %al
        jmp exit
too_many:
        movb $0x13, %al
        jmp exit

        .include "common.inc"

count:  .byte 0
msg:    .asciz "BOOT "
nl:     .asciz "\r\n"
kept:   .asciz "RAM KEPT\r\n"
lost:   .asciz "RAM LOST\r\n"

        .org 509
method: .byte 3
        .byte 0x55, 0xaa
