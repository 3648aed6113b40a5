//! Two managers on one axum router, each with its own backend and config: a long-lived
//! preferences session on Redis and a two-second admin session on PostgreSQL (issue 16).
//! Each backend holds only its own manager's session, each cookie reaches only its own
//! manager, and the admin session expires while the preferences stay. Services come from
//! the environment; an unreachable one fails the test.

use std::sync::Arc;
use std::time::Duration;

use adapter_axum::{
    Error, Key, Session, SessionConfig, SessionLayer, SessionManager, SessionStore,
};
use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::get;
use example_support::testing::Answer;
use example_support::testing::attacks::send_with_cookie_header;
use example_support::{StoreUrl, connect};

/// The admin session's marker.
struct Admin;

const PREFS: &str = "prefs";
const ADMIN: &str = "admin";

async fn set_theme(prefs: Session, Path(theme): Path<String>) -> Result<&'static str, Error> {
    prefs.insert("theme", theme).await?;
    Ok("ok")
}

async fn sign_in(admin: Session<Admin>, Path(user): Path<String>) -> Result<&'static str, Error> {
    admin.set_user(user).await?;
    Ok("ok")
}

async fn whoami(prefs: Session, admin: Session<Admin>) -> Result<String, Error> {
    let theme = prefs.get::<String>("theme").await?.unwrap_or_default();
    let user = admin.user().await?.unwrap_or_default();
    Ok(format!("{user}/{theme}"))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn store(url: &str, hint: &str) -> Arc<dyn SessionStore> {
    let url = StoreUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{hint}: {e}"))
}

fn manager(store: Arc<dyn SessionStore>, name: &str, idle: Duration) -> SessionManager {
    let config = SessionConfig::builder([Key::generate()])
        .secure(false)
        .cookie_name(name)
        .idle_timeout(Some(idle))
        .build()
        .expect("a valid config");
    SessionManager::new(store, config)
}

/// The value of the `Set-Cookie` for `name` in `answer`, if any.
fn set_cookie(answer: &Answer, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&prefix))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
}

/// Whether `store` holds a live session for cookie `value` of `manager`.
async fn holds(store: &Arc<dyn SessionStore>, manager: &SessionManager, value: &str) -> bool {
    let Ok(verified) = manager.config().codec().decode(value) else {
        return false;
    };
    let loaded = store.load(&verified.id.store_key()).await;
    loaded.expect("the store answers").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_on_redis_and_admin_on_postgres_stay_apart() {
    let redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let pg_url = env_or("POSTGRES_URL", "postgres://root@127.0.0.1:5432/test");
    let redis = store(&redis_url, "cannot reach Redis: start it or set REDIS_URL").await;
    let postgres = store(
        &pg_url,
        "cannot reach PostgreSQL: start it or set POSTGRES_URL",
    )
    .await;
    let prefs = manager(redis.clone(), PREFS, Duration::from_secs(30 * 24 * 3600));
    let admin = manager(postgres.clone(), ADMIN, Duration::from_secs(2));

    let app = Router::new()
        .route("/theme/{theme}", get(set_theme))
        .route("/sign-in/{user}", get(sign_in))
        .route("/whoami", get(whoami))
        .layer(SessionLayer::new(prefs.clone()))
        .layer(SessionLayer::<Admin>::marked(admin.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let get = |path: &'static str, cookies: String| {
        let base = base.clone();
        async move { send_with_cookie_header(&base, Method::GET, path, cookies.as_bytes()).await }
    };

    let answer = get("/theme/dark", String::new()).await;
    answer.expect(200);
    let prefs_cookie = set_cookie(&answer, PREFS).expect("a preferences cookie");
    assert_eq!(
        set_cookie(&answer, ADMIN),
        None,
        "the admin session was not touched"
    );
    assert!(
        holds(&redis, &prefs, &prefs_cookie).await,
        "preferences live on Redis"
    );
    assert!(!holds(&postgres, &prefs, &prefs_cookie).await);

    let answer = get("/sign-in/alice", format!("{PREFS}={prefs_cookie}")).await;
    answer.expect(200);
    let admin_cookie = set_cookie(&answer, ADMIN).expect("an admin cookie");
    assert_eq!(
        set_cookie(&answer, PREFS),
        None,
        "the preferences id does not rotate"
    );
    assert!(
        holds(&postgres, &admin, &admin_cookie).await,
        "admin lives on PostgreSQL"
    );
    assert!(!holds(&redis, &admin, &admin_cookie).await);

    let both = format!("{PREFS}={prefs_cookie}; {ADMIN}={admin_cookie}");
    assert_eq!(get("/whoami", both.clone()).await.body, "alice/dark");
    // Each cookie under the other's name: signed with the other key, so nobody at all.
    let swapped = format!("{PREFS}={admin_cookie}; {ADMIN}={prefs_cookie}");
    assert_eq!(get("/whoami", swapped).await.body, "/");

    // The admin session's idle timeout passes; the preferences' does not.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(get("/whoami", both).await.body, "/dark");
    assert!(
        !holds(&postgres, &admin, &admin_cookie).await,
        "admin expired"
    );
    assert!(
        holds(&redis, &prefs, &prefs_cookie).await,
        "preferences stay"
    );
}
