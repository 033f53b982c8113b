//! Handlers of the individual packet commands. The dispatcher in the
//! parent module has already done the unit-attention, media-change and
//! not-ready checks by the time these run.

use super::dvd::{self, DvdMedium};
use super::sense::{asc, key};
use super::table::Op;
use super::{inquiry, mode, profile, toc, Cdrom, PacketOutcome, SectorFormat};

fn be16(b: &[u8; 12], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8; 12], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Data for the host, cut to the allocation length.
fn reply(mut data: Vec<u8>, alloc: usize) -> PacketOutcome {
    data.truncate(alloc);
    PacketOutcome::DataIn(data)
}

impl Cdrom {
    pub(super) fn dispatch(&mut self, op: Op, cdb: &[u8; 12]) -> PacketOutcome {
        match op {
            // Not-ready conditions were reported by the dispatcher.
            Op::TestUnitReady | Op::SetSpeed => PacketOutcome::Done,
            Op::RequestSense => {
                let data = self.sense.fixed_format();
                self.sense.consumed();
                reply(data.to_vec(), cdb[4].into())
            }
            Op::Inquiry => self.answer(inquiry::inquiry(&self.identity, cdb[1] & 1 != 0, cdb[2], cdb[4]), cdb[4]),
            Op::StartStopUnit => self.start_stop_unit(cdb[4]),
            Op::PreventAllow => {
                self.locked = cdb[4] & 1 != 0;
                PacketOutcome::Done
            }
            Op::ReadCapacity => {
                // The last LBA, 32 bits on the wire (wraps like QEMU's).
                let last = self.total_sectors().wrapping_sub(1) as u32;
                let mut data = last.to_be_bytes().to_vec();
                data.extend_from_slice(&2048u32.to_be_bytes());
                PacketOutcome::DataIn(data)
            }
            Op::Read10 => self.read(u64::from(be32(cdb, 2)), u32::from(be16(cdb, 7)), SectorFormat::User2048),
            Op::Read12 => self.read(u64::from(be32(cdb, 2)), be32(cdb, 6), SectorFormat::User2048),
            Op::Seek10 => {
                if u64::from(be32(cdb, 2)) >= self.total_sectors() {
                    return self.fail(key::ILLEGAL_REQUEST, asc::LOGICAL_BLOCK_OOR);
                }
                PacketOutcome::Done
            }
            Op::ReadToc => self.read_toc(cdb),
            Op::GetConfiguration => {
                let current = profile::current_profile(self.readable_bytes());
                self.answer(profile::get_configuration(be16(cdb, 2), current), be16(cdb, 7))
            }
            Op::GetEventStatus => {
                let medium = self.media_bytes.is_some();
                let r = self.events.poll(cdb[1] & 1 != 0, cdb[4], self.tray_open, medium);
                self.answer(r, be16(cdb, 7))
            }
            Op::ReadDiscInformation => {
                // Types 1 and 2 exist only for Blu-ray.
                if cdb[1] & 7 != 0 {
                    return self.fail(key::ILLEGAL_REQUEST, asc::INV_FIELD_IN_CMD_PACKET);
                }
                let mut data = vec![0u8; 34];
                data[1] = 32;
                data[2] = 0x0e; // last session complete, disc finalized
                data[3] = 1; // first track on disc
                data[4] = 1; // sessions
                data[5] = 1; // first track of last session
                data[6] = 1; // last track of last session
                data[7] = 0x20; // unrestricted use
                reply(data, be16(cdb, 7).into())
            }
            Op::ModeSense10 => {
                let r = mode::sense_page(cdb[2] >> 6, cdb[2] & 0x3f, self.locked);
                self.answer(r, be16(cdb, 7))
            }
            Op::ReadDvdStructure => {
                let medium = DvdMedium {
                    is_cd: profile::current_profile(self.readable_bytes()) == profile::PROFILE_CD_ROM,
                    total_sectors: self.total_sectors(),
                };
                self.answer(dvd::read_structure(cdb, &medium), be16(cdb, 8))
            }
            Op::MechanismStatus => {
                // No changer, no current LBA; one slot. QEMU reports no
                // tray/door state here.
                reply(vec![0, 0, 0, 0, 0, 1, 0, 0], be16(cdb, 8).into())
            }
            Op::ReadCd => self.read_cd(cdb),
        }
    }

