//! The node graph: named driver nodes (`file`, `raw`, `fault-inject`), each
//! raw/fault node stacked on one child. A backend's medium is a root node;
//! resolving it walks down to the one file underneath.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::driver::cache::CacheFlags;
use crate::driver::{self, AutoNames, FaultRule, FaultRules, FileNode, FileOptions, LockMode, RawWindow};
use crate::engine::AioMode;
use crate::error::OpenError;

/// Index of a node in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(pub(crate) usize);

/// How to open a node (what blockdev-add or -drive describes).
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// None: an automatic `#blockNNN` name (children and -drive nodes only).
    pub node_name: Option<String>,
    pub read_only: bool,
    /// cache.direct (O_DIRECT) — applies to the file node underneath.
    pub direct: bool,
    /// cache.no-flush: flushes complete at once.
    pub no_flush: bool,
    pub driver: DriverSpec,
}

/// A child given inline or by node name.
#[derive(Clone, Debug)]
pub enum ChildSpec {
    Inline(Box<NodeSpec>),
    Ref(String),
}

/// Driver-specific options.
#[derive(Clone, Debug)]
pub enum DriverSpec {
    File {
        filename: PathBuf,
        aio: AioMode,
        locking: LockMode,
    },
    Raw {
        file: ChildSpec,
        offset: u64,
        size: Option<u64>,
    },
    FaultInject {
        image: ChildSpec,
        rules: Vec<FaultRule>,
    },
    /// QEMU's `null-co`: `size` bytes of nothing; reads return zeros when
    /// `read_zeroes` (else the buffer is left as is), writes vanish.
    Null {
        size: u64,
        read_zeroes: bool,
    },
}

impl NodeSpec {
    /// A plain `file` node.
    pub fn file(filename: impl Into<PathBuf>) -> Self {
        NodeSpec {
            node_name: None,
            read_only: false,
            direct: false,
            no_flush: false,
            driver: DriverSpec::File { filename: filename.into(), aio: AioMode::Auto, locking: LockMode::Auto },
        }
    }

    /// A `raw` node over an inline file node with the same cache options.
    pub fn raw_over_file(
        filename: impl Into<PathBuf>,
        read_only: bool,
        direct: bool,
        no_flush: bool,
        aio: AioMode,
    ) -> Self {
        let mut file = NodeSpec::file(filename);
        file.read_only = read_only;
        file.direct = direct;
        file.no_flush = no_flush;
        if let DriverSpec::File { aio: a, .. } = &mut file.driver {
            *a = aio;
        }
        NodeSpec {
            node_name: None,
            read_only,
            direct,
            no_flush,
            driver: DriverSpec::Raw { file: ChildSpec::Inline(Box::new(file)), offset: 0, size: None },
        }
    }

    pub fn driver_name(&self) -> &'static str {
        match self.driver {
            DriverSpec::File { .. } => "file",
            DriverSpec::Raw { .. } => "raw",
            DriverSpec::FaultInject { .. } => "fault-inject",
            DriverSpec::Null { .. } => "null-co",
        }
    }
}

pub(crate) enum NodeKind {
    File { node: FileNode, aio: AioMode },
    Raw(RawWindow),
    Fault(FaultRules),
    Null { size: u64, read_zeroes: bool },
}

pub(crate) struct Node {
    pub name: String,
    pub auto_named: bool,
    pub kind: NodeKind,
    pub child: Option<NodeId>,
    /// Parents plus backends using this node.
    pub users: u32,
    pub read_only: bool,
    pub direct: bool,
    pub no_flush: bool,
}

impl Node {
    pub fn driver_name(&self) -> &'static str {
        match self.kind {
            NodeKind::File { .. } => "file",
            NodeKind::Raw(_) => "raw",
            NodeKind::Fault(_) => "fault-inject",
            NodeKind::Null { .. } => "null-co",
        }
    }
}

