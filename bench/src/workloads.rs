//! The HTTP workloads (a)–(e), and a measured side: a server process with the store server
//! processes whose CPU time is charged to it.

use crate::{
    apps::{PATH_BIG, PATH_BIG_SEED, PATH_LOGIN, PATH_NONE, PATH_READ, PATH_WRITE},
    cpu::{self, CpuTally, Snapshot, StoreServer},
    driver::{self, LoadConfig, RunResult, Workload},
    server_process::ServerProcess,
};

/// Any failure of a measured run.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Workloads (a)–(e), identical on every stack.
pub const WORKLOADS: [Workload; 5] = [
    Workload {
        label: "(a) no session access",
        path: PATH_NONE,
        // With a session cookie, as a signed-in user's request to such a route would carry.
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(b) read-only",
        path: PATH_READ,
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(c) read + write",
        path: PATH_WRITE,
        seed: Some(PATH_WRITE),
        cookies: true,
    },
    Workload {
        label: "(d) 20 × 200 B, one key changes",
        path: PATH_BIG,
        seed: Some(PATH_BIG_SEED),
        cookies: true,
    },
    Workload {
        label: "(e) login storm",
        path: PATH_LOGIN,
        seed: None,
        cookies: false,
    },
];

/// One side of a comparison: its server process, the store servers it uses, and the CPU
/// charged to it over the measured rounds of the current workload.
#[derive(Debug)]
pub struct Side {
    /// "ours", "peer" or "bare".
    pub name: &'static str,
    /// The app process.
    pub server: ServerProcess,
    /// The store server processes to account.
    pub store: StoreServer,
    /// CPU and requests of the measured rounds so far.
    pub tally: CpuTally,
}

impl Side {
    /// A side with an empty tally.
    pub fn new(name: &'static str, server: ServerProcess, store: StoreServer) -> Self {
        Self {
            name,
            server,
            store,
            tally: CpuTally::default(),
        }
    }

    /// One measured run of `workload` on fresh seeded connections; see [`Side::measured`].
    pub async fn measure(
        &mut self,
        workload: &Workload,
        load: LoadConfig,
    ) -> Result<RunResult, Error> {
        let addr = self.server.addr;
        let run = async move { Ok::<_, Error>((driver::run(addr, workload, load).await?, ())) };
        self.measured(run).await.map(|(result, ())| result)
    }

    /// Awaits `run` (a load run against this side) with the CPU time of the app and of the
    /// store servers read just before and just after it, added to [`Side::tally`].
    pub async fn measured<T>(
        &mut self,
        run: impl Future<Output = Result<(RunResult, T), Error>>,
    ) -> Result<(RunResult, T), Error> {
        let app = [self.server.pid];
        let mut store_pids = self.store.pids().await?;
        let threads_before = cpu::threads_cpu_us(self.server.pid);
        let (app_before, store_before) = (Snapshot::of(&app), Snapshot::of(&store_pids));
        let (result, rest) = run.await?;
        let app_after = Snapshot::of(&app);
        for (name, after) in cpu::threads_cpu_us(self.server.pid) {
            let before = threads_before.get(&name).copied().unwrap_or(0);
            *self.tally.threads.entry(name).or_insert(0) += after.saturating_sub(before);
        }
        // Backends that appeared during the run count from zero.
        for pid in self.store.pids().await? {
            if !store_pids.contains(&pid) {
                store_pids.push(pid);
            }
        }
        let store_after = Snapshot::of(&store_pids);
        self.tally.app_us += app_before.used_until(&app_after);
        self.tally.store_us += store_before.used_until(&store_after);
        self.tally.requests += result.requests;
        Ok((result, rest))
    }

    /// The CPU per request of the rounds since the last call (and the app's by thread
    /// name), and a fresh tally.
    pub fn take_cpu(&mut self) -> (Option<cpu::CpuPerRequest>, Vec<cpu::ThreadCpu>) {
        let tally = std::mem::take(&mut self.tally);
        (
            tally.per_request(self.store.is_some()),
            tally.threads_per_request(),
        )
    }
}
