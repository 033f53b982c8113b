//! Where device interrupt levels go: KVM's in-kernel PIC/IOAPIC, or a log
//! the qtest server turns into `IRQ raise/lower` lines.

use std::sync::Arc;

use ironide_dev_platform::{IrqLog, IrqSink};
use kvm_ioctls::VmFd;

/// Forwards level changes to KVM. The in-kernel PIC/IOAPIC see ISA lines
/// as edge-triggered: a low-to-high change is the edge.
pub struct KvmIrq {
    vm: Arc<VmFd>,
    levels: u32,
}

impl KvmIrq {
    pub fn new(vm: Arc<VmFd>) -> Self {
        KvmIrq { vm, levels: 0 }
    }
}

impl IrqSink for KvmIrq {
    fn set_irq(&mut self, line: u32, level: bool) {
        let Some(bit) = 1u32.checked_shl(line) else { return };
        if (self.levels & bit != 0) == level {
            return;
        }
        self.levels ^= bit;
        if let Err(e) = self.vm.set_irq_line(line, level) {
            tracing::warn!("set_irq_line({line}, {level}) failed: {e}");
        }
    }
}

/// The machine's interrupt output.
pub enum IrqOut {
    Kvm(KvmIrq),
    /// qtest: levels and changes recorded; `intercept` says whether the
    /// client asked to see them (irq_intercept_in/out).
    Log {
        log: IrqLog,
        intercept: bool,
    },
}

impl IrqOut {
    pub fn log() -> Self {
        IrqOut::Log { log: IrqLog::default(), intercept: false }
    }

    /// Changes since the last call (only while intercepted).
    pub fn take_changes(&mut self) -> Vec<(u32, bool)> {
        match self {
            IrqOut::Log { log, intercept } => {
                let c = std::mem::take(&mut log.changes);
                if *intercept {
                    c
                } else {
                    Vec::new()
                }
            }
            IrqOut::Kvm(_) => Vec::new(),
        }
    }

    /// Current level of a line (qtest and tests; KVM lines read false).
    pub fn level(&self, line: u32) -> bool {
        match self {
            IrqOut::Log { log, .. } => log.level(line),
            IrqOut::Kvm(k) => 1u32.checked_shl(line).is_some_and(|b| k.levels & b != 0),
        }
    }
}

impl IrqSink for IrqOut {
    fn set_irq(&mut self, line: u32, level: bool) {
        match self {
            IrqOut::Kvm(k) => k.set_irq(line, level),
            IrqOut::Log { log, .. } => log.set_irq(line, level),
        }
    }
}
