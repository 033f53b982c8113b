use super::*;

#[test]
fn channel_register_flip_flop_sets_base_and_current() {
    let mut c = Channel::default();
    c.write_reg(false, false, 0x34);
    c.write_reg(false, true, 0x12);
    assert_eq!((c.base_addr, c.cur_addr), (0x1234, 0x1234));
    assert_eq!(c.read_reg(false, false), 0x34);
    assert_eq!(c.read_reg(false, true), 0x12);
}

#[test]
fn page_wraps_inside_64k_and_128k() {
    let mut c = Channel { cur_addr: 0xFFFF, page: 0x03, ..Default::default() };
    assert_eq!(c.phys_addr(false), 0x3FFFF);
    c.step();
    assert_eq!(c.phys_addr(false), 0x30000);
    let w = Channel { cur_addr: 0xFFFF, page: 0x03, ..Default::default() };
    // Page bit 0 is not used by word channels.
    assert_eq!(w.phys_addr(true), 0x2_0000 + 0x1FFFE);
}

#[test]
fn page_port_map_is_the_pc_one() {
    let map: Vec<_> = (0x80..=0x8F).filter_map(|p| page_port_channel(p).map(|c| (p, c))).collect();
    assert_eq!(map, vec![(0x81, 2), (0x82, 3), (0x83, 1), (0x87, 0), (0x89, 6), (0x8A, 7), (0x8B, 5), (0x8F, 4)]);
    assert!(!decodes(0x80));
    assert!(decodes(0xC0) && decodes(0xDE) && !decodes(0xC1));
}