    /// The medium size if it can be read (tray closed, at least a sector).
    fn readable_bytes(&self) -> Option<u64> {
        if self.medium_readable() {
            self.media_bytes
        } else {
            None
        }
    }

    /// Turn a builder's result into an outcome: data cut to `alloc`, or
    /// ILLEGAL REQUEST with the given ASC.
    fn answer(&mut self, r: Result<Vec<u8>, u8>, alloc: impl Into<usize>) -> PacketOutcome {
        match r {
            Ok(data) => reply(data, alloc.into()),
            Err(code) => self.fail(key::ILLEGAL_REQUEST, code),
        }
    }

    fn start_stop_unit(&mut self, b4: u8) -> PacketOutcome {
        let start = b4 & 1 != 0;
        let load_eject = b4 & 2 != 0;
        // A power condition: nothing moves.
        if b4 & 0xf0 != 0 || !load_eject {
            return PacketOutcome::Done;
        }
        if !start && !self.tray_open && self.locked {
            let k = if self.media_bytes.is_some() { key::NOT_READY } else { key::ILLEGAL_REQUEST };
            return self.fail(k, asc::MEDIA_REMOVAL_PREVENTED);
        }
        // The guest moving the tray is not a media change: QEMU latches
        // neither a unit attention nor a GESN event for it.
        let open = !start;
        if self.tray_open != open {
            self.tray_open = open;
            self.push_tray_move(open);
        }
        PacketOutcome::Done
    }

    fn read(&mut self, lba: u64, sectors: u32, format: SectorFormat) -> PacketOutcome {
        if sectors == 0 {
            return PacketOutcome::Done;
        }
        // 64-bit arithmetic: a count that would wrap in 32 bits is refused.
        let total = self.total_sectors();
        if lba >= total || lba + u64::from(sectors) > total {
            return self.fail(key::ILLEGAL_REQUEST, asc::LOGICAL_BLOCK_OOR);
        }
        PacketOutcome::Read { lba, sectors, format }
    }

    fn read_toc(&mut self, cdb: &[u8; 12]) -> PacketOutcome {
        let alloc = be16(cdb, 7);
        let msf = cdb[1] & 2 != 0;
        let total = self.total_sectors();
        // The format sits in the top bits of byte 9 (the SFF-8020 place),
        // where QEMU takes it from.
        let data = match cdb[9] >> 6 {
            0 => toc::formatted(total, msf, cdb[6]),
            1 => Some(toc::session_info()),
            2 => Some(toc::raw(total, msf)),
            _ => None,
        };
        self.answer(data.ok_or(asc::INV_FIELD_IN_CMD_PACKET), alloc)
    }

    fn read_cd(&mut self, cdb: &[u8; 12]) -> PacketOutcome {
        let sectors = u32::from_be_bytes([0, cdb[6], cdb[7], cdb[8]]);
        let lba = u64::from(be32(cdb, 2));
        if sectors == 0 {
            return PacketOutcome::Done;
        }
        // Byte 9: sync 0x80, header codes 0x60, user data 0x10, EDC/ECC
        // 0x08. Only "nothing", "user data" and "everything" are supported.
        let format = match cdb[9] & 0xf8 {
            0x00 => return PacketOutcome::Done,
            0x10 => SectorFormat::User2048,
            0xf8 => SectorFormat::Raw2352,
            _ => return self.fail(key::ILLEGAL_REQUEST, asc::INV_FIELD_IN_CMD_PACKET),
        };
        self.read(lba, sectors, format)
    }
}
