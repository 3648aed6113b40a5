//! The memory store under churn: resident memory while millions of short-lived sessions pass
//! through a bounded [`MemoryStore`], and the resident cost of one live session.
//!
//! The `memory_churn` binary runs [`measure_live`] and [`measure_churn`] each in a child
//! process of its own, so that memory one part freed (and malloc kept) cannot hide or inflate
//! the other's, gathers their [`LiveRun`] and [`ChurnRun`] into a [`ChurnResult`], writes it
//! as JSON and prints [`markdown`]. Memory is read from `/proc/self/status` ([`Memory`]).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_core::{
    MemoryLimits, MemoryStore, Timestamp,
    store::{ApplyOutcome, Changeset, CreateOutcome, Record, SessionStore, StoreKey},
};

use crate::driver::Error;

/// How many RSS samples the churn part takes over its run (one every `sessions / SAMPLES`
/// creates: every 100,000 at the default 5,000,000).
pub const SAMPLES: u64 = 50;

/// Every `TRAFFIC_EVERY`-th create of the churn part is followed by a `load` and an `apply`
/// of one key on a session created a little earlier.
pub const TRAFFIC_EVERY: u64 = 10;

/// Lifetime of the live part's sessions: long enough that none expires during the run.
pub const LIVE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Growth of RSS from the moment the store fills to the end of the run, in percent, up to
/// which the verdict calls it flat.
pub const FLAT_TOLERANCE_PCT: f64 = 5.0;

/// Growth over the second half of the run after the fill, in percent, up to which a larger
/// overall growth is called a one-off step rather than a leak.
pub const STEP_TOLERANCE_PCT: f64 = 1.0;

/// `max_bytes` of both parts' stores: large enough that only the entry bound binds.
const GENEROUS_MAX_BYTES: usize = 1 << 40;

/// Resident memory of this process, as `/proc/self/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Resident set size now (`VmRSS`), in bytes.
    pub rss: u64,
    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub hwm: u64,
}

impl Memory {
    /// Reads `/proc/self/status`.
    ///
    /// # Errors
    /// If the file cannot be read (not Linux) or lacks `VmRSS` / `VmHWM`.
    pub fn read() -> Result<Self, Error> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        Self::parse(&status).ok_or_else(|| "no VmRSS / VmHWM line in /proc/self/status".into())
    }

    /// Extracts `VmRSS` and `VmHWM` from the text of a `/proc/<pid>/status` file.
    pub fn parse(status: &str) -> Option<Self> {
        Some(Self {
            rss: status_kb(status, "VmRSS")?.checked_mul(1024)?,
            hwm: status_kb(status, "VmHWM")?.checked_mul(1024)?,
        })
    }
}

/// The value of a `Field:   1234 kB` line of a `/proc/<pid>/status` file, in kB; `None` if
/// there is no such line or it is not in that form.
pub fn status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        (words.next() == Some("kB") && words.next().is_none()).then_some(value)
    })
}

/// A fresh random store key, as the manager derives from a fresh session id.
pub fn fresh_key() -> StoreKey {
    StoreKey::random()
}

/// The record of benchmark session number `i`: `{"user_id": <u64>, "cart": "<38 chars>"}`,
/// created at `now`, expiring `ttl` later, no principal.
pub fn sample_record(i: u64, now: Timestamp, ttl: Duration) -> Record {
    let mut record = Record::new(now, now + ttl, false);
    record
        .data
        .insert("user_id".to_owned(), Value::from(1_000_000 + i).into());
    record
        .data
        .insert("cart".to_owned(), Value::String(cart(i)).into());
    record
}

/// A 38-character cart, e.g. `sku-000042:1,sku-000294:2,sku-000546:1`.
fn cart(i: u64) -> String {
    format!(
        "sku-{:06}:1,sku-{:06}:2,sku-{:06}:1",
        i % 1_000_000,
        i.wrapping_mul(7) % 1_000_000,
        i.wrapping_mul(13) % 1_000_000
    )
}

