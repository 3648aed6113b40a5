//! Requests pushed through a stack's service in this process, no network: the workload the
//! instruction counts of `layer_cost` measure under callgrind. Every stack serves the same
//! paths; "bare" stacks answer them without a session layer, so ours − bare is the cost of
//! the layer alone.

use axum::{Router, body::Body, routing::get};
use http::{Request, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::{
    apps::{PATH_BIG, PATH_BIG_SEED, PATH_LOGIN, PATH_NONE, PATH_READ, PATH_WRITE},
    driver::Jar,
};

/// Any failure of an in-process request.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stacks `layer_cost` counts.
pub const STACKS: [&str; 5] = [
    "axum-bare",
    "axum-ours",
    "axum-peer",
    "actix-bare",
    "actix-ours",
];

/// A workload of the counts: (letter, measured path, seed path, keeps cookies).
pub const WORKLOADS: [(char, &str, Option<&str>, bool); 5] = [
    ('a', PATH_NONE, Some(PATH_WRITE), true),
    ('b', PATH_READ, Some(PATH_WRITE), true),
    ('c', PATH_WRITE, Some(PATH_WRITE), true),
    ('d', PATH_BIG, Some(PATH_BIG_SEED), true),
    ('e', PATH_LOGIN, None, false),
];

/// Requests sent before the counted ones (pools, caches, the allocator's arenas).
pub const WARMUP: usize = 200;

/// Bare axum serving every workload path with a constant body.
fn axum_bare() -> Router {
    async fn ok() -> &'static str {
        "1"
    }
    Router::new()
        .route(PATH_NONE, get(ok))
        .route(PATH_READ, get(ok))
        .route(PATH_WRITE, get(ok))
        .route(PATH_BIG_SEED, get(ok))
        .route(PATH_BIG, get(ok))
        .route(PATH_LOGIN, get(ok))
}

/// One client's state: its jar and whether it keeps cookies.
struct Visitor {
    jar: Jar,
    keep: bool,
}

impl Visitor {
    fn cookie(&self) -> Option<String> {
        self.jar.header()
    }
}

/// Sends `WARMUP` then `n` requests of `workload` (see [`WORKLOADS`]) through `stack`.
pub fn run(stack: &str, workload: char, n: usize) -> Result<(), Error> {
    let (_, path, seed, keep) = WORKLOADS
        .iter()
        .copied()
        .find(|w| w.0 == workload)
        .ok_or_else(|| format!("unknown workload {workload}"))?;
    match stack {
        "axum-bare" | "axum-ours" | "axum-peer" => {
            let router = match stack {
                "axum-bare" => axum_bare(),
                "axum-ours" => crate::apps::ours(session_core::MemoryStore::default())?,
                _ => crate::apps::peer(tower_sessions::MemoryStore::default()),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(axum_requests(router, path, seed, keep, n))
        }
        // Not `layer_cost` stacks: probes for profiling a whole backend path in one
        // process (`probe-redis-ours`, `probe-sqlite-peer`, …), the bench's own routers.
        probe if probe.starts_with("probe-") => {
            let mut parts = probe.splitn(3, '-').skip(1);
            let (Some(backend), Some(side)) = (parts.next(), parts.next()) else {
                return Err(format!("usage: probe-BACKEND-SIDE, not {probe}").into());
            };
            let side: crate::stacks::Side = side.parse()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let router = crate::stacks::router(backend, side, "session-bench-probe").await?;
                axum_requests(router, path, seed, keep, n).await
            })
        }
        "actix-bare" | "actix-ours" => {
            actix_web::rt::System::new().block_on(actix_requests(stack, path, seed, keep, n))
        }
        other => Err(format!("unknown stack {other}; known: {STACKS:?}").into()),
    }
}

/// One request through `router`; its headers, or an error for a non-2xx answer.
async fn send(
    router: &Router,
    path: &str,
    cookie: Option<String>,
) -> Result<http::HeaderMap, Error> {
    let mut request = Request::get(path).header(header::HOST, "127.0.0.1");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = router.clone().oneshot(request.body(Body::empty())?).await?;
    let headers = response.headers().clone();
    let status = response.status();
    response.into_body().collect().await?;
    if !status.is_success() {
        return Err(format!("{path} answered {status}").into());
    }
    Ok(headers)
}

async fn axum_requests(
    router: Router,
    path: &str,
    seed: Option<&str>,
    keep: bool,
    n: usize,
) -> Result<(), Error> {
    let mut visitor = Visitor {
        jar: Jar::default(),
        keep: true,
    };
    if let Some(seed) = seed {
        let headers = send(&router, seed, None).await?;
        visitor.jar.update(&headers);
    }
    visitor.keep = keep;
    for _ in 0..WARMUP + n {
        let headers = send(&router, path, visitor.cookie()).await?;
        if visitor.keep {
            visitor.jar.update(&headers);
        }
    }
    Ok(())
}

async fn actix_requests(
    stack: &str,
    path: &str,
    seed: Option<&str>,
    keep: bool,
    n: usize,
) -> Result<(), Error> {
    use actix_web::{App, HttpResponse, test, web};
    async fn ok() -> HttpResponse {
        HttpResponse::Ok().body("1")
    }
    let ours = stack == "actix-ours";
    let middleware = adapter_actix::SessionMiddleware::new(crate::apps::our_manager(
        session_core::MemoryStore::default(),
    )?);
    let app = test::init_service(
        App::new()
            .wrap(actix_web::middleware::Condition::new(ours, middleware))
            .configure(|config| {
                if ours {
                    crate::actix_apps::our_routes(config);
                } else {
                    for path in [
                        PATH_NONE,
                        PATH_READ,
                        PATH_WRITE,
                        PATH_BIG_SEED,
                        PATH_BIG,
                        PATH_LOGIN,
                    ] {
                        config.route(path, web::get().to(ok));
                    }
                }
            }),
    )
    .await;
    let mut visitor = Visitor {
        jar: Jar::default(),
        keep: true,
    };
    let count = if seed.is_some() {
        WARMUP + n + 1
    } else {
        WARMUP + n
    };
    for i in 0..count {
        let target = match seed {
            Some(seed) if i == 0 => seed,
            _ => path,
        };
        let mut request = test::TestRequest::get().uri(target);
        if let Some(cookie) = visitor.cookie() {
            request = request.insert_header((header::COOKIE.as_str(), cookie));
        }
        let response = test::call_service(&app, request.to_request()).await;
        if !response.status().is_success() {
            return Err(format!("{target} answered {}", response.status()).into());
        }
        if visitor.keep {
            for value in response.headers().get_all(header::SET_COOKIE.as_str()) {
                if let Ok(text) = value.to_str() {
                    visitor.jar.set_cookie(text);
                }
            }
        }
        visitor.keep = keep;
        let _ = test::read_body(response).await;
    }
    Ok(())
}
