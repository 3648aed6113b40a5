//! A standalone connection that follows the runtime it is used on.
//!
//! A multiplexed connection's driver task runs on the runtime that opened it: every
//! command is handed to that task and every reply parsed there, then handed back. On a
//! multi-threaded runtime that hand-off stays among its own workers. actix-web instead
//! runs one single-threaded runtime per worker thread, and a store connected while the
//! server is built drives all of them from the thread that built it: two cross-thread
//! wake-ups per command, and one thread parsing every worker's replies.
//!
//! So a store opened by [`RedisStore::connect`](crate::RedisStore::connect) opens, on
//! first use from another single-threaded runtime, a connection of that runtime's own
//! (same client, same timeouts) and keeps it in a thread-local slot. Everything else —
//! the runtime the store was connected on, any multi-threaded runtime, a store built on
//! a connection manager the caller configured — uses the shared connection.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokio::runtime::{Handle, Id, RuntimeFlavor};

/// What opens a connection for another runtime: shared by the clones of one store.
struct Opener {
    client: Client,
    config: ConnectionManagerConfig,
}

/// A store's connection on this thread and the runtime it was opened on. The store is
/// held weakly: a slot whose store is gone is dropped, with its connection, on the next
/// lookup.
struct Slot {
    store: Weak<Opener>,
    runtime: Id,
    conn: ConnectionManager,
}

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// The standalone connection: the one opened with the store, plus (for stores that can
/// open more) one per other single-threaded runtime.
#[derive(Clone)]
pub(crate) struct RuntimeConn {
    shared: ConnectionManager,
    /// The runtime `shared` was opened on; `None` when opened outside one.
    home: Option<Id>,
    opener: Option<Arc<Opener>>,
}

/// Which connection a command takes: the shared one, or the current runtime's (`None`
/// until it is opened).
enum Route {
    Shared,
    Runtime(Arc<Opener>, Id, Option<ConnectionManager>),
}

impl RuntimeConn {
    /// `shared`, opened from `client` with `config` on the current runtime: other
    /// single-threaded runtimes open their own the same way.
    pub(crate) fn new(
        shared: ConnectionManager,
        client: Client,
        config: ConnectionManagerConfig,
    ) -> Self {
        Self {
            shared,
            home: Handle::try_current().ok().map(|h| h.id()),
            opener: Some(Arc::new(Opener { client, config })),
        }
    }

    /// A manager the caller configured: used from every runtime.
    pub(crate) fn fixed(shared: ConnectionManager) -> Self {
        Self {
            shared,
            home: None,
            opener: None,
        }
    }

    fn route(&self) -> Route {
        let Some(opener) = &self.opener else {
            return Route::Shared;
        };
        let Ok(handle) = Handle::try_current() else {
            return Route::Shared;
        };
        let runtime = handle.id();
        if handle.runtime_flavor() != RuntimeFlavor::CurrentThread || Some(runtime) == self.home {
            return Route::Shared;
        }
        match local(opener, runtime) {
            Some(conn) => Route::Runtime(Arc::clone(opener), runtime, conn),
            // The thread is exiting (its slots are gone): the shared connection serves.
            None => Route::Shared,
        }
    }
}

/// This thread's connection of `opener`'s store, when it was opened on `runtime`. One
/// slot per store and thread: a thread that moved on to another runtime replaces it.
/// Slots of stores that are gone are dropped here. `None` once the thread's slots were
/// destroyed (a store used from a thread-local destructor).
fn local(opener: &Arc<Opener>, runtime: Id) -> Option<Option<ConnectionManager>> {
    SLOTS
        .try_with(|slots| {
            let mut slots = slots.borrow_mut();
            slots.retain(|slot| slot.store.strong_count() > 0);
            slots
                .iter()
                .find(|slot| slot.runtime == runtime && ptr_eq(&slot.store, opener))
                .map(|slot| slot.conn.clone())
        })
        .ok()
}

fn ptr_eq(weak: &Weak<Opener>, strong: &Arc<Opener>) -> bool {
    std::ptr::eq(weak.as_ptr(), Arc::as_ptr(strong))
}

/// Opens `runtime`'s connection, or takes the one a concurrent first command of this
/// thread opened meanwhile.
async fn open(opener: Arc<Opener>, runtime: Id) -> RedisResult<ConnectionManager> {
    let conn =
        ConnectionManager::new_with_config(opener.client.clone(), opener.config.clone()).await?;
    let kept = SLOTS.try_with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.iter_mut().find(|slot| ptr_eq(&slot.store, &opener)) {
            Some(slot) if slot.runtime == runtime => slot.conn.clone(),
            Some(slot) => {
                slot.runtime = runtime;
                slot.conn = conn.clone();
                conn.clone()
            }
            None => {
                slots.push(Slot {
                    store: Arc::downgrade(&opener),
                    runtime,
                    conn: conn.clone(),
                });
                conn.clone()
            }
        }
    });
    Ok(kept.unwrap_or(conn))
}

