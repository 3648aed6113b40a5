//! Test support for the examples (feature `testing`): a process harness, a cookie-keeping
//! HTTP client, the contract scenario list, and a WebDriver client for headless Chromium.

pub mod attacks;
pub mod browser;
mod client;
pub mod concurrency;
pub mod contract;
pub mod cookie_headers;
pub mod counter_load;
pub mod daemon;
pub mod failover;
pub mod fault_proxy;
pub mod interop;
pub mod network_fault;
pub mod node;
pub mod outage;
/// The Sentinel deployment `cargo xtask` starts (one master, two replicas, three
/// sentinels), the same source file, for tests that need a private one to kill.
#[path = "../../../../xtask/src/redis_sentinel.rs"]
pub mod sentinel_topology;
mod server;
pub mod shared;

pub use client::{Answer, COOKIE_NAME, Client};
pub use server::{Backend, Server, temp_path, test_key};

/// Expands to two modules, `memory` and `sqlite`, each with one `#[tokio::test]` per
/// [`contract`] scenario, run against a fresh process of the example binary `$bin`
/// (`env!("CARGO_BIN_EXE_<name>")`). The calling crate needs `tokio` with `macros` and
/// `rt-multi-thread`.
#[macro_export]
macro_rules! contract_tests {
    ($bin:expr) => {
        mod memory {
            $crate::__contract_cases!($bin, $crate::testing::Backend::Memory);
        }
        mod sqlite {
            $crate::__contract_cases!($bin, $crate::testing::Backend::Sqlite);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    ($bin:expr, $backend:expr) => {
        $crate::__contract_case!(
            $bin,
            $backend,
            health_is_ok_and_never_touches_the_session,
            anonymous_requests_store_nothing,
            the_counter_counts,
            me_is_read_only,
            json_login_regenerates_and_keeps_the_data,
            form_login_redirects_to_the_signed_in_page,
            login_needs_a_name,
            form_posts_redirect_home,
            logout_destroys_the_session,
            data_round_trips,
            data_keys_are_kept_apart_from_the_app,
            oversized_data_is_413_and_changes_nothing,
            sessions_need_a_signed_in_user,
            sessions_are_listed_and_others_revoked,
            a_session_is_signed_out_by_its_handle_only_by_its_user,
            a_cross_site_login_form_is_refused,
            unknown_routes_are_404,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_case {
    ($bin:expr, $backend:expr, $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let server = $crate::testing::Server::start($bin, $backend).await;
                $crate::testing::contract::$case(&server).await;
            }
        )*
    };
}
