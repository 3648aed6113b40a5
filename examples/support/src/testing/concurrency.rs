//! Many concurrent requests on one session, against any store, through the real binary:
//!
//! - [`REQUESTS`] racing writes of different keys all survive (per-key `apply`);
//! - strict mode (`SESSION_STRICT=1`): racing writes of one key end in typed conflicts
//!   (409) for some, and nothing is lost silently: the final value is one whose request
//!   was answered 200 (a 409 request wrote nothing), and racing increments of the counter
//!   end at exactly the number of 200 answers, which saw consecutive values;
//! - a logout racing writes never resurrects the session: afterwards its cookie reads
//!   nothing, and the store holds no record for it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use session_core::{CookieMode, Key, store::SessionStore, test_suite::CookieCodec};
use tokio::sync::Barrier;

use super::{COOKIE_NAME, Client, Server, test_key};
use crate::StoreUrl;

/// Concurrent requests per race.
pub const REQUESTS: usize = 200;
/// Strict-mode races of one key tried until one produces a conflict.
const STRICT_ROUNDS: usize = 5;
/// Reads checking a race's outcome run this many at a time (the race is the test, not the
/// check).
const CHECK_BATCH: usize = 20;
/// The store timeout given to the app (`SESSION_STORE_TIMEOUT_MS`, Redis only): this test
/// is about correctness under contention, so a slow, loaded machine must not turn a read
/// into a 503.
const STORE_TIMEOUT_MS: &str = "15000";
/// Bound on one store's whole run.
pub const TIME_LIMIT: Duration = Duration::from_secs(28);

/// What one store's run saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// Keys found after the per-key race (of [`REQUESTS`]).
    pub keys_present: usize,
    /// Strict same-key races: rounds run, 409 answers, 200 answers.
    pub same_key: (usize, usize, usize),
    /// Strict counter race: 200 answers (= increments kept), 409 answers.
    pub counter: (usize, usize),
    /// Writes racing the logout that were answered 200.
    pub racing_writes_ok: usize,
    /// Whether the store itself was inspected after the logout (not for `memory:`).
    pub store_checked: bool,
    /// The whole run.
    pub elapsed: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rounds, conflicts, oks) = self.same_key;
        write!(
            f,
            "{}/{REQUESTS} keys present; strict same key: {conflicts} conflicts (409), {oks} ok \
             in {rounds} round(s); strict counter: {} ok = final count, {} conflicts; \
             logout vs {} writes ({} ok): session gone{}; {:.2?}",
            self.keys_present,
            self.counter.0,
            self.counter.1,
            REQUESTS / 2,
            self.racing_writes_ok,
            if self.store_checked {
                " (store checked)"
            } else {
                " (checked over HTTP)"
            },
            self.elapsed
        )
    }
}

/// Runs every scenario for `bin` on `store_url`: one process in the default (merge)
/// policy, one in strict mode. `unreachable` says how to provide the service; it is shown
/// when a process cannot start. Panics on any violation, or after [`TIME_LIMIT`].
pub async fn every_scenario(bin: &str, store_url: &str, unreachable: &str) -> Report {
    let run = async {
        let started = Instant::now();
        let keys = test_key();
        let start = |env: &'static [(&'static str, &'static str)]| {
            let keys = keys.clone();
            async move {
                Server::spawn_with(bin, store_url, &keys, env)
                    .await
                    .unwrap_or_else(|e| panic!("{unreachable}\n{e}"))
            }
        };
        let (merge, strict) = tokio::join!(
            start(&[("SESSION_STORE_TIMEOUT_MS", STORE_TIMEOUT_MS)]),
            start(&[
                ("SESSION_STORE_TIMEOUT_MS", STORE_TIMEOUT_MS),
                ("SESSION_STRICT", "1"),
            ])
        );
        let keys_present = different_keys_all_survive(&merge).await;
        let same_key = strict_same_key_conflicts_lose_nothing(&strict).await;
        let counter = strict_counter_keeps_every_ok(&strict).await;
        let store = direct_store(store_url).await;
        let racing_writes_ok =
            logout_racing_writes_stays_gone(&merge, &keys, store.as_deref()).await;
        Report {
            keys_present,
            same_key,
            counter,
            racing_writes_ok,
            store_checked: store.is_some(),
            elapsed: started.elapsed(),
        }
    };
    tokio::time::timeout(TIME_LIMIT, run)
        .await
        .unwrap_or_else(|_| {
            panic!("the concurrency scenarios on {store_url} took over {TIME_LIMIT:?}")
        })
}

