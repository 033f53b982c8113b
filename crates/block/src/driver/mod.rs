//! Node drivers: `file`, `raw` and `fault-inject`.
//!
//! QEMU builds a graph of nodes; ironide supports the shapes that matter for
//! guest disks and resolves each backend to one flat chain:
//!
//! * one [`FileNode`] (the `file` driver: an open fd, its size, O_DIRECT
//!   alignment and image lock);
//! * one [`RawWindow`] on top of it (the `raw` format driver's optional
//!   `offset`/`size`; the identity window when the backend is `driver=file`
//!   directly);
//! * optional [`FaultRules`] (the `fault-inject` driver, ironide's blkdebug)
//!   consulted before each request reaches the engine.
//!
//! Node names follow QEMU's rules ([`check_node_name`]); nodes created by
//! `-drive` get automatic `#blockNNN` names ([`AutoNames`]).

pub mod cache;
pub mod fault;
pub mod file;
pub mod lock;
pub mod name;
pub mod raw;

pub use cache::{CacheFlags, CacheMode};
pub use fault::{parse_errno, FaultAction, FaultRule, FaultRules};
pub use file::{FileNode, FileOptions};
pub use lock::{ImageLock, LockMode, LockRequest, Perms};
pub use name::{check_node_name, AutoNames};
pub use raw::RawWindow;
