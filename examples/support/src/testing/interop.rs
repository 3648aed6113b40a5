//! The Express interop scenarios: the Express peer (`interop/express`, express-session on
//! a connect-* store) and an example binary in `SESSION_COMPAT=express` mode on the same
//! store, one browser-like client going back and forth. Every scenario runs in both
//! directions (Node → Rust, Rust → Node).
//!
//! Servers per store: a main pair (secrets `new, old`), an old pair (secret `old` only) for
//! key rotation, and a persistent pair (1 h persistent cookies) for expiry.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use session_core::{
    ExpressSecrets, SessionConfig, Timestamp,
    store::{SessionStore, StoreKey},
};

use super::node::NodePeer;
use super::{Client, Server, test_key};
use crate::StoreUrl;
use crate::compat::{ExpressNames, connect_express};

/// The cookie both sides use.
pub const COOKIE: &str = "connect.sid";
const MAIN_SECRETS: &str = "new secret,old secret";
const OLD_SECRETS: &str = "old secret";
const NEW_SECRETS: &str = "new secret";
/// The persistent pair's cookie lifetime (Node `maxAge`, Rust idle timeout).
const PERSIST_SECS: i64 = 3600;

/// Where the shared sessions live.
#[derive(Debug, Clone)]
pub enum SharedStore {
    /// `redis://…`.
    Redis(String),
    /// Cluster node URLs (`redis://h:p`).
    RedisCluster(Vec<String>),
    /// `postgres://…`.
    Postgres(String),
    /// `mongodb://…` (a database of its own is added).
    Mongo(String),
}

/// One server of either kind.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    /// `node` or `rust`, for messages.
    pub name: &'static str,
    /// Its base URL.
    pub base: &'a str,
}

impl std::fmt::Display for Side<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every server of one store's interop run, and the names they share.
pub struct Interop {
    store_url: String,
    names: ExpressNames,
    main: (NodePeer, Server),
    old: (NodePeer, Server),
    persist: (NodePeer, Server),
}

