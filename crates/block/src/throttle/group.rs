//! Throttle groups: several drives (members) sharing one [`ThrottleState`].
//!
//! Per group and direction there is one timer (an absolute deadline) and one
//! round-robin token; every member keeps its own FIFO per direction. The
//! timer is armed only when a request is refused, for exactly the computed
//! wait, and is armed if and only if some member has a queued request in
//! that direction. While it is armed nobody may overtake the queue. When it
//! fires, the member whose turn it is gets its head request dispatched and
//! the turn passes to the next member with queued requests, so saturating
//! members are served alternately, one request each.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};

use super::bucket::ThrottleState;
use super::config::ThrottleConfig;
use super::Direction;

/// Identifies one throttled drive (the caller's choice of numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// A queued request: arrival sequence number (to hand requests back in
/// arrival order across directions), size, and the caller's payload.
struct Queued<T> {
    seq: u64,
    bytes: u64,
    item: T,
}

type Queues<T> = [VecDeque<Queued<T>>; 2];

#[derive(Clone, Copy, Debug, Default)]
struct DirSched {
    /// Absolute deadline of this direction's timer, if armed.
    deadline: Option<u64>,
    /// Whose turn it is when the timer fires.
    token: Option<MemberId>,
}

struct Group<T> {
    state: ThrottleState,
    /// BTreeMap: the stable order round robin walks in.
    members: BTreeMap<MemberId, Queues<T>>,
    sched: [DirSched; 2],
}

impl<T> Group<T> {
    fn new(cfg: ThrottleConfig, now_ns: u64) -> Self {
        Group { state: ThrottleState::new(cfg, now_ns), members: BTreeMap::new(), sched: Default::default() }
    }

    fn has_queued(&self, m: MemberId, d: usize) -> bool {
        self.members.get(&m).is_some_and(|q| !q[d].is_empty())
    }

    /// The first member after `after` (wrapping, `after` itself last) with
    /// requests queued in direction `d`. `after` need not be a member.
    fn next_with_queued(&self, d: usize, after: MemberId) -> Option<MemberId> {
        let later = self.members.range((Excluded(after), Unbounded));
        let earlier = self.members.range(..=after);
        later.chain(earlier).find(|(_, q)| !q[d].is_empty()).map(|(m, _)| *m)
    }

    /// Whose head request goes next: the token holder if it has one queued,
    /// else the next member in order that has.
    fn pick(&self, d: usize) -> Option<MemberId> {
        match self.sched[d].token {
            Some(t) if self.has_queued(t, d) => Some(t),
            Some(t) => self.next_with_queued(d, t),
            None => self.members.iter().find(|(_, q)| !q[d].is_empty()).map(|(m, _)| *m),
        }
    }

    /// Arrival number of the request the direction's timer is waiting for.
    fn head_seq(&self, d: usize) -> u64 {
        self.pick(d).and_then(|m| self.members.get(&m)).and_then(|q| q[d].front()).map_or(u64::MAX, |q| q.seq)
    }

    /// Dispatch queued requests of `dir` while the state admits them at
    /// `now_ns`; arm the timer for exactly the wait of the first refused one.
    fn dispatch(&mut self, dir: Direction, now_ns: u64, out: &mut Vec<(MemberId, T)>) {
        let d = dir.index();
        self.sched[d].deadline = None;
        while let Some(m) = self.pick(d) {
            let wait = self.state.wait_ns(dir, now_ns);
            if wait > 0 {
                self.sched[d] = DirSched { deadline: Some(now_ns.saturating_add(wait)), token: Some(m) };
                return;
            }
            let Some(q) = self.members.get_mut(&m).and_then(|q| q[d].pop_front()) else {
                break; // pick() only returns members with a queued request
            };
            self.state.account(dir, q.bytes, now_ns);
            out.push((m, q.item));
            // One request per turn: pass the token on (back to m if nobody
            // else is waiting).
            self.sched[d].token = self.next_with_queued(d, m).or(Some(m));
        }
    }