/// What the live part measured: `sessions` live sessions created in a fresh store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRun {
    /// Live sessions created (all still held at the end).
    pub sessions: u64,
    /// RSS with the runtime up and the empty store created, in bytes.
    pub rss_before: u64,
    /// RSS right after the last create, in bytes.
    pub rss_after: u64,
    /// Peak RSS (`VmHWM`) of the process at the end, in bytes.
    pub hwm: u64,
    /// The store's own byte accounting ([`MemoryStore::bytes`]) at the end.
    pub store_bytes: u64,
    /// Total JSON size of the sessions' `data` maps, in bytes.
    pub data_json_bytes: u64,
    /// Total JSON size of the whole records (data, timestamps, version...), in bytes.
    pub record_json_bytes: u64,
    /// Time taken by the creates, in seconds.
    pub secs: f64,
}

impl LiveRun {
    /// RSS growth per live session, in bytes.
    pub fn rss_per_session(&self) -> f64 {
        per(
            self.rss_after.saturating_sub(self.rss_before),
            self.sessions,
        )
    }

    /// The store's own accounting per session, in bytes.
    pub fn store_bytes_per_session(&self) -> f64 {
        per(self.store_bytes, self.sessions)
    }

    /// JSON of the `data` map per session, in bytes.
    pub fn data_json_per_session(&self) -> f64 {
        per(self.data_json_bytes, self.sessions)
    }

    /// JSON of the whole record per session, in bytes.
    pub fn record_json_per_session(&self) -> f64 {
        per(self.record_json_bytes, self.sessions)
    }

    /// Creates per second.
    pub fn creates_per_sec(&self) -> f64 {
        rate(self.sessions, self.secs)
    }
}

/// The moment the churn store first held `bound` entries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FillPoint {
    /// Sessions created by then.
    pub created: u64,
    /// RSS then, in bytes.
    pub rss: u64,
    /// Seconds since the start of the churn.
    pub secs: f64,
}

/// One sample of the churn part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Sessions created so far.
    pub created: u64,
    /// Entries the store held ([`MemoryStore::len`]).
    pub entries: u64,
    /// The store's own byte accounting ([`MemoryStore::bytes`]).
    pub store_bytes: u64,
    /// RSS, in bytes.
    pub rss: u64,
    /// Seconds since the start of the churn.
    pub secs: f64,
}

/// What the churn part measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnRun {
    /// Sessions created in total.
    pub sessions: u64,
    /// The store's `max_entries`.
    pub bound: u64,
    /// Lifetime of each session at creation, in milliseconds.
    pub ttl_ms: u64,
    /// One `load` + `apply` per this many creates.
    pub traffic_every: u64,
    /// How far back (in creates) the session a `load` + `apply` goes to was created.
    pub traffic_lag: u64,
    /// RSS before the first create (runtime up, empty store), in bytes.
    pub rss_start: u64,
    /// When the store first held `bound` entries; `None` if it never did.
    pub fill: Option<FillPoint>,
    /// Highest RSS over the samples taken after the fill (and the end), in bytes.
    pub max_rss_after_fill: Option<u64>,
    /// RSS after the last create, in bytes.
    pub rss_end: u64,
    /// Peak RSS (`VmHWM`) of the process at the end, in bytes.
    pub hwm: u64,
    /// Most entries the store held, checked after every create.
    pub peak_entries: u64,
    /// Entries held at the end.
    pub end_entries: u64,
    /// `load`s issued.
    pub loads: u64,
    /// `load`s that found the session.
    pub load_hits: u64,
    /// `apply`s that were applied.
    pub applies: u64,
    /// `apply`s that found no live session.
    pub apply_missing: u64,
    /// RSS growth from the fill to the end, in percent of the RSS at the fill.
    pub growth_pct: Option<f64>,
    /// Time taken by the whole churn, in seconds.
    pub secs: f64,
    /// Samples, one every `sessions / SAMPLES` creates.
    pub samples: Vec<Sample>,
}

impl ChurnRun {
    /// Creates per second (the loads and applies included in the time).
    pub fn creates_per_sec(&self) -> f64 {
        rate(self.sessions, self.secs)
    }

    /// RSS retained per session created after the fill: (end − fill) / creates after fill,
    /// in bytes; what a leak would cost per session.
    pub fn retained_per_session(&self) -> Option<f64> {
        let fill = self.fill?;
        let after = self.sessions.saturating_sub(fill.created);
        (after > 0).then(|| (self.rss_end as f64 - fill.rss as f64) / after as f64)
    }