/// What a backend needs from its medium, resolved once at attach time.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// None for `null-co` (no file at all).
    pub file: Option<Arc<File>>,
    pub read_zeroes: bool,
    pub aio: AioMode,
    /// Offset of node byte 0 in the file.
    pub base: u64,
    pub size: u64,
    pub read_only: bool,
    pub direct: bool,
    pub align: usize,
    pub no_flush: bool,
    pub fault_nodes: Vec<NodeId>,
}

/// Public description of a node (query-named-block-nodes, query-block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub node_name: String,
    pub driver: &'static str,
    pub filename: String,
    pub read_only: bool,
    pub virtual_size: u64,
    pub actual_size: u64,
    pub direct: bool,
    pub no_flush: bool,
    pub child: Option<String>,
    pub in_use: bool,
}

#[derive(Default)]
pub(crate) struct NodeGraph {
    nodes: Vec<Option<Node>>,
    by_name: HashMap<String, NodeId>,
    auto: AutoNames,
}

impl NodeGraph {
    pub fn lookup(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0).and_then(|n| n.as_ref())
    }

    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.get_mut(id.0).and_then(|n| n.as_mut())
    }

    /// Open a node (and its inline children). `root` nodes from
    /// blockdev-add must carry a name; -drive passes `root = false`.
    pub fn add(&mut self, spec: &NodeSpec, require_name: bool) -> Result<NodeId, OpenError> {
        let name = match &spec.node_name {
            Some(n) => {
                driver::check_node_name(n)?;
                if self.by_name.contains_key(n) {
                    return Err(OpenError::Invalid(format!("Duplicate nodes with node-name='{n}'")));
                }
                n.clone()
            }
            None if require_name => {
                return Err(OpenError::Invalid("'node-name' must be specified for the root node".into()))
            }
            None => self.auto.next_name(),
        };
        let (kind, child) = match &spec.driver {
            DriverSpec::File { filename, aio, locking } => {
                let opts = FileOptions {
                    filename: filename.clone(),
                    read_only: spec.read_only,
                    // Write-through is done per request by the layer (the
                    // guest can toggle its write cache at run time).
                    cache: CacheFlags { writeback: true, direct: spec.direct, no_flush: spec.no_flush },
                    locking: *locking,
                };
                (NodeKind::File { node: driver::file::open(&opts)?, aio: *aio }, None)
            }
            DriverSpec::Raw { file, offset, size } => {
                let child = self.child(file)?;
                let child_size = self.size(child);
                match RawWindow::new(child_size, *offset, *size) {
                    Ok(w) => (NodeKind::Raw(w), Some(child)),
                    Err(e) => {
                        self.release_child(child);
                        return Err(e);
                    }
                }
            }
            DriverSpec::Null { size, read_zeroes } => (NodeKind::Null { size: *size, read_zeroes: *read_zeroes }, None),
            DriverSpec::FaultInject { image, rules } => {
                let child = self.child(image)?;
                (NodeKind::Fault(FaultRules::new(rules.clone())), Some(child))
            }
        };
        let child_ro = child.and_then(|c| self.get(c)).map(|c| c.read_only).unwrap_or(false);
        let child_cache = child.and_then(|c| self.get(c)).map(|c| (c.direct, c.no_flush));
        let (direct, no_flush) = child_cache.unwrap_or((spec.direct, spec.no_flush));
        let node = Node {
            name: name.clone(),
            auto_named: spec.node_name.is_none(),
            kind,
            child,
            users: 0,
            read_only: spec.read_only || child_ro,
            direct,
            no_flush: no_flush || spec.no_flush,
        };
        let id = match self.nodes.iter().position(|n| n.is_none()) {
            Some(i) => {
                self.nodes[i] = Some(node);
                NodeId(i)
            }
            None => {
                self.nodes.push(Some(node));
                NodeId(self.nodes.len() - 1)
            }
        };
        self.by_name.insert(name, id);
        Ok(id)
    }

    fn child(&mut self, spec: &ChildSpec) -> Result<NodeId, OpenError> {
        let id = match spec {
            ChildSpec::Inline(s) => self.add(s, false)?,
            ChildSpec::Ref(name) => self
                .lookup(name)
                .ok_or_else(|| OpenError::Invalid(format!("Cannot find device='{name}' nor node-name='{name}'")))?,
        };
        if let Some(n) = self.get_mut(id) {
            n.users += 1;
        }
        Ok(id)
    }

    /// Drop one use of `id`; auto-named nodes with no users go away.
    pub fn release_child(&mut self, id: NodeId) {
        let remove = match self.get_mut(id) {
            Some(n) => {
                n.users = n.users.saturating_sub(1);
                n.users == 0 && n.auto_named
            }
            None => false,
        };
        if remove {
            self.remove(id);
        }
    }

    /// Remove a node nobody uses, releasing its child.
    pub fn remove(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(id.0).and_then(|n| n.take()) {
            self.by_name.remove(&node.name);
            if let Some(c) = node.child {
                self.release_child(c);
            }
        }
    }

    /// blockdev-del: only user-named, unused nodes.
    pub fn delete(&mut self, name: &str) -> Result<(), OpenError> {
        let id = self
            .lookup(name)
            .ok_or_else(|| OpenError::Invalid(format!("Failed to find node with node-name='{name}'")))?;
        let users = self.get(id).map(|n| n.users).unwrap_or(0);
        if users > 0 {
            return Err(OpenError::Invalid(format!("Node {name} is in use")));
        }
        self.remove(id);
        Ok(())
    }

    pub fn size(&self, id: NodeId) -> u64 {
        match self.get(id) {
            Some(Node { kind: NodeKind::File { node, .. }, .. }) => node.size,
            Some(Node { kind: NodeKind::Raw(w), .. }) => w.size,
            Some(Node { kind: NodeKind::Fault(_), child: Some(c), .. }) => self.size(*c),
            Some(Node { kind: NodeKind::Null { size, .. }, .. }) => *size,
            _ => 0,
        }
    }

    /// Walk from `root` down to its file.
    pub fn resolve(&self, root: NodeId) -> Option<Resolved> {
        let size = self.size(root);
        let mut base = 0u64;
        let mut read_only = false;
        let mut fault_nodes = Vec::new();
        let mut cur = root;
        loop {
            let node = self.get(cur)?;
            read_only |= node.read_only;
            match &node.kind {
                NodeKind::File { node: f, aio } => {
                    return Some(Resolved {
                        file: Some(f.file.clone()),
                        read_zeroes: false,
                        aio: *aio,
                        base,
                        size,
                        read_only: read_only || f.read_only,
                        direct: f.direct,
                        align: f.align.max(1),
                        no_flush: node.no_flush,
                        fault_nodes,
                    })
                }
                NodeKind::Null { read_zeroes, .. } => {
                    return Some(Resolved {
                        file: None,
                        read_zeroes: *read_zeroes,
                        aio: AioMode::Auto,
                        base,
                        size,
                        read_only,
                        direct: false,
                        align: 1,
                        no_flush: node.no_flush,
                        fault_nodes,
                    })
                }
                NodeKind::Raw(w) => base = base.checked_add(w.offset)?,
                NodeKind::Fault(_) => fault_nodes.push(cur),
            }
            cur = node.child?;
        }
    }

    pub fn info(&self, id: NodeId) -> Option<NodeInfo> {
        let node = self.get(id)?;
        let mut file = id;
        while let Some(n) = self.get(file) {
            match n.child {
                Some(c) => file = c,
                None => break,
            }
        }
        let (filename, actual_size) = match self.get(file).map(|n| &n.kind) {
            Some(NodeKind::File { node, .. }) => (node.filename().display().to_string(), node.actual_size()),
            _ => (String::new(), 0),
        };
        Some(NodeInfo {
            node_name: node.name.clone(),
            driver: node.driver_name(),
            filename,
            read_only: node.read_only,
            virtual_size: self.size(id),
            actual_size,
            direct: node.direct,
            no_flush: node.no_flush,
            child: node.child.and_then(|c| self.get(c)).map(|c| c.name.clone()),
            in_use: node.users > 0,
        })
    }

    pub fn all(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes.iter().enumerate().filter(|(_, n)| n.is_some()).map(|(i, _)| NodeId(i))
    }
}
