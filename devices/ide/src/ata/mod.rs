//! The ATA command set: dispatch, permissions and the commands that need
//! no data transfer or only one PIO block.

mod rw;

use ironide_dev_platform::DevCtx;

use crate::channel::{Channel, DmaOp, Job};
use crate::drive::Drive;
use crate::identify::{self, Identity, MAX_MULT_SECTORS};
use crate::taskfile::{BSY, DEV_HEAD, DEV_SLAVE, DRDY, DSC};

/// Which device kinds accept a command, and whether it sets DSC.
struct Flags {
    disk: bool,
    cd: bool,
    dsc: bool,
}

const HD: Flags = Flags { disk: true, cd: false, dsc: false };
const HD_DSC: Flags = Flags { disk: true, cd: false, dsc: true };
const CD: Flags = Flags { disk: false, cd: true, dsc: false };
const ALL: Flags = Flags { disk: true, cd: true, dsc: false };
const ALL_DSC: Flags = Flags { disk: true, cd: true, dsc: true };

fn flags(cmd: u8) -> Option<Flags> {
    Some(match cmd {
        0x06 => HD,
        0x08 | 0xA0 | 0xA1 => CD,
        0x10 | 0x91 | 0x40 | 0x41 | 0x42 | 0x70 | 0x27 | 0xF8 | 0x98 | 0xE5 | 0xB0 | 0xC6 | 0xF5 => HD_DSC,
        0x20 | 0x90 | 0xE7 | 0xEC => ALL,
        0xEF => ALL_DSC,
        0x21 | 0x24 | 0x25 | 0x29 | 0x30 | 0x31 | 0x34 | 0x35 | 0x39 | 0x3C => HD,
        0xC4 | 0xC5 | 0xC8 | 0xC9 | 0xCA | 0xCB | 0xEA => HD,
        0x94..=0x97 | 0x99 | 0xE0..=0xE3 | 0xE6 => HD,
        _ => return None,
    })
}

impl Channel {
    pub(crate) fn drive(&self) -> Option<&Drive> {
        self.slots[self.job_unit].drive.as_ref()
    }

    pub(crate) fn drive_mut(&mut self) -> Option<&mut Drive> {
        self.slots[self.job_unit].drive.as_mut()
    }

    fn has_backend(&self) -> bool {
        self.drive().is_some_and(|d| d.backend.is_some())
    }

    /// A command byte written to the selected device.
    pub(crate) fn exec_command(&mut self, cmd: u8, ctx: &mut DevCtx) {
        let u = self.unit;
        // Commands to an absent slave go nowhere.
        if u == 1 && self.slots[1].drive.is_none() {
            return;
        }
        let is_cd = self.slots[u].is_cd();
        // Only DEVICE RESET (to an ATAPI device) interrupts a busy device.
        if self.slots[u].status & (BSY | crate::taskfile::DRQ) != 0 && !(cmd == 0x08 && is_cd) {
            return;
        }
        self.job_unit = u;
        let permitted = flags(cmd).filter(|f| if is_cd { f.cd } else { f.disk });
        let Some(f) = permitted else {
            self.abort();
            self.raise_irq(ctx);
            return;
        };
        self.slots[u].status = DRDY | BSY;
        self.slots[u].error = 0;
        self.pio_pos = 0;
        if self.run_command(cmd, is_cd, ctx) {
            let s = &mut self.slots[u];
            s.status &= !BSY;
            if f.dsc && s.error == 0 {
                s.status |= DSC;
            }
            self.raise_irq(ctx);
        }
    }

