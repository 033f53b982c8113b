//! QEMU's leaky-bucket meter, expressed as a token bucket in exact fixed
//! point.
//!
//! QEMU keeps a `level` per limit that drains at `avg`/s and refuses a
//! request while `level > max * max_length`. A meter with level L and
//! capacity C is the same thing as a bucket holding `C - L` tokens refilled
//! at the drain rate, which is what we keep. Admission needs every relevant
//! bucket at `tokens >= 0`; the whole cost is then taken, so a bucket may go
//! into debt. With `max_length > 1` a second bucket of capacity `max / 10`
//! refilled at `max` caps the rate of the burst itself.
//!
//! Tokens are counted in *unit-nanoseconds* (one byte or one operation is
//! [`TOKEN_SCALE`] = 1e9 of them), so a bucket refilled at `avg` units/s
//! gains exactly `avg` per elapsed nanosecond: no rounding on refill, no
//! floating-point drift, and `avg / 10` is exact too.

use super::config::{BucketKind, ThrottleConfig};
use super::Direction;

/// Fixed-point scale: tokens per byte / per operation.
pub const TOKEN_SCALE: i128 = 1_000_000_000;

/// Every stored quantity stays within +-CLAMP so that no sum or difference
/// can overflow, whatever (unvalidated) configuration or sizes come in.
const CLAMP: i128 = 1 << 120;

/// The buckets a request of each direction consults and charges.
fn relevant(dir: Direction) -> [BucketKind; 4] {
    use BucketKind::*;
    match dir {
        Direction::Read => [BpsTotal, BpsRead, IopsTotal, IopsRead],
        Direction::Write => [BpsTotal, BpsWrite, IopsTotal, IopsWrite],
    }
}

/// Tokens (unit-ns) with a capacity and refill rate (unit-ns per ns, which
/// is numerically the limit in units/s).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tokens {
    rate: i128,
    capacity: i128,
    tokens: i128,
}

impl Tokens {
    fn full(rate: i128, capacity: i128) -> Self {
        Tokens { rate, capacity, tokens: capacity }
    }

    fn refill(&mut self, dt_ns: i128) {
        let gained = self.rate.saturating_mul(dt_ns).min(CLAMP);
        // Never above capacity: that is QEMU's level flooring at zero.
        self.tokens = (self.tokens + gained).min(self.capacity);
    }

    /// Nanoseconds until tokens are back to >= 0 (rounded up, so after
    /// exactly that long the request is admitted).
    fn wait_ns(&self) -> i128 {
        if self.tokens >= 0 || self.rate <= 0 {
            return 0;
        }
        let deficit = -self.tokens;
        deficit / self.rate + i128::from(deficit % self.rate != 0)
    }

    fn take(&mut self, cost: i128) {
        self.tokens = (self.tokens - cost).max(-CLAMP);
    }
}

/// One enabled limit: its main bucket, the optional burst-rate bucket and
/// the time both were last refilled.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bucket {
    main: Tokens,
    burst: Option<Tokens>,
    last_ns: u64,
}

impl Bucket {
    /// `None` when the limit is not set (avg 0): QEMU ignores such buckets.
    fn new(avg: u64, max: u64, max_length: u64, now_ns: u64) -> Option<Self> {
        if avg == 0 {
            return None;
        }
        let avg_i = i128::from(avg);
        let capacity = if max == 0 {
            // avg/10 units = 100 ms of avg, exact in unit-ns.
            avg_i * (TOKEN_SCALE / 10)
        } else {
            i128::from(max).saturating_mul(i128::from(max_length)).saturating_mul(TOKEN_SCALE).min(CLAMP)
        };
        let burst =
            (max != 0 && max_length > 1).then(|| Tokens::full(i128::from(max), i128::from(max) * (TOKEN_SCALE / 10)));
        Some(Bucket { main: Tokens::full(avg_i, capacity), burst, last_ns: now_ns })
    }