/// Runs `n` copies of `request(i)` at once (released together by a barrier) and returns
/// their results in the order of `i`.
async fn race<T, F, Fut>(n: usize, request: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let request = request(i);
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(
            handle
                .await
                .unwrap_or_else(|e| panic!("a racing request failed: {e}")),
        );
    }
    results
}

/// A client whose session exists in the store (one value written).
async fn client_with_session(server: &Server) -> Client {
    let client = Client::new(server.base());
    client
        .put_json("/api/data/seed", &json!("seed"))
        .await
        .expect(200);
    assert!(client.cookie().is_some(), "a write starts a session");
    client
}

/// [`REQUESTS`] racing `PUT /api/data/k{i}` on one session: every one is answered 200 and
/// every key is there afterwards. Returns the keys found.
async fn different_keys_all_survive(server: &Server) -> usize {
    let client = client_with_session(server).await;
    let statuses = race(REQUESTS, |i| {
        let client = client.clone();
        async move {
            client
                .put_json(&format!("/api/data/k{i}"), &json!({ "i": i }))
                .await
                .status
        }
    })
    .await;
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "racing writes of different keys answered {failed:?}"
    );
    let mut found = Vec::with_capacity(REQUESTS);
    for batch in (0..REQUESTS).step_by(CHECK_BATCH) {
        let n = CHECK_BATCH.min(REQUESTS - batch);
        found.extend(
            race(n, |j| {
                let (client, i) = (client.clone(), batch + j);
                async move {
                    let answer = client.get(&format!("/api/data/k{i}")).await;
                    let value = (answer.status == 200).then(|| answer.json());
                    (answer.status, value == Some(json!({ "i": i })))
                }
            })
            .await,
        );
    }
    let missing: Vec<(usize, u16)> = (0..REQUESTS)
        .filter(|i| !found[*i].1)
        .map(|i| (i, found[i].0))
        .collect();
    assert!(
        missing.is_empty(),
        "lost updates: after {REQUESTS} racing writes answered 200, these keys do not read \
         back (key index, status of the read): {missing:?}\napp log:\n{}",
        log_tail(server)
    );
    REQUESTS
}

/// The end of the app's log, for failure messages.
fn log_tail(server: &Server) -> String {
    let log = server.log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Strict mode, [`REQUESTS`] racing writes of one key, until a round produces conflicts:
/// each answer is 200 or 409, and the value left is the one of a 200 request. Returns
/// (rounds, conflicts, successes).
async fn strict_same_key_conflicts_lose_nothing(server: &Server) -> (usize, usize, usize) {
    let client = client_with_session(server).await;
    let (mut conflicts, mut oks) = (0, 0);
    for round in 1..=STRICT_ROUNDS {
        let value = move |i: usize| json!({ "round": round, "writer": i });
        let statuses = race(REQUESTS, |i| {
            let client = client.clone();
            async move { client.put_json("/api/data/same", &value(i)).await.status }
        })
        .await;
        let odd: Vec<_> = statuses
            .iter()
            .filter(|s| ![200, 409].contains(*s))
            .collect();
        assert!(odd.is_empty(), "strict racing writes answered {odd:?}");
        let ok: Vec<usize> = (0..REQUESTS).filter(|i| statuses[*i] == 200).collect();
        assert!(
            !ok.is_empty(),
            "round {round}: every racing write was refused"
        );
        let stored = client.get("/api/data/same").await.expect(200).json();
        let writer = stored["writer"].as_u64().map(|w| w as usize);
        assert!(
            stored["round"] == json!(round) && writer.is_some_and(|w| statuses[w] == 200),
            "round {round}: the stored value {stored} is not one whose write was answered 200 \
             (its answer: {:?}): a conflicted write was kept or an acknowledged one lost",
            writer.and_then(|w| statuses.get(w))
        );
        oks += ok.len();
        conflicts += REQUESTS - ok.len();
        if conflicts > 0 {
            return (round, conflicts, oks);
        }
    }
    panic!(
        "{STRICT_ROUNDS} rounds of {REQUESTS} racing strict writes of one key produced no 409: \
         the strict policy is not applied"
    )
}

/// Strict mode, [`REQUESTS`] racing `POST /api/count`: every 200 answer's increment is
/// kept — the final count is the number of 200 answers, and they saw consecutive values.
/// Returns (successes, conflicts).
async fn strict_counter_keeps_every_ok(server: &Server) -> (usize, usize) {
    let client = client_with_session(server).await;
    let answers = race(REQUESTS, |_| {
        let client = client.clone();
        async move {
            let answer = client.post("/api/count").await;
            let count = (answer.status == 200).then(|| answer.json()["count"].as_i64());
            (answer.status, count.flatten())
        }
    })
    .await;
    let odd: Vec<_> = answers
        .iter()
        .filter(|(s, _)| ![200, 409].contains(s))
        .collect();
    assert!(odd.is_empty(), "strict racing increments answered {odd:?}");
    let mut counts: Vec<i64> = answers.iter().filter_map(|(_, c)| *c).collect();
    counts.sort_unstable();
    let oks = counts.len();
    let expected: Vec<i64> = (1..=oks as i64).collect();
    assert_eq!(
        counts, expected,
        "the 200 answers of racing strict increments did not see consecutive counts: an \
         acknowledged increment was lost"
    );
    let me = client.get("/api/me").await.expect(200).json();
    assert_eq!(
        me["count"],
        json!(oks),
        "the counter must equal the {oks} increments answered 200"
    );
    (oks, REQUESTS - oks)
}

/// The store `store_url` names, opened by the test itself; `None` for `memory:`, which
/// lives inside the app's process.
async fn direct_store(store_url: &str) -> Option<Arc<dyn SessionStore>> {
    let url = StoreUrl::parse(store_url).unwrap_or_else(|e| panic!("{store_url}: {e}"));
    if url == StoreUrl::Memory {
        return None;
    }
    Some(
        crate::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("the test cannot open the store itself: {e}")),
    )
}

