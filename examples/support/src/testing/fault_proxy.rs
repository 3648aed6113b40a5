//! A fault-injecting TCP proxy on loopback, controlled by the test: the app connects to
//! the store through it, and [`FaultProxy::set`] changes what the network does, for
//! connections already open and new ones alike:
//!
//! - [`NetFault::Blackhole`]: connections are accepted and stay open, but no byte goes
//!   through in either direction and nothing is refused or reset. Bytes in flight are held;
//!   when the fault ends they are delivered, as TCP's retransmissions would deliver them
//!   once a link comes back (so a request the client gave up on may still run).
//! - [`NetFault::Latency`]: every chunk is delivered that much later, each way (order and
//!   throughput kept: chunks are queued with their due time).
//! - [`NetFault::ResetMidResponse`]: requests reach the server, but the first chunk of any
//!   answer is cut in half and the client's connection is then reset (RST, `SO_LINGER`
//!   0).
//!
//! `tc netem` is not available on these machines; this runs in the test process itself.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the network between the app and its store does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetFault {
    /// Everything passes.
    None,
    /// Nothing passes, nothing is refused: open connections hang, new ones are accepted
    /// and hang.
    Blackhole,
    /// Every chunk is delayed by this much, in each direction.
    Latency(Duration),
    /// Answers are cut mid-way and the connection is reset.
    ResetMidResponse,
}

/// A running proxy from a free loopback port to `upstream`. Dropping it stops accepting
/// and closes every connection.
pub struct FaultProxy {
    port: u16,
    fault: watch::Sender<NetFault>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    /// Panics when it cannot listen (the test cannot run without it).
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("fault proxy: cannot listen on loopback: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fault proxy: no local address: {e}"))
            .port();
        let (fault, watcher) = watch::channel(NetFault::None);
        let accept = tokio::spawn(accept_loop(listener, upstream, watcher));
        Self {
            port,
            fault,
            accept,
        }
    }

    /// The loopback port the app should connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Changes the fault, effective at once for every connection.
    pub fn set(&self, fault: NetFault) {
        self.fault.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Receiver<NetFault>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors or similar: keep serving the connections there are.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        connections.spawn(serve(client, upstream, fault.clone()));
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

/// One proxied connection, until either side closes or a reset is injected.
async fn serve(client: TcpStream, upstream: SocketAddr, mut fault: watch::Receiver<NetFault>) {
    // Blackholed: the connection is accepted, and nothing happens until the fault ends.
    passable(&mut fault).await;
    let server =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream)).await {
            Ok(Ok(server)) => server,
            // The store itself is down: close, as a refused connection would look end to end.
            _ => return,
        };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let client = Arc::new(client);
    let server = Arc::new(server);
    let up = pump(
        client.clone(),
        server.clone(),
        Direction::Request,
        fault.clone(),
    );
    let down = pump(server.clone(), client.clone(), Direction::Response, fault);
    let ended = tokio::select! {
        ended = up => ended,
        ended = down => ended,
    };
    if ended == Ended::Reset {
        // SO_LINGER 0: closing sends RST instead of FIN.
        let _ = client.set_zero_linger();
    }
    // Both streams close here (the pumps' clones are gone with their futures).
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// A side closed or failed: close normally.
    Closed,
    /// A reset was injected.
    Reset,
}

/// Waits until the current fault lets bytes through.
async fn passable(fault: &mut watch::Receiver<NetFault>) {
    // An error means the proxy is gone; the connection is about to be dropped anyway.
    let _ = fault.wait_for(|f| *f != NetFault::Blackhole).await;
}

/// A chunk, when it may be written, and whether the connection is reset after it.
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
    then_reset: bool,
}