    fn refill(&mut self, now_ns: u64) {
        // A clock that goes backwards just adds nothing.
        if now_ns <= self.last_ns {
            return;
        }
        let dt = i128::from(now_ns - self.last_ns);
        self.last_ns = now_ns;
        self.main.refill(dt);
        if let Some(b) = &mut self.burst {
            b.refill(dt);
        }
    }

    fn wait_ns(&self) -> i128 {
        let burst = self.burst.as_ref().map_or(0, Tokens::wait_ns);
        self.main.wait_ns().max(burst)
    }

    fn take(&mut self, cost: i128) {
        self.main.take(cost);
        if let Some(b) = &mut self.burst {
            b.take(cost);
        }
    }
}

/// The throttling state of one drive or one throttle group: six buckets
/// and the configuration they were built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    cfg: ThrottleConfig,
    buckets: [Option<Bucket>; 6],
}

impl ThrottleState {
    /// Buckets start full (QEMU: levels at zero).
    pub fn new(cfg: ThrottleConfig, now_ns: u64) -> Self {
        let buckets = BucketKind::ALL.map(|k| {
            let l = cfg.limit(k);
            Bucket::new(l.avg, l.max, l.max_length, now_ns)
        });
        ThrottleState { cfg, buckets }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    /// Apply a new configuration. Like QEMU, this resets every bucket to
    /// full: a live change starts from a clean slate.
    pub fn reconfigure(&mut self, cfg: ThrottleConfig, now_ns: u64) {
        *self = ThrottleState::new(cfg, now_ns);
    }

    /// How long a request in `dir` must wait before it may start; 0 means
    /// now. The wait does not depend on the request's size: only the
    /// buckets' balances decide admission, the cost is taken afterwards.
    pub fn wait_ns(&mut self, dir: Direction, now_ns: u64) -> u64 {
        let mut wait = 0i128;
        for k in relevant(dir) {
            if let Some(b) = &mut self.buckets[k as usize] {
                b.refill(now_ns);
                wait = wait.max(b.wait_ns());
            }
        }
        u64::try_from(wait).unwrap_or(u64::MAX)
    }

    /// Charge an admitted request of `bytes` bytes to every bucket of its
    /// direction.
    pub fn account(&mut self, dir: Direction, bytes: u64, now_ns: u64) {
        for k in relevant(dir) {
            let cost = self.cost(k, bytes);
            if let Some(b) = &mut self.buckets[k as usize] {
                b.refill(now_ns);
                b.take(cost);
            }
        }
    }

    /// What a request of `bytes` costs in bucket `k`, in unit-ns: its size
    /// for bps buckets; for iops buckets one operation, or `bytes /
    /// iops_size` operations (fractional, rounded up to the next 1e-9 op)
    /// when `iops_size` is set and smaller than the request.
    pub fn cost(&self, k: BucketKind, bytes: u64) -> i128 {
        let bytes = i128::from(bytes);
        let iops_size = i128::from(self.cfg.iops_size);
        if k.is_bps() {
            bytes * TOKEN_SCALE
        } else if iops_size != 0 && bytes > iops_size {
            let n = bytes * TOKEN_SCALE;
            n / iops_size + i128::from(n % iops_size != 0)
        } else {
            TOKEN_SCALE
        }
    }

    /// Current balance of bucket `k` in unit-ns (negative = debt), as of
    /// its last refill; `None` if that limit is not set.
    pub fn tokens(&self, k: BucketKind) -> Option<i128> {
        self.buckets[k as usize].as_ref().map(|b| b.main.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::Limit;
    use proptest::prelude::*;
    use BucketKind::*;
    use Direction::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn one(k: BucketKind, avg: u64, max: u64, max_length: u64) -> ThrottleConfig {
        let mut c = ThrottleConfig::default();
        *c.limit_mut(k) = Limit { avg, max, max_length };
        c
    }

    #[test]
    fn unlimited_never_waits() {
        let mut s = ThrottleState::new(ThrottleConfig::default(), 0);
        for _ in 0..1000 {
            assert_eq!(s.wait_ns(Read, 0), 0);
            s.account(Read, 1 << 30, 0);
            assert_eq!(s.wait_ns(Write, 0), 0);
            s.account(Write, 1 << 30, 0);
        }
    }

    #[test]
    fn iops_10_exact_deadlines() {
        // Capacity avg/10 = 1 op. QEMU admits while level <= capacity, so
        // two requests pass at t=0 and the third waits exactly 100 ms.
        let mut s = ThrottleState::new(one(IopsTotal, 10, 0, 1), 0);
        assert_eq!(s.wait_ns(Read, 0), 0);
        s.account(Read, 512, 0);
        assert_eq!(s.wait_ns(Write, 0), 0);
        s.account(Write, 512, 0);
        assert_eq!(s.tokens(IopsTotal), Some(-TOKEN_SCALE));
        assert_eq!(s.wait_ns(Read, 0), 100 * MS);
        // One ns early is still too early; on the deadline it is admitted.
        assert_eq!(s.wait_ns(Read, 100 * MS - 1), 1);
        assert_eq!(s.wait_ns(Read, 100 * MS), 0);
        s.account(Read, 512, 100 * MS);
        assert_eq!(s.wait_ns(Read, 100 * MS), 100 * MS);
    }

    #[test]
    fn direction_buckets() {
        let mut c = ThrottleConfig::default();
        c.limit_mut(BpsRead).avg = 1000;
        c.limit_mut(IopsWrite).avg = 10;
        let mut s = ThrottleState::new(c, 0);
        // A read charges bps_rd only; writes never see it.
        s.account(Read, 10_000, 0);
        assert_eq!(s.tokens(BpsRead), Some((100 - 10_000) * TOKEN_SCALE));
        assert_eq!(s.tokens(IopsWrite), Some(TOKEN_SCALE));
        assert_eq!(s.wait_ns(Write, 0), 0);
        // (10000 - 100) bytes at 1000 B/s.
        assert_eq!(s.wait_ns(Read, 0), 9_900 * MS);
        assert_eq!(s.tokens(BpsTotal), None);
    }

    #[test]
    fn iops_size_fractional_cost() {
        let mut c = one(IopsTotal, 100, 0, 1);
        c.iops_size = 4096;
        let s = ThrottleState::new(c.clone(), 0);
        assert_eq!(s.cost(IopsTotal, 65536), 16 * TOKEN_SCALE);
        assert_eq!(s.cost(IopsTotal, 4096), TOKEN_SCALE);
        assert_eq!(s.cost(IopsTotal, 512), TOKEN_SCALE);
        assert_eq!(s.cost(IopsTotal, 6144), 1_500_000_000);
        assert_eq!(s.cost(BpsTotal, 6144), 6144 * TOKEN_SCALE);
        // Rounded up to the next 1e-9 op: 4097/3 is not exact.
        c.iops_size = 3;
        let s = ThrottleState::new(c, 0);
        assert_eq!(s.cost(IopsTotal, 4097), 1_365_666_666_667);
    }

    #[test]
    fn burst_rate_bucket() {
        // avg 100, max 1000 for 5 s: capacity 5000, burst rate bucket 100.
        let mut s = ThrottleState::new(one(BpsWrite, 100, 1000, 5), 0);
        s.account(Write, 100, 0);
        // Main bucket has 4900 left but the burst bucket is at 0: ok.
        assert_eq!(s.wait_ns(Write, 0), 0);
        s.account(Write, 50, 0);
        // Burst bucket at -50 refills at 1000/s: 50 ms.
        assert_eq!(s.wait_ns(Write, 0), 50 * MS);
        assert_eq!(s.wait_ns(Write, 50 * MS), 0);
        // With max_length 1 there is no burst bucket: capacity is max*1.
        let mut s = ThrottleState::new(one(BpsWrite, 100, 1000, 1), 0);
        s.account(Write, 1000, 0);
        assert_eq!(s.wait_ns(Write, 0), 0);
        s.account(Write, 1, 0);
        assert_eq!(s.wait_ns(Write, 0), 10 * MS);
    }

    #[test]
    fn longest_wait_wins_and_refill_caps() {
        let mut c = ThrottleConfig::default();
        c.limit_mut(BpsTotal).avg = 1000; // capacity 100 B
        c.limit_mut(IopsTotal).avg = 1; // capacity 0.1 op
        let mut s = ThrottleState::new(c, 0);
        s.account(Read, 200, 0);
        // bps: 100 B short -> 100 ms; iops: 0.9 op short -> 900 ms.
        assert_eq!(s.wait_ns(Read, 0), 900 * MS);
        // After a long idle period the buckets are merely full.
        assert_eq!(s.wait_ns(Read, 1000 * S), 0);
        assert_eq!(s.tokens(BpsTotal), Some(100 * TOKEN_SCALE));
        assert_eq!(s.tokens(IopsTotal), Some(TOKEN_SCALE / 10));
    }

    #[test]
    fn reconfigure_resets_to_full() {
        let mut s = ThrottleState::new(one(IopsRead, 10, 0, 1), 0);
        for _ in 0..5 {
            s.account(Read, 1, 0);
        }
        assert!(s.wait_ns(Read, 0) > 0);
        s.reconfigure(one(IopsRead, 10, 0, 1), 7);
        assert_eq!(s.wait_ns(Read, 7), 0);
        assert_eq!(s.tokens(IopsRead), Some(TOKEN_SCALE));
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let mut s = ThrottleState::new(one(IopsTotal, 10, 0, 1), 1000 * MS);
        s.account(Read, 1, 1000 * MS);
        s.account(Read, 1, 1000 * MS);
        assert_eq!(s.wait_ns(Read, 5), 100 * MS);
        assert_eq!(s.wait_ns(Read, 1100 * MS), 0);
    }

    #[test]
    fn absurd_values_do_not_panic() {
        let mut c = ThrottleConfig::default();
        for k in BucketKind::ALL {
            *c.limit_mut(k) = Limit { avg: u64::MAX, max: u64::MAX, max_length: u64::MAX };
        }
        c.iops_size = 1;
        let mut s = ThrottleState::new(c.clone(), 0);
        for t in [0, u64::MAX / 2, u64::MAX] {
            s.account(Read, u64::MAX, t);
            s.account(Write, u64::MAX, t);
            let _ = s.wait_ns(Read, t);
        }
        let mut c = one(BpsTotal, 1, 0, 1);
        c.limit_mut(IopsTotal).avg = 1;
        let mut s = ThrottleState::new(c, 0);
        for _ in 0..100 {
            s.account(Write, u64::MAX, 0);
        }
        assert!(s.wait_ns(Write, 0) > 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// The computed wait is exact: one ns earlier is refused, the
        /// deadline itself is admitted.
        #[test]
        fn wait_is_exact(
            avg in 1u64..5_000_000,
            burst in prop::option::of((1u64..4, 2u64..5)),
            iops_size in prop::option::of(1u64..8192),
            reqs in prop::collection::vec((1u64..200_000, 0u64..50 * MS, any::<bool>()), 1..40),
        ) {
            let mut c = ThrottleConfig::default();
            let (max, len) = burst.map_or((0, 1), |(m, l)| (avg * m, l));
            *c.limit_mut(BpsTotal) = Limit { avg, max, max_length: len };
            *c.limit_mut(IopsRead) = Limit { avg: avg % 1000 + 1, max: 0, max_length: 1 };
            c.iops_size = iops_size.unwrap_or(0);
            prop_assert_eq!(c.validate(), Ok(()));
            let mut s = ThrottleState::new(c, 0);
            let mut now = 0u64;
            for (bytes, gap, read) in reqs {
                let dir = if read { Read } else { Write };
                now += gap;
                let w = s.wait_ns(dir, now);
                if w > 0 {
                    let mut early = s.clone();
                    prop_assert_eq!(early.wait_ns(dir, now + w - 1), 1);
                    now += w;
                    prop_assert_eq!(s.wait_ns(dir, now), 0);
                }
                s.account(dir, bytes, now);
            }
        }
    }
}