/// A signed-in session with data; one `POST /api/logout` races [`REQUESTS`]` / 2` writes
/// sent with the same cookie. Afterwards the cookie reads no user, no data, and the store
/// (when it can be opened from here) has no record and no user index entry for it.
/// Returns how many racing writes were answered 200.
async fn logout_racing_writes_stays_gone(
    server: &Server,
    keys: &str,
    store: Option<&dyn SessionStore>,
) -> usize {
    let owner = Client::new(server.base());
    let user = format!("racer-{}", &test_key()[..10]);
    owner
        .post_json("/api/login", &json!({ "user": user }))
        .await
        .expect(200);
    owner
        .put_json("/api/data/seed", &json!(1))
        .await
        .expect(200);
    let cookie = owner
        .cookie()
        .unwrap_or_else(|| panic!("login sets a cookie"));
    let with_cookie = || {
        let client = Client::new(server.base());
        client.set_cookie(Some(cookie.clone()));
        client
    };
    let writers = REQUESTS / 2;
    let logout_at = writers / 2;
    let statuses = race(writers + 1, |i| {
        let client = with_cookie();
        async move {
            if i == logout_at {
                client.post("/api/logout").await.status
            } else {
                client
                    .put_json(&format!("/api/data/r{i}"), &json!(i))
                    .await
                    .status
            }
        }
    })
    .await;
    assert_eq!(statuses[logout_at], 200, "the racing logout");
    let odd: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(odd.is_empty(), "writes racing a logout answered {odd:?}");

    let me = with_cookie().get("/api/me").await.expect(200).json();
    assert_eq!(
        me,
        json!({"user": null, "count": 0}),
        "the logged-out cookie reads a session again: resurrected"
    );
    let left = race(writers + 1, |i| {
        let client = with_cookie();
        let path = if i == logout_at {
            "/api/data/seed".to_owned()
        } else {
            format!("/api/data/r{i}")
        };
        async move { (client.get(&path).await.status != 404).then_some(path) }
    })
    .await;
    let left: Vec<String> = left.into_iter().flatten().collect();
    assert!(
        left.is_empty(),
        "data readable through the logged-out cookie: {left:?}"
    );

    if let Some(store) = store {
        let key = Key::from_base64(keys).unwrap_or_else(|e| panic!("test key: {e}"));
        let codec = CookieCodec::new(COOKIE_NAME, CookieMode::Signed, vec![key])
            .unwrap_or_else(|e| panic!("cookie codec: {e}"));
        let id = codec
            .decode(&cookie)
            .unwrap_or_else(|e| panic!("the app's own cookie does not verify: {e}"))
            .id;
        let record = store
            .load(&id.store_key())
            .await
            .unwrap_or_else(|e| panic!("loading the logged-out session: {e}"));
        assert!(
            record.is_none(),
            "the store holds the logged-out session again (resurrected by a racing write)"
        );
        let sessions = store
            .sessions_of(&user, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("listing the user's sessions: {e}"))
            .sessions;
        assert!(
            sessions.is_empty(),
            "the store still lists {} session(s) for the logged-out user",
            sessions.len()
        );
    }
    statuses.iter().filter(|s| **s == 200).count() - 1
}