    /// Take a member out with its queues, keeping the timers consistent:
    /// the wait depends only on the shared state, so an armed deadline stays
    /// valid for whoever is next; with nobody left waiting it is disarmed.
    fn take_member(&mut self, m: MemberId) -> Option<Queues<T>> {
        let queues = self.members.remove(&m)?;
        for d in 0..2 {
            if self.sched[d].token == Some(m) {
                self.sched[d].token = self.next_with_queued(d, m);
            }
            if self.members.values().all(|q| q[d].is_empty()) {
                self.sched[d] = DirSched::default();
            }
        }
        Some(queues)
    }
}

/// Registry of named throttle groups. `T` is the caller's queued request.
pub struct ThrottleGroups<T> {
    groups: BTreeMap<String, Group<T>>,
    member_group: HashMap<MemberId, String>,
    next_seq: u64,
}

impl<T> Default for ThrottleGroups<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Hand queued requests back in arrival order (reads and writes merged).
fn drain_in_order<T>(m: MemberId, queues: Queues<T>, out: &mut Vec<(MemberId, T)>) {
    let mut all: Vec<Queued<T>> = queues.into_iter().flatten().collect();
    all.sort_by_key(|q| q.seq);
    out.extend(all.into_iter().map(|q| (m, q.item)));
}

impl<T> ThrottleGroups<T> {
    pub fn new() -> Self {
        ThrottleGroups { groups: BTreeMap::new(), member_group: HashMap::new(), next_seq: 0 }
    }

    /// Put `member` in group `group` (created if needed) and apply `cfg` to
    /// the whole group: the last configuration applied wins and every bucket
    /// of the group is reset to full. A member coming from another group
    /// brings its queued requests along.
    ///
    /// If `cfg` is not enabled (all averages 0) the member leaves throttling
    /// instead, exactly like [`remove`](Self::remove).
    ///
    /// Returns requests to dispatch now (already accounted where they went
    /// through the throttle): the leaving member's queue when disabling;
    /// otherwise whatever queued requests of the group the new limits admit
    /// at once. The rest are re-timed for the new limits.
    ///
    /// `cfg` should have passed [`ThrottleConfig::validate`]; an invalid one
    /// is applied anyway (arithmetic saturates, nothing panics).
    pub fn set(&mut self, member: MemberId, group: &str, cfg: ThrottleConfig, now_ns: u64) -> Vec<(MemberId, T)> {
        if !cfg.is_enabled() {
            return self.remove(member, now_ns);
        }
        let carried = match self.member_group.get(&member) {
            Some(old) if old != group => {
                let old = old.clone();
                self.leave(member, &old)
            }
            _ => None,
        };
        let g = self.groups.entry(group.to_owned()).or_insert_with(|| Group::new(cfg.clone(), now_ns));
        g.state.reconfigure(cfg, now_ns);
        let queues = g.members.entry(member).or_default();
        if let Some(carried) = carried {
            for (q, c) in queues.iter_mut().zip(carried) {
                q.extend(c);
            }
        }
        self.member_group.insert(member, group.to_owned());
        // Re-time everything queued for the fresh buckets.
        let mut out = Vec::new();
        for dir in Direction::ALL {
            g.dispatch(dir, now_ns, &mut out);
        }
        out
    }

    /// Take `member` out of group `name`, deleting the group if it empties.
    fn leave(&mut self, member: MemberId, name: &str) -> Option<Queues<T>> {
        let g = self.groups.get_mut(name)?;
        let queues = g.take_member(member);
        if g.members.is_empty() {
            self.groups.remove(name);
        }
        queues
    }

    /// Remove a member (drive removed, or throttling disabled): returns its
    /// queued requests, in arrival order, for immediate dispatch. They are
    /// not accounted: they bypass the throttle, as in QEMU when limits are
    /// lifted.
    pub fn remove(&mut self, member: MemberId, now_ns: u64) -> Vec<(MemberId, T)> {
        let _ = now_ns; // the remaining members' deadlines stay valid
        let mut out = Vec::new();
        if let Some(name) = self.member_group.remove(&member) {
            if let Some(queues) = self.leave(member, &name) {
                drain_in_order(member, queues, &mut out);
            }
        }
        out
    }

