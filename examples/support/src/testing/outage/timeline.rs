//! What the load clients saw, checked against when the fault and the repair happened.

use std::time::Duration;

use super::RECOVERY_LIMIT;

/// What one outage run measured.
#[derive(Debug, Clone)]
pub struct Timings {
    /// From sending the fault (the SIGKILL or the first SIGSTOP) to the first 503 answer.
    pub first_503: Duration,
    /// The slowest session request among those started while the store was down, at
    /// least the one-operation bound before the repair (each must fail within it).
    pub max_outage_latency: Duration,
    /// How long the repair took: the restart until the server listened again, or the
    /// SIGCONTs.
    pub repair: Duration,
    /// From the repair to the first 200 of a session request started after it.
    pub first_success: Duration,
    /// Session requests sent, and how many of them were answered 503.
    pub session_requests: (usize, usize),
    /// `/health` requests sent (every one answered 200).
    pub health_requests: usize,
}

/// Which kind of route a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Health,
    Session,
}

/// One answered request; times since the load started.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub route: Route,
    pub what: &'static str,
    pub start: Duration,
    pub end: Duration,
    pub status: u16,
}

impl Sample {
    fn latency(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// When things happened, since the load started. The fault takes effect somewhere between
/// `fault_sent` and `fault_done` (killing waits for the processes to die, freezing for
/// them to be stopped): answers before the first must all succeed, requests started after
/// the second and answered before `repair_sent` must all fail, and either is fine around
/// the fault and after the repair.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeline {
    pub fault_sent: Duration,
    pub fault_done: Duration,
    pub repair_sent: Duration,
    /// The server listens again, or every process got its SIGCONT.
    pub repaired: Duration,
}

/// The longest a session request may take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Started while the store is down, at least this long before the repair: its first
    /// store operation (the load) fails within the bound, and nothing else is tried.
    pub down: Duration,
    /// Any other, such as one started shortly before the repair (its load may succeed
    /// after it, then its save runs): a load and a save.
    pub any: Duration,
}

/// The first successful session request started at or after `since`.
pub(super) fn first_success_after(samples: &[Sample], since: Duration) -> Option<&Sample> {
    samples
        .iter()
        .filter(|s| s.route == Route::Session && s.start >= since && s.status == 200)
        .min_by_key(|s| s.end)
}

/// Checks every sample against the timeline and the bounds, and measures the timings.
pub(super) fn check(samples: &[Sample], t: &Timeline, bounds: Bounds) -> Timings {
    let (health, session): (Vec<&Sample>, Vec<&Sample>) =
        samples.iter().partition(|s| s.route == Route::Health);
    for s in &health {
        assert_eq!(
            s.status, 200,
            "{} at {:?} answered {}",
            s.what, s.start, s.status
        );
    }
    let down = |s: &Sample| s.start >= t.fault_done && s.start < t.repair_sent;
    let deep = |s: &Sample| s.start >= t.fault_done && s.start + bounds.down <= t.repair_sent;
    for s in &session {
        let (phase, allowed): (&str, &[u16]) = if s.end < t.fault_sent {
            ("with the store up", &[200])
        } else if deep(s) || (down(s) && s.end < t.repair_sent) {
            ("with the store down", &[503])
        } else {
            ("around the fault or the repair", &[200, 503])
        };
        assert!(
            allowed.contains(&s.status),
            "{} {phase} (started {:?}, ended {:?}; {t:?}) answered {}, expected one of \
             {allowed:?}",
            s.what,
            s.start,
            s.end,
            s.status
        );
        let bound = if deep(s) { bounds.down } else { bounds.any };
        assert!(
            s.latency() <= bound,
            "{} started at {:?} took {:?}, more than the bound {bound:?} ({t:?})",
            s.what,
            s.start,
            s.latency()
        );
    }
    let first_503 = session
        .iter()
        .filter(|s| s.status == 503)
        .map(|s| s.end)
        .min()
        .unwrap_or_else(|| panic!("no session request answered 503 while the store was down"));
    let max_outage_latency = session
        .iter()
        .filter(|s| deep(s))
        .map(|s| s.latency())
        .max()
        .unwrap_or_default();
    let first_success = first_success_after(samples, t.repaired)
        .map(|s| s.end - t.repaired)
        .unwrap_or_else(|| {
            panic!(
                "no session request succeeded within {RECOVERY_LIMIT:?} of the repair; {}",
                after_repair(&session, t.repaired)
            )
        });
    assert!(
        first_success <= RECOVERY_LIMIT,
        "session routes took {first_success:?} to succeed again after the repair (limit \
         {RECOVERY_LIMIT:?}); {}",
        after_repair(&session, t.repaired)
    );
    Timings {
        first_503: first_503.saturating_sub(t.fault_sent),
        max_outage_latency,
        repair: t.repaired - t.repair_sent,
        first_success,
        session_requests: (
            session.len(),
            session.iter().filter(|s| s.status == 503).count(),
        ),
        health_requests: health.len(),
    }
}

/// The session answers to requests started after `repaired`, per half second of start
/// time: `+0.5s: 3×200 40×503 (max 2.01s)`, for a failure message.
fn after_repair(session: &[&Sample], repaired: Duration) -> String {
    let mut buckets: Vec<(usize, usize, Duration)> = Vec::new();
    for s in session.iter().filter(|s| s.start >= repaired) {
        let i = ((s.start - repaired).as_millis() / 500) as usize;
        if buckets.len() <= i {
            buckets.resize(i + 1, (0, 0, Duration::ZERO));
        }
        let bucket = &mut buckets[i];
        if s.status == 200 {
            bucket.0 += 1;
        } else {
            bucket.1 += 1;
        }
        bucket.2 = bucket.2.max(s.latency());
    }
    let lines: Vec<String> = buckets
        .iter()
        .enumerate()
        .map(|(i, (ok, failed, max))| {
            format!(
                "+{:.1}s: {ok}x200 {failed}x503 (max {max:.2?})",
                i as f64 / 2.0
            )
        })
        .collect();
    format!(
        "session requests started after the repair: {}",
        lines.join(", ")
    )
}