/// `conn`, the runtime's connection found in its slot, or a new one when there was none.
async fn opened(
    conn: Option<ConnectionManager>,
    opener: &Arc<Opener>,
    runtime: Id,
) -> RedisResult<ConnectionManager> {
    match conn {
        Some(conn) => Ok(conn),
        None => open(Arc::clone(opener), runtime).await,
    }
}

/// Forgets `runtime`'s connection of `opener`'s store after it reported a dropped
/// connection, so that the next command opens a fresh one.
fn forget_if_dropped<T>(result: &RedisResult<T>, opener: &Arc<Opener>, runtime: Id) {
    if result.as_ref().is_err_and(|e| e.is_connection_dropped()) {
        // Nothing to forget once the thread's slots are gone.
        let _ = SLOTS.try_with(|slots| {
            slots
                .borrow_mut()
                .retain(|slot| !(slot.runtime == runtime && ptr_eq(&slot.store, opener)));
        });
    }
}

impl ConnectionLike for RuntimeConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self.route() {
            Route::Shared => self.shared.req_packed_command(cmd),
            Route::Runtime(opener, runtime, conn) => Box::pin(async move {
                let mut conn = opened(conn, &opener, runtime).await?;
                let result = conn.req_packed_command(cmd).await;
                forget_if_dropped(&result, &opener, runtime);
                result
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self.route() {
            Route::Shared => self.shared.req_packed_commands(pipeline, offset, count),
            Route::Runtime(opener, runtime, conn) => Box::pin(async move {
                let mut conn = opened(conn, &opener, runtime).await?;
                let result = conn.req_packed_commands(pipeline, offset, count).await;
                forget_if_dropped(&result, &opener, runtime);
                result
            }),
        }
    }

    fn get_db(&self) -> i64 {
        self.shared.get_db()
    }
}

#[cfg(test)]
mod tests {
    use redis::aio::ConnectionLike;

    use super::RuntimeConn;
    use crate::RedisStore;
    use crate::conn::Conn;

    fn url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    fn standalone(store: &RedisStore) -> RuntimeConn {
        match &store.conn {
            Conn::Standalone(conn) => conn.clone(),
            _ => panic!("not a standalone store"),
        }
    }

    /// The server's id of the connection a command takes.
    async fn client_id(mut conn: impl ConnectionLike) -> i64 {
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .expect("CLIENT ID failed")
    }

    /// How many connections the server has accepted so far.
    async fn connections_received(mut conn: impl ConnectionLike) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut conn)
            .await
            .expect("INFO failed");
        info.lines()
            .find_map(|line| line.strip_prefix("total_connections_received:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("INFO stats has total_connections_received")
    }

    /// Runs `conn`'s `CLIENT ID` on a fresh single-threaded runtime of a thread of its own:
    /// twice on one runtime, then once on a second runtime of the same thread. Between the
    /// two, fifty more commands on the first runtime must not open connections (other
    /// tests of this binary may open a few meanwhile).
    fn on_single_threaded_runtimes(conn: impl ConnectionLike + Clone + Send + 'static) -> [i64; 3] {
        std::thread::spawn(move || {
            let runtime = || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
            };
            let first = runtime();
            let ids = [
                first.block_on(client_id(conn.clone())),
                first.block_on(client_id(conn.clone())),
            ];
            first.block_on(async {
                let before = connections_received(conn.clone()).await;
                for _ in 0..50 {
                    client_id(conn.clone()).await;
                }
                let opened = connections_received(conn.clone()).await - before;
                assert!(opened < 25, "{opened} connections opened for 50 commands");
            });
            drop(first);
            [ids[0], ids[1], runtime().block_on(client_id(conn))]
        })
        .join()
        .expect("thread panicked")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_single_threaded_runtime_gets_a_connection_of_its_own() {
        let store = RedisStore::connect(&url()).await.expect("REDIS_URL");
        let conn = standalone(&store);
        let home = client_id(conn.clone()).await;
        assert_eq!(
            client_id(conn.clone()).await,
            home,
            "the home runtime shares one"
        );

        let [first, again, next] = on_single_threaded_runtimes(conn.clone());
        assert_ne!(
            first, home,
            "another runtime took the home runtime's connection"
        );
        assert_eq!(again, first, "the runtime opened a second connection");
        assert_ne!(
            next, first,
            "a new runtime on the same thread kept the old one's"
        );

        let [other, ..] = on_single_threaded_runtimes(conn);
        assert!(![home, first, next].contains(&other), "threads shared one");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_callers_connection_manager_serves_every_runtime() {
        let client = redis::Client::open(url()).expect("REDIS_URL");
        let manager = redis::aio::ConnectionManager::new(client)
            .await
            .expect("REDIS_URL");
        let store = RedisStore::from_connection_manager(manager, crate::Timeouts::default());
        let conn = standalone(&store);
        let home = client_id(conn.clone()).await;
        assert_eq!(on_single_threaded_runtimes(conn), [home; 3]);
    }
}