    /// The member's group name and the group's configuration.
    pub fn group_of(&self, member: MemberId) -> Option<(&str, &ThrottleConfig)> {
        let name = self.member_group.get(&member)?;
        let g = self.groups.get(name)?;
        Some((name.as_str(), g.state.config()))
    }

    pub fn is_throttled(&self, member: MemberId) -> bool {
        self.member_group.contains_key(&member)
    }

    /// Offer a request. Returns `Some(item)` if it may be dispatched right
    /// now (already accounted), `None` if it was queued; queued requests come
    /// back from [`run_timers`](Self::run_timers), [`set`](Self::set) or
    /// [`remove`](Self::remove). Requests of members that are not throttled
    /// pass straight through.
    pub fn submit(&mut self, member: MemberId, dir: Direction, bytes: u64, item: T, now_ns: u64) -> Option<T> {
        let Some(g) = self.member_group.get(&member).and_then(|name| self.groups.get_mut(name)) else {
            return Some(item);
        };
        let d = dir.index();
        let seq = self.next_seq;
        self.next_seq += 1;
        let queued = Queued { seq, bytes, item };
        let Some(queues) = g.members.get_mut(&member) else {
            return Some(queued.item);
        };
        // Own queue non-empty: FIFO. Timer armed: others are waiting and
        // nobody overtakes them, even if the buckets would allow it now.
        if !queues[d].is_empty() || g.sched[d].deadline.is_some() {
            queues[d].push_back(queued);
            if g.sched[d].deadline.is_none() {
                // Unreachable while the invariant holds (queued <=> armed);
                // re-arm rather than strand the queue.
                let wait = g.state.wait_ns(dir, now_ns);
                g.sched[d].deadline = Some(now_ns.saturating_add(wait));
            }
            return None;
        }
        let wait = g.state.wait_ns(dir, now_ns);
        if wait == 0 {
            g.state.account(dir, bytes, now_ns);
            g.sched[d].token = Some(member);
            return Some(queued.item);
        }
        queues[d].push_back(queued);
        // The member that armed the timer is served first when it fires.
        g.sched[d] = DirSched { deadline: Some(now_ns.saturating_add(wait)), token: Some(member) };
        None
    }

    /// Fire every timer whose deadline is `<= now_ns`. Returns the requests
    /// to dispatch now, each already accounted, in admission order (timers
    /// taken in deadline order, ties to the longest-waiting request).
    ///
    /// A fired timer re-checks the buckets before each dispatch: if the
    /// other direction of the group used the shared total buckets since the
    /// timer was armed, nothing is dispatched and the timer is re-armed for
    /// the new exact wait.
    pub fn run_timers(&mut self, now_ns: u64) -> Vec<(MemberId, T)> {
        let mut due: Vec<(u64, u64, String, Direction)> = Vec::new();
        for (name, g) in &self.groups {
            for dir in Direction::ALL {
                if let Some(dl) = g.sched[dir.index()].deadline.filter(|&dl| dl <= now_ns) {
                    due.push((dl, g.head_seq(dir.index()), name.clone(), dir));
                }
            }
        }
        // Equal deadlines are common: a group's read and write timers wait
        // on the same shared total buckets. Serving the older waiting
        // request first keeps one direction from always winning the tie
        // (and the loser, refused, simply re-arms).
        due.sort_by_key(|(dl, seq, ..)| (*dl, *seq));
        let mut out = Vec::new();
        for (_, _, name, dir) in due {
            if let Some(g) = self.groups.get_mut(&name) {
                g.dispatch(dir, now_ns, &mut out);
            }
        }
        out
    }

    /// Earliest armed deadline over all groups and directions (absolute ns).
    pub fn next_deadline(&self) -> Option<u64> {
        self.groups.values().flat_map(|g| g.sched.iter().filter_map(|s| s.deadline)).min()
    }