    /// Run a permitted command; true when it completed at once (the caller
    /// then raises the interrupt).
    fn run_command(&mut self, cmd: u8, is_cd: bool, ctx: &mut DevCtx) -> bool {
        let u = self.job_unit;
        match cmd {
            0x06 => {
                if self.slots[u].tf.feature == 1 && self.has_backend() {
                    self.slots[u].tf.lba48 = true;
                    return self.cmd_dma(DmaOp::Trim, ctx);
                }
                self.abort();
                true
            }
            0x08 => {
                self.device_reset();
                false
            }
            0x10 | 0x70 | 0x94..=0x97 | 0x99 | 0xE0..=0xE3 | 0xE6 => true,
            0x20 | 0x21 | 0x24 => {
                if is_cd {
                    self.slots[u].tf.set_signature(crate::taskfile::Signature::Atapi);
                }
                self.cmd_read_pio(cmd == 0x24, 1, ctx)
            }
            0xC4 | 0x29 => {
                let mult = self.drive().map_or(0, |d| d.mult_sectors);
                self.cmd_read_pio(cmd == 0x29, mult, ctx)
            }
            0x30 | 0x31 | 0x34 | 0x3C => self.cmd_write_pio(cmd == 0x34, 1, ctx),
            0xC5 | 0x39 => {
                let mult = self.drive().map_or(0, |d| d.mult_sectors);
                self.cmd_write_pio(cmd == 0x39, mult, ctx)
            }
            0xC8 | 0xC9 | 0x25 => self.cmd_rw_dma(DmaOp::Read, cmd == 0x25, ctx),
            0xCA | 0xCB | 0x35 => self.cmd_rw_dma(DmaOp::Write, cmd == 0x35, ctx),
            0x40..=0x42 => {
                self.slots[u].tf.lba48_transform(cmd == 0x42);
                true
            }
            0x27 | 0xF8 => {
                let sectors = self.total_sectors(ctx);
                if sectors == 0 {
                    self.abort();
                    return true;
                }
                self.slots[u].tf.lba48_transform(cmd == 0x27);
                self.set_sector(sectors - 1);
                true
            }
            0x90 => {
                self.diagnose(u);
                // The command leaves device 0 selected.
                self.unit = 0;
                for s in self.slots.iter_mut() {
                    s.tf.select &= !DEV_SLAVE;
                }
                if !is_cd {
                    self.raise_irq(ctx);
                }
                false
            }
            0x91 => {
                let (heads, secs) = {
                    let tf = &self.slots[u].tf;
                    ((tf.select & DEV_HEAD) as u32 + 1, tf.nsector & 0xFF)
                };
                match self.slots[u].drive.as_mut() {
                    Some(d) if d.backend.is_some() => {
                        d.cur_heads = heads;
                        d.cur_secs = secs;
                    }
                    _ => self.abort(),
                }
                true
            }
            0x98 | 0xE5 => {
                self.slots[u].tf.nsector = 0xFF;
                true
            }
            // SECURITY FREEZE LOCK / CFA WEAR LEVEL share the opcode: accepted as a no-op that
            // clears the count (guests such as Windows 8 and hdparm -F send it).
            0xF5 => {
                self.slots[u].tf.nsector = 0;
                true
            }
            0xA0 => self.cmd_packet(ctx),
            0xA1 => {
                self.identify_into_pio(true, ctx);
                false
            }
            0xB0 => self.cmd_smart(ctx),
            0xC6 => {
                let n = self.slots[u].tf.nsector & 0xFF;
                if n != 0 && (n > MAX_MULT_SECTORS || n & (n - 1) != 0) {
                    self.abort();
                } else if let Some(d) = self.drive_mut() {
                    d.mult_sectors = n;
                }
                true
            }
            0xE7 | 0xEA => self.start_flush(ctx),
            0xEC => {
                if !is_cd && self.has_backend() {
                    self.identify_into_pio(false, ctx);
                    return false;
                }
                if is_cd {
                    self.slots[u].tf.set_signature(crate::taskfile::Signature::Atapi);
                }
                self.abort();
                true
            }
            0xEF => self.cmd_set_features(ctx),
            _ => {
                self.abort();
                true
            }
        }
    }

