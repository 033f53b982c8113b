#!/bin/sh
# /init of the Linux guest (firmware-tests/src/linux.rs packs it with busybox, the storage
# modules, hdparm and eject). It exercises the IDE disk, the ATAPI CD-ROM and the floppy and
# prints one `CHECK <name> PASS|FAIL <detail>` line per check on the console (ttyS0), then
# IRONIDE-LINUX-DONE, then resets (under -no-reboot the emulator exits).
#
# Expected values come on the kernel command line as ironide.<key>=<value> (the kernel keeps
# dotted parameters for modules, so they reach neither init's environment nor its arguments):
#   sda=SKIP,COUNT,SHA256   64 KiB blocks of the disk's pattern area and their hash
#   sr0=SHA256              the whole CD device (the ISO image)
#   iso=SHA256              /data.bin on the CD, read through isofs
#   fd0=SHA256              the whole 1.44M floppy
#   wseek=BLOCK             the 64 KiB block the write check overwrites with /write.bin

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /mnt
echo IRONIDE-LINUX-INIT

fails=0
check() { # NAME STATUS DETAIL...
    name=$1 status=$2
    shift 2
    if [ "$status" = 0 ]; then
        echo "CHECK $name PASS $*"
    else
        echo "CHECK $name FAIL $*"
        fails=$((fails + 1))
    fi
}
arg() { # the value of ironide.KEY
    for word in $(cat /proc/cmdline); do
        case "$word" in ironide."$1"=*) echo "${word#*=}" ;; esac
    done
}
sha() { sha256sum | cut -d' ' -f1; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

# Modules in dependency order (the host resolved modinfo's depends= lines).
failed=
for m in $(cat /etc/modules); do
    insmod "/lib/modules/$m.ko" || failed="$failed $m"
done
check modules "$([ -z "$failed" ]; echo $?)" "loaded $(wc -l < /etc/modules) failed=[${failed# }]"

# Block devices appear through devtmpfs once the drivers have probed.
i=0
while [ $i -lt 300 ]; do
    [ -b /dev/sda ] && [ -b /dev/sr0 ] && [ -b /dev/fd0 ] && break
    sleep 0.1
    i=$((i + 1))
done
for d in sda sr0 fd0; do
    check "dev-$d" "$([ -b /dev/$d ]; echo $?)" "/dev/$d after $((i / 10)).$((i % 10)) s"
done

# IDENTIFY DEVICE through the SCSI-ATA translation (ATA PASS-THROUGH).
hdparm -I /dev/sda > /tmp/hdparm.txt 2>&1
st=$?
model=$(sed -n 's/^[[:space:]]*Model Number:[[:space:]]*//p' /tmp/hdparm.txt | sed 's/[[:space:]]*$//')
serial=$(sed -n 's/^[[:space:]]*Serial Number:[[:space:]]*//p' /tmp/hdparm.txt | sed 's/[[:space:]]*$//')
grep -E 'Model Number|Serial Number|Firmware Revision|LBA48|device size with M = 1024' /tmp/hdparm.txt |
    sed 's/^[[:space:]]*/HDPARM /'
check hdparm "$([ $st = 0 ] && [ -n "$model" ] && [ -n "$serial" ]; echo $?)" "model=$model serial=$serial"

# O_DIRECT reads of the disk's pattern area (bus-master DMA, no page cache).
spec=$(arg sda)
skip=${spec%%,*} rest=${spec#*,}
count=${rest%%,*} want=${rest#*,}
got=$(dd if=/dev/sda iflag=direct bs=64k skip="$skip" count="$count" 2>/dev/null | sha)
check sda-direct "$(same "$got" "$want"; echo $?)" "skip=$skip count=$count sha256=$got"

# The CD: the whole device, then a file through isofs.
got=$(sha < /dev/sr0)
check sr0-read "$(same "$got" "$(arg sr0)"; echo $?)" "sha256=$got"
mount -t iso9660 -o ro /dev/sr0 /mnt
st=$?
got=$(sha < /mnt/data.bin)
check sr0-isofs "$([ $st = 0 ] && same "$got" "$(arg iso)"; echo $?)" "sha256=$got"
umount /mnt

# START STOP UNIT with LoEj (the drive's tray opens).
eject /dev/sr0
check eject "$?" "eject /dev/sr0"

# The floppy through the FDC and ISA DMA.
got=$(sha < /dev/fd0)
check fd0-read "$(same "$got" "$(arg fd0)"; echo $?)" "sha256=$got"

# A direct write, read back direct; the host finds the block in the image afterwards.
seek=$(arg wseek)
dd if=/write.bin of=/dev/sda bs=64k seek="$seek" count=1 oflag=direct conv=notrunc,fsync 2>/dev/null
st=$?
got=$(dd if=/dev/sda iflag=direct bs=64k skip="$seek" count=1 2>/dev/null | sha)
check sda-write "$([ $st = 0 ] && same "$got" "$(sha < /write.bin)"; echo $?)" "block=$seek sha256=$got"

# The kernel's side of any failure (quiet keeps it off the console until now).
[ $fails = 0 ] || dmesg | tail -n 80 | sed 's/^/DMESG /'
echo "IRONIDE-LINUX-DONE fails=$fails"
sync
reboot -f