    /// Number of requests `member` has queued in direction `dir`.
    pub fn queued(&self, member: MemberId, dir: Direction) -> usize {
        self.member_group
            .get(&member)
            .and_then(|name| self.groups.get(name))
            .and_then(|g| g.members.get(&member))
            .map_or(0, |q| q[dir.index()].len())
    }

    /// Test hook: timers armed exactly when something is queued, every
    /// member indexed, no empty group.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        for (name, g) in &self.groups {
            assert!(!g.members.is_empty(), "empty group {name} kept");
            for d in 0..2 {
                let any = g.members.values().any(|q| !q[d].is_empty());
                assert_eq!(any, g.sched[d].deadline.is_some(), "group {name} dir {d}: queued vs armed");
            }
            for m in g.members.keys() {
                assert_eq!(self.member_group.get(m), Some(name));
            }
        }
        assert_eq!(self.member_group.len(), self.groups.values().map(|g| g.members.len()).sum::<usize>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::{BucketKind, Limit};
    use Direction::*;

    const MS: u64 = 1_000_000;
    const A: MemberId = MemberId(1);
    const B: MemberId = MemberId(2);

    fn iops(avg: u64) -> ThrottleConfig {
        let mut c = ThrottleConfig::default();
        c.limit_mut(BucketKind::IopsTotal).avg = avg;
        c
    }

    #[test]
    fn timer_armed_at_exact_deadline() {
        let mut g = ThrottleGroups::new();
        assert!(g.set(A, "g", iops(10), 0).is_empty());
        // Capacity 1 op, admitted while tokens >= 0: two go at once.
        assert_eq!(g.submit(A, Read, 512, 1, 0), Some(1));
        assert_eq!(g.submit(A, Read, 512, 2, 0), Some(2));
        assert_eq!(g.next_deadline(), None);
        assert_eq!(g.submit(A, Read, 512, 3, 0), None);
        assert_eq!(g.next_deadline(), Some(100 * MS));
        assert_eq!(g.submit(A, Read, 512, 4, 0), None);
        assert_eq!(g.queued(A, Read), 2);
        assert!(g.run_timers(100 * MS - 1).is_empty());
        assert_eq!(g.run_timers(100 * MS), vec![(A, 3)]);
        assert_eq!(g.next_deadline(), Some(200 * MS));
        assert_eq!(g.run_timers(200 * MS), vec![(A, 4)]);
        assert_eq!(g.next_deadline(), None);
        g.check_invariants();
    }

    #[test]
    fn armed_timer_means_nobody_overtakes() {
        let mut g = ThrottleGroups::new();
        g.set(A, "g", iops(10), 0);
        g.set(B, "g", iops(10), 0);
        assert_eq!(g.submit(A, Read, 1, 1, 0), Some(1));
        assert_eq!(g.submit(A, Read, 1, 2, 0), Some(2));
        assert_eq!(g.submit(A, Read, 1, 3, 0), None);
        // The owner is late: at 500 ms the buckets would admit B at once,
        // but A has been waiting since 0.
        assert_eq!(g.submit(B, Read, 1, 10, 500 * MS), None);
        assert_eq!(g.run_timers(500 * MS), vec![(A, 3), (B, 10)]);
        // Writes have their own timer and queue (but share the bucket).
        assert_eq!(g.submit(B, Write, 1, 11, 500 * MS), None);
        assert_eq!(g.next_deadline(), Some(600 * MS));
        g.check_invariants();
    }

    #[test]
    fn not_throttled_passes_through() {
        let mut g: ThrottleGroups<u32> = ThrottleGroups::new();
        assert_eq!(g.submit(A, Write, 1 << 20, 7, 0), Some(7));
        assert!(!g.is_throttled(A));
        assert!(g.group_of(A).is_none());
        assert!(g.remove(A, 0).is_empty());
        // Enabling nothing does not create a group.
        assert!(g.set(A, "g", ThrottleConfig::default(), 0).is_empty());
        assert!(!g.is_throttled(A));
        g.check_invariants();
    }

    #[test]
    fn group_of_and_last_config_wins() {
        let mut g: ThrottleGroups<u32> = ThrottleGroups::new();
        g.set(A, "g", iops(10), 0);
        g.set(B, "g", iops(20), 0);
        assert_eq!(g.group_of(A), Some(("g", &iops(20))));
        assert_eq!(g.group_of(B), Some(("g", &iops(20))));
        assert!(g.is_throttled(A));
    }

    #[test]
    fn remove_returns_queue_in_arrival_order() {
        let mut g = ThrottleGroups::new();
        let mut c = iops(1); // capacity 0.1 op: only the first goes at once
        c.limit_mut(BucketKind::BpsTotal).avg = 0;
        g.set(A, "g", c.clone(), 0);
        g.set(B, "g", c, 0);
        assert_eq!(g.submit(A, Read, 1, 0, 0), Some(0));
        assert_eq!(g.submit(A, Read, 1, 1, 0), None);
        assert_eq!(g.submit(A, Write, 1, 2, 0), None);
        assert_eq!(g.submit(B, Read, 1, 3, 0), None);
        assert_eq!(g.submit(A, Read, 1, 4, 0), None);
        assert_eq!(g.remove(A, 1), vec![(A, 1), (A, 2), (A, 4)]);
        assert!(!g.is_throttled(A));
        // B still waits on the read timer; the write timer had only A.
        assert_eq!(g.next_deadline(), Some(900 * MS));
        assert_eq!(g.queued(B, Read), 1);
        g.check_invariants();
        assert_eq!(g.remove(B, 1), vec![(B, 3)]);
        assert_eq!(g.next_deadline(), None);
        g.check_invariants();
    }

    #[test]
    fn moving_member_carries_its_queue() {
        let mut g = ThrottleGroups::new();
        g.set(A, "g1", iops(1), 0);
        g.set(B, "g1", iops(1), 0);
        assert_eq!(g.submit(A, Read, 1, 1, 0), Some(1));
        assert_eq!(g.submit(A, Read, 1, 2, 0), None);
        assert_eq!(g.submit(A, Read, 1, 3, 0), None);
        // To a fresh group at 1 op/s: full buckets (0.1 op) admit one.
        let out = g.set(A, "g2", iops(1), 10 * MS);
        assert_eq!(out, vec![(A, 2)]);
        assert_eq!(g.group_of(A).map(|(n, _)| n), Some("g2"));
        assert_eq!(g.queued(A, Read), 1);
        assert_eq!(g.next_deadline(), Some(910 * MS));
        // g1 keeps B, with nothing queued and no timer.
        assert_eq!(g.group_of(B).map(|(n, _)| n), Some("g1"));
        g.check_invariants();
        // Last member leaving deletes the group.
        g.remove(B, 20 * MS);
        assert!(!g.groups.contains_key("g1"));
        g.check_invariants();
    }

    #[test]
    fn separate_groups_do_not_share_buckets() {
        let mut g = ThrottleGroups::new();
        let mut c = ThrottleConfig::default();
        *c.limit_mut(BucketKind::BpsWrite) = Limit { avg: 1000, max: 0, max_length: 1 };
        g.set(A, "x", c.clone(), 0);
        g.set(B, "y", c, 0);
        assert_eq!(g.submit(A, Write, 1000, 1, 0), Some(1));
        assert_eq!(g.submit(B, Write, 1000, 2, 0), Some(2));
        assert_eq!(g.submit(A, Write, 1000, 3, 0), None);
        assert_eq!(g.submit(B, Write, 1000, 4, 0), None);
        // Each is 900 B short at 1000 B/s.
        assert_eq!(g.next_deadline(), Some(900 * MS));
        assert_eq!(g.run_timers(900 * MS), vec![(A, 3), (B, 4)]);
        g.check_invariants();
    }
}