/// Moves bytes `from` → `to` under the current fault: a reader that applies the fault to
/// each chunk it reads, and a writer that delivers the chunks at their due time.
async fn pump(
    from: Arc<TcpStream>,
    to: Arc<TcpStream>,
    direction: Direction,
    fault: watch::Receiver<NetFault>,
) -> Ended {
    let (queue, mut chunks) = mpsc::unbounded_channel::<Chunk>();
    let mut read_fault = fault.clone();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match read_some(&from, &mut buf).await {
                Some(n) => n,
                None => return,
            };
            passable(&mut read_fault).await;
            let current = *read_fault.borrow();
            let mut chunk = Chunk {
                due: Instant::now(),
                bytes: buf[..n].to_vec(),
                then_reset: false,
            };
            match current {
                NetFault::Latency(delay) => chunk.due += delay,
                NetFault::ResetMidResponse if direction == Direction::Response => {
                    chunk.bytes.truncate(n / 2);
                    chunk.then_reset = true;
                }
                _ => {}
            }
            let reset = chunk.then_reset;
            if queue.send(chunk).is_err() || reset {
                return;
            }
        }
    };
    let mut write_fault = fault;
    let writer = async move {
        while let Some(chunk) = chunks.recv().await {
            tokio::time::sleep_until(chunk.due).await;
            passable(&mut write_fault).await;
            if !write_all(&to, &chunk.bytes).await {
                return Ended::Closed;
            }
            if chunk.then_reset {
                return Ended::Reset;
            }
        }
        Ended::Closed
    };
    // The writer drains what the reader queued, also after the reader stopped; when the
    // writer stops (the other side failed, or a reset), so does the reader.
    tokio::pin!(writer);
    tokio::select! {
        () = reader => writer.await,
        ended = &mut writer => ended,
    }
}

/// Reads what is there; `None` at end of stream or on an error.
async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    loop {
        stream.readable().await.ok()?;
        match stream.try_read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

/// Writes all of `bytes`; `false` when the stream failed.
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if stream.writable().await.is_err() {
            return false;
        }
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An echo server on a free loopback port.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("echo listens");
        let addr = listener.local_addr().expect("echo address");
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn connect(proxy: &FaultProxy) -> TcpStream {
        TcpStream::connect((Ipv4Addr::LOCALHOST, proxy.port()))
            .await
            .expect("the proxy accepts")
    }

    async fn round_trip(conn: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
        conn.write_all(bytes).await.expect("write");
        let mut buf = vec![0u8; bytes.len()];
        conn.read_exact(&mut buf).await.expect("read the echo");
        buf
    }

    /// Nothing arrives within `wait`: no data, no end of stream, no error.
    async fn silent(conn: &mut TcpStream, wait: Duration) {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(wait, conn.read(&mut buf)).await;
        assert!(read.is_err(), "expected silence, got {read:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blackhole_holds_open_and_new_connections_silently_until_it_ends() {
        let proxy = FaultProxy::start(echo().await).await;
        let mut open = connect(&proxy).await;
        assert_eq!(round_trip(&mut open, b"before").await, b"before");

        proxy.set(NetFault::Blackhole);
        open.write_all(b"held")
            .await
            .expect("write into the blackhole");
        silent(&mut open, Duration::from_millis(300)).await;
        let mut new = connect(&proxy).await;
        new.write_all(b"new")
            .await
            .expect("write into the blackhole");
        silent(&mut new, Duration::from_millis(300)).await;

        proxy.set(NetFault::None);
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.expect("held bytes arrive");
        assert_eq!(&buf, b"held");
        let mut buf = [0u8; 3];
        new.read_exact(&mut buf)
            .await
            .expect("the new connection works");
        assert_eq!(&buf, b"new");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn latency_delays_each_direction() {
        let proxy = FaultProxy::start(echo().await).await;
        let mut conn = connect(&proxy).await;
        proxy.set(NetFault::Latency(Duration::from_millis(200)));
        let sent = Instant::now();
        assert_eq!(round_trip(&mut conn, b"slow").await, b"slow");
        // A lower bound only: the delay was injected both ways.
        assert!(
            sent.elapsed() >= Duration::from_millis(400),
            "{:?}",
            sent.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reset_cuts_the_answer_and_resets_the_connection() {
        let proxy = FaultProxy::start(echo().await).await;
        let mut conn = connect(&proxy).await;
        proxy.set(NetFault::ResetMidResponse);
        conn.write_all(b"0123456789").await.expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let error = loop {
            match conn.read(&mut buf).await {
                Ok(0) => panic!("a clean end of stream, not a reset (got {got:?})"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
        assert!(got.len() < 10, "the answer was not cut: {got:?}");
    }
}
