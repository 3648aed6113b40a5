//! A minimal WebDriver client for a headless Chromium driven by `chromedriver` (Debian
//! packages `chromium` and `chromium-driver`), speaking the W3C protocol over HTTP/JSON.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for the driver, and for an element or text to appear.
const WAIT: Duration = Duration::from_secs(15);
/// Chromium flags for running as root in a container without a display.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,768",
];

/// One headless browser session; dropping it ends chromedriver and the browser.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    profile: PathBuf,
}

/// An executable found on `PATH` (or in `/usr/bin`).
fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. Panics, naming the Debian packages,
    /// when either is missing.
    pub async fn start() -> Self {
        let missing = "install the Debian packages `chromium` and `chromium-driver` \
                       (apt-get install -y chromium chromium-driver)";
        let chromium = find(&["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("chromium not found: {missing}"));
        let chromedriver =
            find(&["chromedriver"]).unwrap_or_else(|| panic!("chromedriver not found: {missing}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser ends Chromium too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} ({missing})", chromedriver.display()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        let profile = super::temp_path("chromium-profile");
        let mut browser = Self {
            driver,
            http,
            session: format!("http://127.0.0.1:{port}"),
            profile,
        };
        browser.wait_ready().await;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", browser.profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = browser.call("POST", "/session", capabilities).await;
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session id in {created}"))
            .to_owned();
        browser.session = format!("{}/session/{id}", browser.session);
        browser
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited with {status}");
            }
            let url = format!("{}/status", self.session);
            if let Ok(r) = self.http.get(url).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "chromedriver not ready after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command relative to the session; its `value`. Panics on an error.
    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// One WebDriver command; `Err` with the driver's answer when it fails.
    async fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("WebDriver {method} {path}: {e}"))?;
        let ok = response.status().is_success();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("WebDriver {method} {path}: not JSON: {e}"))?;
        if !ok {
            return Err(format!("WebDriver {method} {path} failed: {answer}"));
        }
        Ok(answer["value"].clone())
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url })).await;
    }

    /// Reloads the page.
    pub async fn refresh(&self) {
        self.call("POST", "/refresh", json!({})).await;
    }

    /// The elements matching `css` now.
    async fn all(&self, css: &str) -> Result<Vec<String>, String> {
        let found = self
            .try_call(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        self.all(css).await.is_ok_and(|found| !found.is_empty())
    }

    /// Waits until exactly `n` elements match `css` (across page loads).
    pub async fn wait_count(&self, css: &str, n: usize) {
        self.poll(&format!("{n} elements {css:?}"), || async {
            match self.all(css).await?.len() {
                found if found == n => Ok(()),
                found => Err(format!("{found} match")),
            }
        })
        .await;
    }

    /// Waits until an element matches `css` (the page may still be loading).
    pub async fn wait_for(&self, css: &str) {
        self.element(css).await;
    }

    /// The first element matching `css`, waiting for it to appear.
    async fn element(&self, css: &str) -> String {
        self.poll(&format!("an element {css:?}"), || async {
            self.all(css)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| "none yet".to_owned())
        })
        .await
    }

    /// Retries `attempt` until it succeeds, panicking after [`WAIT`] with the last error.
    async fn poll<T, F, Fut>(&self, what: &str, mut attempt: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let started = Instant::now();
        loop {
            match attempt().await {
                Ok(value) => return value,
                Err(e) if started.elapsed() > WAIT => {
                    let url = self.try_call("GET", "/url", Value::Null).await;
                    let source = self.try_call("GET", "/source", Value::Null).await;
                    let source: String = source
                        .map(|s| s.as_str().unwrap_or_default().chars().take(2000).collect())
                        .unwrap_or_else(|e| e);
                    panic!("waited {WAIT:?} for {what}: {e}\nat {url:?}, page:\n{source}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn try_text(&self, css: &str) -> Result<String, String> {
        let id = self
            .all(css)
            .await?
            .into_iter()
            .next()
            .ok_or("no such element")?;
        let text = self
            .try_call("GET", &format!("/element/{id}/text"), Value::Null)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The visible text of the element matching `css`, waiting for it to appear.
    pub async fn text(&self, css: &str) -> String {
        self.poll(&format!("the text of {css:?}"), || self.try_text(css))
            .await
    }

    /// Waits until the element matching `css` shows `expected` (across page loads).
    pub async fn wait_text(&self, css: &str, expected: &str) {
        self.poll(&format!("{css:?} to show {expected:?}"), || async {
            match self.try_text(css).await? {
                text if text == expected => Ok(()),
                text => Err(format!("it shows {text:?}")),
            }
        })
        .await;
    }

    /// Saves a PNG screenshot of the page to `path` (creating its directory).
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {dir:?}: {e}"));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    }

    /// Checks that the PNG at `path` is a rendered page, not a blank one: a PNG of the
    /// window's size, and more than twice the bytes of `blank` (a screenshot of an empty
    /// page: flat pixels compress to almost nothing, text and boxes do not).
    pub fn assert_rendered(path: &Path, blank: &Path) {
        let png = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
        let empty = std::fs::read(blank).unwrap_or_else(|e| panic!("reading {blank:?}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{path:?} is not a PNG"
        );
        let dimension = |at: usize| {
            png.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        let (width, height) = (dimension(16), dimension(20));
        assert!(
            width.is_some_and(|w| w >= 400) && height.is_some_and(|h| h >= 300),
            "{path:?} is {width:?} x {height:?}"
        );
        assert!(
            png.len() > 2 * empty.len(),
            "{path:?} ({} bytes) is no bigger than a blank page ({} bytes): nothing rendered",
            png.len(),
            empty.len()
        );
    }

    /// Ends the browser session cleanly.
    pub async fn quit(self) {
        self.call("DELETE", "", Value::Null).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver leads its own process group: end it and the browser it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