    /// IDENTIFY (PACKET) DEVICE: the data block is ready at once.
    fn identify_into_pio(&mut self, packet: bool, ctx: &mut DevCtx) {
        let sectors = self.total_sectors(ctx);
        let Some(d) = self.drive() else { return };
        let id = Identity { serial: &d.serial, model: &d.model, firmware: &d.firmware, wwn: d.wwn };
        let words = if packet {
            identify::atapi(&id, d.modes)
        } else {
            let write_cache = d.backend.is_some_and(|b| ctx.block.write_cache(b));
            let p = identify::DiskParams {
                cyls: d.cyls,
                heads: d.heads,
                secs: d.secs,
                cur_heads: d.cur_heads,
                cur_secs: d.cur_secs,
                sectors,
                mult_sectors: d.mult_sectors,
                write_cache,
                modes: d.modes,
            };
            identify::disk(&id, &p)
        };
        if self.pio_buf.len() < 512 {
            self.pio_buf.resize(512, 0);
        }
        identify::to_bytes(&words, &mut self.pio_buf[..512]);
        self.slots[self.job_unit].status = DRDY | DSC;
        self.transfer_start(512, false, Job::PioIn);
        self.raise_irq(ctx);
    }

    fn cmd_set_features(&mut self, ctx: &mut DevCtx) -> bool {
        let u = self.job_unit;
        let is_cd = self.slots[u].is_cd();
        if !is_cd && !self.has_backend() {
            self.abort();
            return true;
        }
        let (feature, count) = (self.slots[u].tf.feature, self.slots[u].tf.nsector as u8);
        let backend = self.drive().and_then(|d| d.backend);
        match feature {
            0x02 | 0x82 => {
                if let Some(b) = backend {
                    ctx.block.set_write_cache(b, feature == 0x02);
                }
                // Turning the cache off first writes back what it holds.
                feature == 0x02 || self.start_flush(ctx)
            }
            0xCC | 0x66 | 0xAA | 0x55 | 0x05 | 0x85 | 0x69 | 0x67 | 0x96 | 0x9A | 0x42 | 0xC2 => true,
            0x03 => {
                if !self.drive_mut().is_some_and(|d| d.modes.set_mode(count)) {
                    self.abort();
                }
                true
            }
            _ => {
                self.abort();
                true
            }
        }
    }

    fn cmd_smart(&mut self, ctx: &mut DevCtx) -> bool {
        let u = self.job_unit;
        let tf = self.slots[u].tf.clone();
        let enabled = self.drive().is_some_and(|d| d.smart_enabled);
        if tf.hcyl != 0xC2 || tf.lcyl != 0x4F || (!enabled && tf.feature != 0xD8) {
            self.abort();
            return true;
        }
        match tf.feature {
            0xD8 | 0xD9 => {
                if let Some(d) = self.drive_mut() {
                    d.smart_enabled = tf.feature == 0xD8;
                }
            }
            0xD2 => match tf.sector {
                0x00 | 0xF1 => {
                    if let Some(d) = self.drive_mut() {
                        d.smart_autosave = tf.sector == 0xF1;
                    }
                }
                _ => self.abort(),
            },
            // RETURN STATUS: no threshold exceeded, the signature stays.
            0xDA => {}
            0xD0 | 0xD1 => {
                if self.pio_buf.len() < 512 {
                    self.pio_buf.resize(512, 0);
                }
                let b = &mut self.pio_buf[..512];
                b.fill(0);
                b[0] = 0x01; // structure version
                let sum = b[..511].iter().fold(0u8, |a, &x| a.wrapping_add(x));
                b[511] = 0u8.wrapping_sub(sum);
                self.slots[u].status = DRDY | DSC;
                self.transfer_start(512, false, Job::PioIn);
                self.raise_irq(ctx);
                return false;
            }
            0xD4 if tf.sector <= 2 => {}
            _ => self.abort(),
        }
        true
    }
}