impl Interop {
    /// Starts the three pairs on `store`, under names no other run uses (Redis prefix,
    /// PostgreSQL table, Mongo database). `bin` is the example binary.
    pub async fn start(bin: &str, store: &SharedStore) -> Self {
        let run = StoreKey::random().as_str()[..10].to_owned();
        let (store_url, names) = match store {
            SharedStore::Redis(url) => (url.clone(), names(&format!("sess:it{run}:"), "session")),
            SharedStore::RedisCluster(nodes) => {
                let hosts: Vec<&str> = nodes
                    .iter()
                    .map(|n| n.split_once("://").map_or(n.as_str(), |(_, h)| h))
                    .collect();
                let url = format!("redis+cluster://{}", hosts.join(","));
                (url, names(&format!("sess:it{run}:"), "session"))
            }
            SharedStore::Postgres(url) => {
                (url.clone(), names("sess:", &format!("session_it{run}")))
            }
            SharedStore::Mongo(uri) => {
                let base = uri.split('?').next().unwrap_or(uri).trim_end_matches('/');
                (format!("{base}/interop_{run}"), names("sess:", "session"))
            }
        };
        let env = |extra: &[(&'static str, String)]| {
            let mut env = vec![
                ("SESSION_EXPRESS_PREFIX", names.redis_prefix.clone()),
                ("SESSION_EXPRESS_TABLE", names.pg_table.clone()),
            ];
            env.extend(extra.iter().cloned());
            env
        };
        let persist = [
            ("SESSION_MAX_AGE_MS", (PERSIST_SECS * 1000).to_string()),
            ("SESSION_PERSISTENT", "1".to_owned()),
            ("SESSION_IDLE_SECS", PERSIST_SECS.to_string()),
        ];
        let touchy = [("SESSION_TOUCH_AFTER_SECS", "1".to_owned())];
        // Node first: connect-pg-simple creates the table if it is missing.
        let main_node = node(&store_url, MAIN_SECRETS, &env(&[])).await;
        let main = (
            main_node,
            rust(bin, &store_url, MAIN_SECRETS, &env(&touchy)).await,
        );
        let old = (
            node(&store_url, OLD_SECRETS, &env(&[])).await,
            rust(bin, &store_url, OLD_SECRETS, &env(&[])).await,
        );
        let persist = (
            node(&store_url, NEW_SECRETS, &env(&persist)).await,
            rust(bin, &store_url, NEW_SECRETS, &env(&persist)).await,
        );
        Self {
            store_url,
            names,
            main,
            old,
            persist,
        }
    }

    /// The store URL both sides use.
    pub fn store_url(&self) -> &str {
        &self.store_url
    }

    /// The connect-* names both sides use.
    pub fn names(&self) -> &ExpressNames {
        &self.names
    }

    fn pair(pair: &(NodePeer, Server)) -> [(Side<'_>, Side<'_>); 2] {
        let node = Side {
            name: "node",
            base: pair.0.base(),
        };
        let rust = Side {
            name: "rust",
            base: pair.1.base(),
        };
        [(node, rust), (rust, node)]
    }

    /// Runs every scenario in both directions; returns the lines of the report.
    pub async fn run_all(&self) -> Vec<String> {
        let mut report = Vec::new();
        for (a, b) in Self::pair(&self.main) {
            sign_in_is_seen(a, b).await;
            report.push(format!("sign in on {a} → {b} sees the user: ok"));
            write_is_read(a, b).await;
            report.push(format!("write on {a} → {b} reads it (and back): ok"));
            logout_ends_it(a, b).await;
            report.push(format!("logout on {a} → {b} sees no session: ok"));
            tampered_cookie_is_refused(a, b).await;
            report.push(format!(
                "cookie tampered after {a} issued it → refused by {b} and {a}: ok"
            ));
        }
        for ((old_a, _), (_, main_b)) in Self::pair(&self.old)
            .into_iter()
            .zip(Self::pair(&self.main))
        {
            let (main_a, old_b) = (self.other_main(old_a), self.other_old(main_b));
            rotation(old_a, main_b, main_a, old_b).await;
            report.push(format!(
                "key rotation: {old_a}[old] cookie → {main_b}[new,old] accepts; re-issued under new → {main_a}[new,old] accepts, {old_b}[old] refuses: ok"
            ));
        }
        for (a, b) in Self::pair(&self.persist) {
            let spread = self.persistent_expiry_in_step(a, b).await;
            report.push(format!(
                "persistent cookie, sign-in on {a}, writes on {b} then {a}: each writer's Set-Cookie Expires = now + 1 h and the store deadline agree (largest gap {spread} ms): ok"
            ));
        }
        let [(node, rust), _] = Self::pair(&self.main);
        report.push(concurrent_rust_writes_node_reads(rust, node).await);
        report.push(concurrent_node_writes_rust_reads(node, rust).await);
        report.push(concurrent_writes_on_both(node, rust).await);
        report
    }

    fn other_main(&self, side: Side<'_>) -> Side<'_> {
        let [(node, rust), _] = Self::pair(&self.main);
        if side.name == "node" { node } else { rust }
    }

    fn other_old(&self, side: Side<'_>) -> Side<'_> {
        let [(node, rust), _] = Self::pair(&self.old);
        if side.name == "node" { node } else { rust }
    }

    /// A store handle on the shared sessions, to look at what both sides wrote.
    pub async fn store(&self) -> std::sync::Arc<dyn SessionStore> {
        let url = StoreUrl::parse(&self.store_url).unwrap_or_else(|e| panic!("{e}"));
        let secrets = ExpressSecrets::new([NEW_SECRETS]).unwrap_or_else(|e| panic!("{e}"));
        let config = SessionConfig::express_builder(secrets)
            .secure(false)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        connect_express(&url, &self.names, &config, None)
            .await
            .unwrap_or_else(|e| panic!("cannot open the shared store: {e}"))
    }

    /// Sign in on `a`, write on `b`, write on `a`: after each write, the writer's
    /// Set-Cookie `Expires` and the store's own deadline for the record (Redis TTL, PG
    /// `expire`, Mongo `expires`: what connect-* derive from `cookie.expires`) agree within
    /// 2.5 s (whole-second `Expires`, rounded-up store TTLs), and `Expires` is now + 1 h.
    /// Returns the largest cookie-to-store gap seen, in ms.
    async fn persistent_expiry_in_step(&self, a: Side<'_>, b: Side<'_>) -> i64 {
        let store = self.store().await;
        let c = Client::named(a.base, COOKIE);
        let user = fresh_user();
        let mut widest = 0;
        let steps = [(a, "/api/login"), (b, "/api/count"), (a, "/api/count")];
        for (side, path) in steps {
            let at = c.at(side.base);
            let answer = if path == "/api/login" {
                at.post_json(path, &json!({ "user": user })).await
            } else {
                at.post(path).await
            };
            answer.expect(200);
            let now = Timestamp::now().as_millis();
            let cookie = answer.cookie_named(COOKIE).unwrap_or_else(|| {
                panic!("{side} {path}: a persistent cookie is re-issued on write")
            });
            let expires = cookie
                .expires_datetime()
                .unwrap_or_else(|| panic!("{side} {path}: no Expires on {cookie}"));
            let expires_ms = i64::try_from(expires.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
            let sid = sid_of(cookie.value());
            let record = store
                .load(&StoreKey::plain_sid(&sid))
                .await
                .unwrap_or_else(|e| panic!("{side} {path}: load: {e}"))
                .unwrap_or_else(|| panic!("{side} {path}: the session is not in the store"));
            assert!(record.persistent, "{side} {path}: stored as persistent");
            // Expires has whole seconds (truncated); connect-* round the store's up.
            let gap = (expires_ms - record.expires_at.as_millis()).abs();
            assert!(
                gap <= 2500,
                "{side} {path}: cookie and store out of step by {gap} ms"
            );
            widest = widest.max(gap);
            let lifetime = (expires_ms - (now + PERSIST_SECS * 1000)).abs();
            assert!(
                lifetime <= 10_000,
                "{side} {path}: Expires is not now + 1 h ({lifetime} ms off)"
            );
            assert_eq!(
                c.at(b.base).get("/api/me").await.expect(200).json()["user"],
                json!(user),
                "{b} still reads the session after {side} {path}"
            );
        }
        widest
    }
}

fn names(prefix: &str, table: &str) -> ExpressNames {
    ExpressNames {
        redis_prefix: prefix.to_owned(),
        pg_schema: None,
        pg_table: table.to_owned(),
        mongo_collection: "sessions".to_owned(),
    }
}

async fn node(url: &str, secrets: &str, env: &[(&'static str, String)]) -> NodePeer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    NodePeer::spawn(url, secrets, &env)
        .await
        .unwrap_or_else(|e| panic!("the Express peer did not start: {e}"))
}

async fn rust(bin: &str, url: &str, secrets: &str, env: &[(&'static str, String)]) -> Server {
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([("SESSION_COMPAT", "express"), ("SESSION_SECRETS", secrets)]);
    Server::spawn_with(bin, url, &test_key(), &env)
        .await
        .unwrap_or_else(|e| panic!("the Rust example did not start in express mode: {e}"))
}

fn fresh_user() -> String {
    format!("user-{}", &StoreKey::random().as_str()[..8])
}

/// The session id inside a `connect.sid` value (`s%3A<sid>.<sig>`).
pub fn sid_of(value: &str) -> String {
    let decoded = value
        .replace("%3A", ":")
        .replace("%2B", "+")
        .replace("%2F", "/");
    let signed = decoded.strip_prefix("s:").unwrap_or(&decoded);
    signed
        .rsplit_once('.')
        .map_or(signed, |(sid, _)| sid)
        .to_owned()
}

async fn signed_in(at: Side<'_>) -> (Client, String) {
    let c = Client::named(at.base, COOKIE);
    let user = fresh_user();
    let answer = c.post_json("/api/login", &json!({ "user": user })).await;
    answer.expect(200);
    assert!(c.cookie().is_some(), "{at}: login issued no {COOKIE}");
    (c, user)
}

/// Signed in on `a`, the user is signed in on `b`.
pub async fn sign_in_is_seen(a: Side<'_>, b: Side<'_>) {
    let (c, user) = signed_in(a).await;
    let me = c.at(b.base).get("/api/me").await.expect(200).json();
    assert_eq!(me, json!({"user": user, "count": 0}), "{a} → {b}");
}

/// A counter and a data value written on `a` are read on `b`, and `b`'s write on `a`.
pub async fn write_is_read(a: Side<'_>, b: Side<'_>) {
    let (c, user) = signed_in(a).await;
    let (on_a, on_b) = (c.at(a.base), c.at(b.base));
    assert_eq!(
        on_a.post("/api/count").await.expect(200).json(),
        json!({"count": 1})
    );
    let value = json!({"from": a.name, "list": [1, 2.5, "x", null], "nested": {"ok": true}});
    on_a.put_json("/api/data/shared", &value).await.expect(200);
    assert_eq!(
        on_b.get("/api/me").await.expect(200).json(),
        json!({"user": user, "count": 1})
    );
    assert_eq!(
        on_b.get("/api/data/shared").await.expect(200).json(),
        value,
        "{a} → {b}"
    );
    assert_eq!(
        on_b.post("/api/count").await.expect(200).json(),
        json!({"count": 2})
    );
    on_b.delete("/api/data/shared").await.expect(204);
    assert_eq!(
        on_a.get("/api/me").await.expect(200).json()["count"],
        json!(2),
        "{b} → {a}"
    );
    on_a.get("/api/data/shared").await.expect(404);
}

/// Signed in on `a`, logged out on `b`: `a` (with the cookie still held) sees no session.
pub async fn logout_ends_it(a: Side<'_>, b: Side<'_>) {
    let (c, _) = signed_in(a).await;
    let held = c.fork(a.base);
    c.at(b.base).post("/api/logout").await.expect(200);
    let me = held.get("/api/me").await.expect(200).json();
    assert_eq!(me, json!({"user": null, "count": 0}), "logout on {b} → {a}");
    let me = held.at(b.base).get("/api/me").await.expect(200).json();
    assert_eq!(me, json!({"user": null, "count": 0}), "logout on {b} → {b}");
}

/// A cookie `a` issued, with one character of its id or of its signature changed, is a
/// fresh anonymous session on both sides, and a write with it never adopts the id.
pub async fn tampered_cookie_is_refused(a: Side<'_>, b: Side<'_>) {
    let (c, user) = signed_in(a).await;
    let value = c.cookie().unwrap_or_default();
    let flip = |ch: char| if ch == 'A' { 'B' } else { 'A' };
    let mut sig_tampered: Vec<char> = value.chars().collect();
    if let Some(last) = sig_tampered.last_mut() {
        *last = flip(*last);
    }
    let prefix = "s%3A".len();
    let mut sid_tampered: Vec<char> = value.chars().collect();
    sid_tampered[prefix] = flip(sid_tampered[prefix]);
    for tampered in [sig_tampered, sid_tampered] {
        let tampered: String = tampered.into_iter().collect();
        for side in [b, a] {
            let t = Client::named(side.base, COOKIE);
            t.set_cookie(Some(tampered.clone()));
            let me = t.get("/api/me").await.expect(200).json();
            assert_eq!(
                me["user"],
                Value::Null,
                "{side} accepted {tampered} ({a} issued it)"
            );
            t.post("/api/count").await.expect(200);
            let issued = t.cookie().unwrap_or_default();
            assert_ne!(
                sid_of(&issued),
                sid_of(&tampered),
                "{side} adopted a forged id"
            );
        }
    }
    let me = c.at(b.base).get("/api/me").await.expect(200).json();
    assert_eq!(me["user"], json!(user), "the genuine cookie still works");
}

/// Key rotation: a cookie signed by `old_a` (secret `old` only) is accepted by `main_b`
/// (`new, old`); once re-issued under `new` (by `main_b` when it is Rust, which re-issues
/// on an older key; by a login on `main_b` when it is Node, which re-issues only then),
/// `main_a` accepts it and `old_b` (secret `old` only) refuses it.
pub async fn rotation(old_a: Side<'_>, main_b: Side<'_>, main_a: Side<'_>, old_b: Side<'_>) {
    let (c, user) = signed_in(old_a).await;
    let old_cookie = c.cookie().unwrap_or_default();
    let on_b = c.at(main_b.base);
    let me = on_b.get("/api/me").await.expect(200).json();
    assert_eq!(
        me["user"],
        json!(user),
        "{main_b}[new,old] refused an old-secret cookie"
    );
    let reissued = if main_b.name == "rust" {
        on_b.post("/api/count").await.expect(200);
        c.cookie().unwrap_or_default()
    } else {
        on_b.post_json("/api/login", &json!({ "user": user }))
            .await
            .expect(200);
        c.cookie().unwrap_or_default()
    };
    assert_ne!(
        reissued, old_cookie,
        "{main_b} did not re-issue the cookie under the new secret"
    );
    let me = c.at(main_a.base).get("/api/me").await.expect(200).json();
    assert_eq!(
        me["user"],
        json!(user),
        "{main_a}[new,old] refused a new-secret cookie"
    );
    let stale = c.fork(old_b.base);
    let me = stale.get("/api/me").await.expect(200).json();
    assert_eq!(
        me["user"],
        Value::Null,
        "{old_b}[old] accepted a new-secret cookie"
    );
}

const CONCURRENT: usize = 50;

/// 50 concurrent requests on one session alternating between the servers: Rust writes a
/// key of its own (25), Node only reads (25; a Node read `touch`es, never rewrites).
/// Promise checked: no Rust write is lost, on either side.
pub async fn concurrent_rust_writes_node_reads(rust: Side<'_>, node: Side<'_>) -> String {
    let (c, _) = signed_in(node).await;
    let requests = (0..CONCURRENT).map(|i| {
        let c = c.clone();
        async move {
            if i % 2 == 0 {
                c.at(rust.base)
                    .put_json(&format!("/api/data/r{i}"), &json!(i))
                    .await
                    .status
            } else {
                c.at(node.base).get("/api/me").await.status
            }
        }
    });
    let statuses = join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
    let mut kept = 0;
    for i in (0..CONCURRENT).step_by(2) {
        for side in [rust, node] {
            let got = c.at(side.base).get(&format!("/api/data/r{i}")).await;
            got.expect(200);
            assert_eq!(got.json(), json!(i), "r{i} on {side}");
        }
        kept += 1;
    }
    format!(
        "50 concurrent, alternating: 25 Rust writes + 25 Node reads → {kept}/25 Rust keys kept on both sides: ok"
    )
}

/// Node writes its 25 keys one after the other while 25 concurrent Rust reads run (the
/// Rust server touches after 1 s). Promise checked: Rust reads and touches never drop a
/// Node write.
pub async fn concurrent_node_writes_rust_reads(node: Side<'_>, rust: Side<'_>) -> String {
    let (c, _) = signed_in(rust).await;
    let writer = {
        let c = c.at(node.base);
        async move {
            for i in 0..CONCURRENT / 2 {
                c.put_json(&format!("/api/data/n{i}"), &json!(i))
                    .await
                    .expect(200);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }
    };
    let readers = (0..CONCURRENT / 2).map(|i| {
        let c = c.at(rust.base);
        async move {
            tokio::time::sleep(Duration::from_millis(u64::try_from(i).unwrap_or(0) * 45)).await;
            c.get("/api/me").await.status
        }
    });
    let (statuses, ()) = tokio::join!(join_all(readers), writer);
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
    for i in 0..CONCURRENT / 2 {
        for side in [node, rust] {
            let got = c.at(side.base).get(&format!("/api/data/n{i}")).await;
            assert_eq!(got.status, 200, "n{i} lost on {side}");
        }
    }
    "25 Node writes (sequential) + 25 concurrent Rust reads/touches → 25/25 Node keys kept: ok"
        .into()
}

/// 50 concurrent writes alternating: Rust and Node each write keys of their own. Node
/// writes whole records (last writer wins), so keys may be lost; promised and checked:
/// every request succeeds, the session survives signed in, and both sides then read the
/// same data. The survivors are counted in the report.
pub async fn concurrent_writes_on_both(node: Side<'_>, rust: Side<'_>) -> String {
    let (c, user) = signed_in(rust).await;
    let requests = (0..CONCURRENT).map(|i| {
        let c = c.clone();
        async move {
            let (side, key) = if i % 2 == 0 {
                (rust, format!("r{i}"))
            } else {
                (node, format!("n{i}"))
            };
            c.at(side.base)
                .put_json(&format!("/api/data/{key}"), &json!(i))
                .await
                .status
        }
    });
    let statuses = join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
    let (mut rust_kept, mut node_kept) = (0, 0);
    for i in 0..CONCURRENT {
        let key = if i % 2 == 0 {
            format!("r{i}")
        } else {
            format!("n{i}")
        };
        let on_rust = c
            .at(rust.base)
            .get(&format!("/api/data/{key}"))
            .await
            .status;
        let on_node = c
            .at(node.base)
            .get(&format!("/api/data/{key}"))
            .await
            .status;
        assert_eq!(on_rust, on_node, "{key}: the sides disagree");
        if on_rust == 200 {
            if i % 2 == 0 {
                rust_kept += 1
            } else {
                node_kept += 1
            }
        }
    }
    for side in [rust, node] {
        let me = c.at(side.base).get("/api/me").await.expect(200).json();
        assert_eq!(me["user"], json!(user), "{side}: the session survived");
    }
    format!(
        "50 concurrent writes alternating (25 Rust keys, 25 Node keys) → kept: Rust {rust_kept}/25, Node {node_kept}/25 (Node writes are last-writer-wins); both sides agree: ok"
    )
}
