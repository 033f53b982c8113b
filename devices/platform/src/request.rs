//! What a platform device can ask of the machine as a whole.

/// A request the machine polls for (`take_request()`) after a port write to
/// a device that can make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineRequest {
    /// A system reset (keyboard controller pulse, port 0x92 bit 0, 0xCF9).
    Reset,
    /// The process should exit with this status (isa-debug-exit).
    Exit(i32),
    /// Pause the vCPU (werror/rerror=stop after a failed request); QMP
    /// `cont` resumes it.
    Stop,
}