    /// RSS growth over the second half of the post-fill run (from the first sample at or
    /// past the midpoint between the fill and the end), in percent.
    pub fn second_half_growth_pct(&self) -> Option<f64> {
        let fill = self.fill?;
        let mid = fill.created + (self.sessions.saturating_sub(fill.created)) / 2;
        let at_mid = self.samples.iter().find(|s| s.created >= mid)?;
        Some(pct_change(at_mid.rss, self.rss_end))
    }
}

/// Everything the `memory_churn` binary measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnResult {
    /// Bytes per live session (measured first, in its own process).
    pub live: LiveRun,
    /// RSS under churn (measured second, in its own process).
    pub churn: ChurnRun,
    /// Wall time of the whole run, both child processes included, in seconds.
    pub total_secs: f64,
}

/// `(to − from) / from` in percent.
pub fn pct_change(from: u64, to: u64) -> f64 {
    if from == 0 {
        return 0.0;
    }
    (to as f64 - from as f64) / from as f64 * 100.0
}

fn per(total: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { total as f64 / n as f64 }
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn limits(max_entries: u64) -> Result<MemoryLimits, Error> {
    Ok(MemoryLimits {
        max_entries: usize::try_from(max_entries)?,
        max_bytes: GENEROUS_MAX_BYTES,
        sweep_every: Duration::from_secs(1),
    })
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Part 2: RSS of `sessions` live sessions. Creates a fresh store (bound `2 × sessions`),
/// reads RSS, creates the sessions through [`SessionStore::create`], reads RSS again; the
/// JSON sizes are computed afterwards, outside the timed loop. Call it inside a tokio
/// runtime so the store's sweeper runs as in an application.
///
/// # Errors
/// If `/proc/self/status` cannot be read, a create fails or does not insert, or the store
/// does not hold every session at the end.
pub async fn measure_live(sessions: u64) -> Result<LiveRun, Error> {
    if sessions == 0 {
        return Err("--live must be at least 1".into());
    }
    let store = MemoryStore::new(limits(sessions.saturating_mul(2))?);
    let before = Memory::read()?;
    let progress_every = (sessions / 10).max(1);
    let start = Instant::now();
    for i in 0..sessions {
        let key = fresh_key();
        let record = sample_record(i, Timestamp::now(), LIVE_TTL);
        if store.create(&key, &record).await? != CreateOutcome::Created {
            return Err(format!("live: create {i} did not insert (fresh key collided?)").into());
        }
        if (i + 1).is_multiple_of(progress_every) {
            eprintln!(
                "live: {:>10} created, RSS {}",
                group(i + 1),
                mib(Memory::read()?.rss)
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let after = Memory::read()?;
    let held = as_u64(store.len());
    if held != sessions {
        return Err(format!("live: the store holds {held} sessions, expected {sessions}").into());
    }
    let store_bytes = as_u64(store.bytes());
    let (mut data_json_bytes, mut record_json_bytes) = (0, 0);
    let now = Timestamp::now();
    for i in 0..sessions {
        let record = sample_record(i, now, LIVE_TTL);
        data_json_bytes += as_u64(serde_json::to_vec(&record.data)?.len());
        record_json_bytes += as_u64(serde_json::to_vec(&record)?.len());
    }
    drop(store);
    Ok(LiveRun {
        sessions,
        rss_before: before.rss,
        rss_after: after.rss,
        hwm: after.hwm,
        store_bytes,
        data_json_bytes,
        record_json_bytes,
        secs,
    })
}

/// Part 1: `sessions` short-lived sessions (lifetime `ttl`) through a store bounded at
/// `bound` entries. Every [`TRAFFIC_EVERY`]-th create is followed by a `load` and a strict
/// `apply` (one key, deadline moved) of the session created `traffic_lag` creates earlier.
/// The entry count is checked after every create; RSS is read when the store first holds
/// `bound` entries and every `sessions / SAMPLES` creates. Call it inside a tokio runtime
/// so the store's sweeper runs as in an application.
///
/// # Errors
/// Loudly if the store ever holds more than `bound` entries; also if `/proc/self/status`
/// cannot be read, a store call fails, or a fresh key is refused.
pub async fn measure_churn(sessions: u64, bound: u64, ttl: Duration) -> Result<ChurnRun, Error> {
    if sessions == 0 || bound == 0 {
        return Err("--sessions and --bound must be at least 1".into());
    }
    let store = MemoryStore::new(limits(bound)?);
    let traffic_lag = (bound / 10).clamp(1, 1000);
    let mut recent: Vec<Option<StoreKey>> = vec![None; usize::try_from(traffic_lag)?];
    let sample_every = (sessions / SAMPLES).max(1);
    let rss_start = Memory::read()?.rss;
    let mut run = ChurnRun {
        sessions,
        bound,
        ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        traffic_every: TRAFFIC_EVERY,
        traffic_lag,
        rss_start,
        fill: None,
        max_rss_after_fill: None,
        rss_end: 0,
        hwm: 0,
        peak_entries: 0,
        end_entries: 0,
        loads: 0,
        load_hits: 0,
        applies: 0,
        apply_missing: 0,
        growth_pct: None,
        secs: 0.0,
        samples: Vec::with_capacity(usize::try_from(SAMPLES + 1)?),
    };
    let start = Instant::now();
    for i in 0..sessions {
        let now = Timestamp::now();
        let key = fresh_key();
        let record = sample_record(i, now, ttl);
        if store.create(&key, &record).await? != CreateOutcome::Created {
            return Err(format!("churn: create {i} did not insert (fresh key collided?)").into());
        }
        let created = i + 1;
        let slot = usize::try_from(i % traffic_lag)?;
        let earlier = recent[slot].replace(key);
        if created.is_multiple_of(TRAFFIC_EVERY)
            && let Some(earlier) = earlier
        {
            traffic(&store, &earlier, i, now, ttl, &mut run).await?;
        }

        let entries = as_u64(store.len());
        run.peak_entries = run.peak_entries.max(entries);
        if entries > bound {
            return Err(format!(
                "BOUND EXCEEDED: the MemoryStore held {entries} entries after {created} creates; \
                 its max_entries is {bound}"
            )
            .into());
        }
        if run.fill.is_none() && entries >= bound {
            let rss = Memory::read()?.rss;
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "churn: store full ({} entries) after {} creates, RSS {}",
                group(entries),
                group(created),
                mib(rss)
            );
            run.fill = Some(FillPoint { created, rss, secs });
        }
        if created.is_multiple_of(sample_every) || created == sessions {
            let sample = Sample {
                created,
                entries,
                store_bytes: as_u64(store.bytes()),
                rss: Memory::read()?.rss,
                secs: start.elapsed().as_secs_f64(),
            };
            eprintln!(
                "churn: {:>10} created, {:>8} entries, RSS {}, {:.1} s",
                group(created),
                group(entries),
                mib(sample.rss),
                sample.secs
            );
            if run.fill.is_some() {
                let max = run.max_rss_after_fill.unwrap_or(0).max(sample.rss);
                run.max_rss_after_fill = Some(max);
            }
            run.samples.push(sample);
        }
    }
    run.secs = start.elapsed().as_secs_f64();
    let end = Memory::read()?;
    run.rss_end = end.rss;
    run.hwm = end.hwm;
    run.end_entries = as_u64(store.len());
    if run.fill.is_some() {
        run.max_rss_after_fill = Some(run.max_rss_after_fill.unwrap_or(0).max(end.rss));
    }
    run.growth_pct = run.fill.map(|f| pct_change(f.rss, end.rss));
    Ok(run)
}

/// The traffic on an earlier session: a `load`, then an `apply` that rewrites the cart and
/// moves the deadline, with the loaded version as the expected one.
async fn traffic(
    store: &MemoryStore,
    key: &StoreKey,
    i: u64,
    now: Timestamp,
    ttl: Duration,
    run: &mut ChurnRun,
) -> Result<(), Error> {
    run.loads += 1;
    let loaded = store.load(key).await?;
    run.load_hits += u64::from(loaded.is_some());
    let mut changes = Changeset::new(now + ttl);
    changes
        .set
        .insert("cart".to_owned(), Value::String(cart(i)).into());
    match store
        .apply(key, &changes, loaded.map(|r| r.version))
        .await?
    {
        ApplyOutcome::Applied(_) => run.applies += 1,
        ApplyOutcome::Missing => run.apply_missing += 1,
        ApplyOutcome::Conflict => {
            return Err("churn: apply conflicted though nothing else writes".into());
        }
    }
    Ok(())
}

/// `bytes` in MiB with one decimal, e.g. `123.4 MiB`.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// `n` with thousands separators, e.g. `5,000,000`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate rounded to a whole number, with thousands separators.
fn group_rate(rate: f64) -> String {
    group(rate.round() as u64)
}

/// The one-line verdict on the churn, computed from its numbers.
fn verdict(run: &ChurnRun) -> String {
    let (Some(fill), Some(growth)) = (run.fill, run.growth_pct) else {
        return format!(
            "**inconclusive**: the store never reached its bound of {} entries (sessions \
             expired or ran out first: lengthen `--ttl-ms`, raise `--sessions` or lower \
             `--bound`)",
            group(run.bound)
        );
    };
    let peak = pct_change(fill.rss, run.max_rss_after_fill.unwrap_or(run.rss_end));
    let retained = run.retained_per_session().unwrap_or(0.0);
    if growth <= FLAT_TOLERANCE_PCT {
        return format!(
            "**flat**: RSS at the end is {growth:+.1} % of RSS at the fill (tolerance \
             {FLAT_TOLERANCE_PCT} %; highest sample after the fill {peak:+.1} %), i.e. \
             {retained:.2} B retained per session created after the fill: no leak"
        );
    }
    match run.second_half_growth_pct() {
        Some(second) if second <= STEP_TOLERANCE_PCT => format!(
            "**bounded**: RSS rose {growth:+.1} % after the fill but only {second:+.1} % over \
             the second half (tolerance {STEP_TOLERANCE_PCT} %): a one-off step, not a leak"
        ),
        second => format!(
            "**grows**: RSS at the end is {growth:+.1} % above RSS at the fill (second half \
             {}), {retained:.1} B retained per session created after the fill: it leaks",
            second.map_or_else(|| "not sampled".to_owned(), |s| format!("{s:+.1} %"))
        ),
    }
}

/// The markdown section: a table of the key numbers, the verdict, and RSS against sessions
/// created (the fill, then every fifth sample and the last).
pub fn markdown(result: &ChurnResult) -> String {
    let (live, churn) = (&result.live, &result.churn);
    let mut out = String::new();
    let _ = writeln!(out, "## Memory store under churn (`memory_churn`)\n");
    let _ = writeln!(
        out,
        "{} sessions (lifetime {} ms; every {}th create also a `load` + `apply` of the session \
         created {} creates earlier) through a `MemoryStore` bounded at {} entries, and {} \
         live sessions in a fresh store. Data per session: `{{\"user_id\": <u64>, \"cart\": \
         \"<38 chars>\"}}`, no principal. Each part runs in its own process; RSS is `VmRSS` \
         from `/proc/self/status` (glibc malloc, which keeps freed memory for reuse). \
         Whole run: {:.1} s.\n",
        group(churn.sessions),
        churn.ttl_ms,
        churn.traffic_every,
        churn.traffic_lag,
        group(churn.bound),
        group(live.sessions),
        result.total_secs,
    );
    let _ = writeln!(out, "| measure | value |\n|---|---|");
    let mut row = |name: String, value: String| {
        let _ = writeln!(out, "| {name} | {value} |");
    };
    row(
        "churn: RSS before the first create".into(),
        mib(churn.rss_start),
    );
    match churn.fill {
        Some(fill) => row(
            format!(
                "churn: RSS when the store first held {} entries",
                group(churn.bound)
            ),
            format!(
                "{} (after {} creates, {:.1} s)",
                mib(fill.rss),
                group(fill.created),
                fill.secs
            ),
        ),
        None => row("churn: RSS at fill".into(), "never filled".into()),
    }
    row(
        "churn: max RSS sampled after the fill".into(),
        churn.max_rss_after_fill.map_or_else(|| "—".into(), mib),
    );
    row("churn: RSS at the end".into(), mib(churn.rss_end));
    row(
        "churn: growth fill → end".into(),
        match (churn.growth_pct, churn.retained_per_session()) {
            (Some(g), Some(r)) => format!("{g:+.1} % ({r:.2} B per session created after)"),
            (Some(g), None) => format!("{g:+.1} %"),
            _ => "—".into(),
        },
    );
    row("churn: peak RSS (`VmHWM`)".into(), mib(churn.hwm));
    row(
        "churn: peak entry count (checked after every create)".into(),
        format!(
            "{} (bound {})",
            group(churn.peak_entries),
            group(churn.bound)
        ),
    );
    row(
        "churn: loads found / applies applied".into(),
        format!(
            "{} of {} / {} of {}",
            group(churn.load_hits),
            group(churn.loads),
            group(churn.applies),
            group(churn.loads)
        ),
    );
    row(
        "churn: time, creates/s".into(),
        format!(
            "{:.1} s, {}/s",
            churn.secs,
            group_rate(churn.creates_per_sec())
        ),
    );
    row(
        format!("live: RSS before → after {} sessions", group(live.sessions)),
        format!(
            "{} → {} (peak `VmHWM` {})",
            mib(live.rss_before),
            mib(live.rss_after),
            mib(live.hwm)
        ),
    );
    row(
        "live: **RSS per live session**".into(),
        format!("**{:.0} B**", live.rss_per_session()),
    );
    row(
        "live: the store's own accounting (`bytes()`) per session".into(),
        format!("{:.0} B", live.store_bytes_per_session()),
    );
    row(
        "live: JSON of `data` / of the whole record per session".into(),
        format!(
            "{:.0} B / {:.0} B",
            live.data_json_per_session(),
            live.record_json_per_session()
        ),
    );
    row(
        "live: time, creates/s".into(),
        format!(
            "{:.1} s, {}/s",
            live.secs,
            group_rate(live.creates_per_sec())
        ),
    );
    let _ = writeln!(out, "\nVerdict: {}.\n", verdict(churn));
    let _ = writeln!(
        out,
        "RSS against sessions created:\n\n| created | entries | RSS | vs fill |\n|---|---|---|---|"
    );
    let vs_fill = |rss: u64| {
        churn.fill.map_or_else(
            || "—".into(),
            |f| format!("{:+.1} %", pct_change(f.rss, rss)),
        )
    };
    if let Some(fill) = churn.fill {
        let _ = writeln!(
            out,
            "| {} (fill) | {} | {} | — |",
            group(fill.created),
            group(churn.bound),
            mib(fill.rss)
        );
    }
    let last = churn.samples.len().saturating_sub(1);
    for (i, s) in churn.samples.iter().enumerate() {
        if (i + 1).is_multiple_of(5) || i == last {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                group(s.created),
                group(s.entries),
                mib(s.rss),
                vs_fill(s.rss)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tmemory_churn\nUmask:\t0022\nVmPeak:\t  3060 kB\n\
        VmHWM:\t    1728 kB\nVmRSS:\t    1700 kB\nRssAnon:\t     116 kB\nThreads:\t3\n";

    #[test]
    fn proc_status_parser_reads_kb_fields() {
        assert_eq!(status_kb(STATUS, "VmRSS"), Some(1700));
        assert_eq!(status_kb(STATUS, "VmHWM"), Some(1728));
        assert_eq!(status_kb(STATUS, "VmPeak"), Some(3060));
        // Prefixes of other fields and fields without a kB value do not match.
        assert_eq!(status_kb(STATUS, "Rss"), None);
        assert_eq!(status_kb(STATUS, "Threads"), None);
        assert_eq!(status_kb(STATUS, "VmSwap"), None);
        assert_eq!(status_kb("VmRSS:\tlots kB\n", "VmRSS"), None);
        assert_eq!(
            Memory::parse(STATUS),
            Some(Memory {
                rss: 1700 * 1024,
                hwm: 1728 * 1024
            })
        );
        assert_eq!(Memory::parse("VmRSS:\t1 kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let memory = Memory::read().expect("/proc/self/status");
        assert!(memory.rss > 0 && memory.hwm >= memory.rss, "{memory:?}");
    }

    #[test]
    fn sample_records_have_the_promised_shape() {
        let record = sample_record(42, Timestamp::from_millis(1_000), Duration::from_secs(2));
        assert_eq!(record.expires_at, Timestamp::from_millis(3_000));
        assert_eq!(record.data["user_id"], Value::from(1_000_042_u64));
        assert_eq!(
            record.data["cart"]
                .decode::<String>()
                .ok()
                .map(|cart| cart.len()),
            Some(38)
        );
        assert_eq!(fresh_key().as_str().len(), 64);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(5_000_000), "5,000,000");
    }

    const MIB: u64 = 1 << 20;

    fn result(rss: impl Fn(u64) -> u64) -> ChurnResult {
        let samples: Vec<Sample> = (1..=50)
            .map(|k| Sample {
                created: k * 100_000,
                entries: 100_000,
                store_bytes: 20 * MIB,
                rss: rss(k),
                secs: k as f64 * 0.3,
            })
            .collect();
        let fill = FillPoint {
            created: 100_000,
            rss: 100 * MIB,
            secs: 0.3,
        };
        let rss_end = samples.last().map_or(0, |s| s.rss);
        let max = samples.iter().map(|s| s.rss).max();
        ChurnResult {
            live: LiveRun {
                sessions: 1_000_000,
                rss_before: 10 * MIB,
                rss_after: 10 * MIB + 1_000_000_000,
                hwm: 1200 * MIB,
                store_bytes: 200_000_000,
                data_json_bytes: 70_000_000,
                record_json_bytes: 160_000_000,
                secs: 4.0,
            },
            churn: ChurnRun {
                sessions: 5_000_000,
                bound: 100_000,
                ttl_ms: 2000,
                traffic_every: 10,
                traffic_lag: 1000,
                rss_start: 5 * MIB,
                fill: Some(fill),
                max_rss_after_fill: max,
                rss_end,
                hwm: 130 * MIB,
                peak_entries: 100_000,
                end_entries: 100_000,
                loads: 499_900,
                load_hits: 499_900,
                applies: 499_900,
                apply_missing: 0,
                growth_pct: Some(pct_change(fill.rss, rss_end)),
                secs: 15.0,
                samples,
            },
            total_secs: 21.5,
        }
    }

    #[test]
    fn markdown_of_a_flat_run() {
        let md = markdown(&result(|k| 100 * MIB + k * 1024));
        assert!(md.starts_with("## Memory store under churn"), "{md}");
        assert!(md.contains("5,000,000 sessions"), "{md}");
        assert!(md.contains("| churn: RSS at the end | 100.0 MiB |"), "{md}");
        assert!(
            md.contains("| live: **RSS per live session** | **1000 B** |"),
            "{md}"
        );
        assert!(
            md.contains("| live: the store's own accounting (`bytes()`) per session | 200 B |")
        );
        assert!(
            md.contains(
                "| live: JSON of `data` / of the whole record per session | 70 B / 160 B |"
            )
        );
        assert!(md.contains("100,000 (bound 100,000)"), "{md}");
        assert!(
            md.contains("Verdict: **flat**: RSS at the end is +0.0 %"),
            "{md}"
        );
        assert!(md.contains("Whole run: 21.5 s."), "{md}");
        assert!(md.contains("15.0 s, 333,333/s"), "{md}");
        // The fill, then every fifth sample: 11 series rows.
        assert!(
            md.contains("| 100,000 (fill) | 100,000 | 100.0 MiB | — |"),
            "{md}"
        );
        assert!(
            md.contains("| 500,000 | 100,000 | 100.0 MiB | +0.0 % |"),
            "{md}"
        );
        assert!(md.contains("| 5,000,000 | 100,000 |"), "{md}");
        assert!(!md.contains("| 600,000 |"), "{md}");
        let series = md
            .split("| created |")
            .nth(1)
            .map_or(0, |s| s.lines().count());
        assert_eq!(series, 1 + 1 + 1 + 10, "{md}");
    }

    #[test]
    fn markdown_verdict_follows_the_numbers() {
        // 1 MiB more every sample: +49 % by the end, still rising in the second half.
        let grows = markdown(&result(|k| 100 * MIB + (k - 1) * MIB));
        assert!(
            grows.contains("Verdict: **grows**: RSS at the end is +49.0 %"),
            "{grows}"
        );
        assert!(
            grows.contains("| 5,000,000 | 100,000 | 149.0 MiB | +49.0 % |"),
            "{grows}"
        );
        // One 20 % step early on, flat afterwards.
        let step = markdown(&result(|k| if k < 5 { 100 * MIB } else { 120 * MIB }));
        assert!(
            step.contains("Verdict: **bounded**: RSS rose +20.0 %"),
            "{step}"
        );
        // Never filled.
        let mut never = result(|_| 50 * MIB);
        never.churn.fill = None;
        never.churn.growth_pct = None;
        never.churn.max_rss_after_fill = None;
        let never = markdown(&never);
        assert!(never.contains("Verdict: **inconclusive**"), "{never}");
        assert!(never.contains("never filled"), "{never}");
    }

    #[test]
    fn results_round_trip_through_json() {
        let original = result(|k| 100 * MIB + k);
        let json = serde_json::to_string(&original).expect("serialize");
        let back: ChurnResult = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, original);
    }
}
