//! Outage and recovery on a private `redis-server` this test starts, kills and restarts:
//! during the outage every operation fails with a typed `Unavailable` within the configured
//! timeout, and the same store instance works again once the server is back.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use session_core::{
    Timestamp,
    store::{Changeset, CreateOutcome, Record, SessionStore, StoreError, StoreKey},
};
use store_redis::{RedisStore, Timeouts};

/// A private server; killed when dropped, so a failing test leaves nothing behind.
struct Server {
    port: u16,
    child: Child,
}

impl Server {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run redis-server: install Redis (the test starts its own server)");
        let server = Self { port, child };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server on port {port} did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Sends SIGSTOP / SIGCONT: a server that accepts connections but never answers.
    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    fn kill(&mut self) {
        // Already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot find a free local port")
        .port()
}

fn record() -> Record {
    let mut r = Record::new(
        Timestamp::now(),
        Timestamp::now().add(Duration::from_secs(600)),
        false,
    );
    r.data.insert("k".into(), json!("v").into());
    r.user = Some("recovery-user".into());
    r
}

/// Runs every kind of operation once against the unusable server.
async fn every_operation_fails(phase: &str, store: &RedisStore, key: &StoreKey, limit: Duration) {
    let changes = Changeset::new(Timestamp::now().add(Duration::from_secs(600)));
    let deadline = changes.expires_at;
    macro_rules! expect_unavailable {
        ($name:literal, $op:expr) => {{
            let started = Instant::now();
            let result = $op.await;
            let took = started.elapsed();
            eprintln!(
                "{phase}: {:<18} -> {:?} after {took:?}",
                $name,
                result.as_ref().err()
            );
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{} during the outage ({phase}): {result:?}",
                $name
            );
            // A hang check, not a speed check: the bound is the configured timeout.
            assert!(
                took <= limit + Duration::from_secs(2),
                "{} took {took:?}",
                $name
            );
        }};
    }
    expect_unavailable!("load", store.load(key));
    expect_unavailable!("create", store.create(&StoreKey::random(), &record()));
    expect_unavailable!("apply", store.apply(key, &changes, None));
    expect_unavailable!(
        "rotate",
        store.rotate(key, &StoreKey::random(), &changes, None)
    );
    expect_unavailable!("touch", store.touch(key, deadline));
    expect_unavailable!("delete", store.delete(key));
    expect_unavailable!(
        "sessions_of",
        store.sessions_of("recovery-user", &Default::default())
    );
    expect_unavailable!(
        "delete_sessions_of",
        store.delete_sessions_of("recovery-user", None)
    );
}

/// Retries `load` until it succeeds, at most 5 s; prints how long it took.
async fn recover(phase: &str, store: &RedisStore, key: &StoreKey) -> Option<Record> {
    let since = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store.load(key).await {
            Ok(found) => {
                eprintln!(
                    "{phase}: first success {:?} after the server came back, attempt {attempts}",
                    since.elapsed()
                );
                return found;
            }
            Err(e) => {
                assert!(
                    since.elapsed() < Duration::from_secs(5),
                    "the store did not recover within 5 s ({phase}): {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_typed_and_bounded_then_the_same_store_recovers() {
    let port = free_port();
    let mut server = Server::start(port);
    let timeouts = Timeouts {
        connect: Duration::from_millis(500),
        response: Duration::from_millis(500),
    };
    let url = format!("redis://127.0.0.1:{}", server.port);
    let store = RedisStore::connect_with(&url, timeouts)
        .await
        .expect("cannot connect to the private redis-server");

    let key = StoreKey::random();
    let created = store
        .create(&key, &record())
        .await
        .expect("create before the outage");
    assert_eq!(created, CreateOutcome::Created);
    assert!(
        store
            .load(&key)
            .await
            .expect("load before the outage")
            .is_some()
    );

    server.signal("-STOP");
    let frozen = Instant::now();
    every_operation_fails("frozen", &store, &key, timeouts.operation()).await;
    eprintln!(
        "frozen: all operations answered within {:?}",
        frozen.elapsed()
    );
    server.signal("-CONT");
    // Commands that timed out were still delivered (the frozen server runs them once
    // thawed, `delete` included), so only the store's health is checked here.
    recover("thawed", &store, &key).await;

    server.kill();
    let killed = Instant::now();
    every_operation_fails("killed", &store, &key, timeouts.operation()).await;
    eprintln!(
        "killed: all operations answered within {:?}",
        killed.elapsed()
    );

    let server = Server::start(port);
    let found = recover("restarted", &store, &key).await;
    assert_eq!(found, None, "a server without persistence starts empty");

    let fresh = StoreKey::random();
    let created = store
        .create(&fresh, &record())
        .await
        .expect("create after recovery");
    assert_eq!(created, CreateOutcome::Created);
    assert!(
        store
            .load(&fresh)
            .await
            .expect("load after recovery")
            .is_some()
    );
    let listed = store
        .sessions_of("recovery-user", &Default::default())
        .await
        .expect("sessions_of after recovery");
    assert_eq!(listed.sessions.len(), 1);
    drop(server);
}
