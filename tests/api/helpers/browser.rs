//! A real browser for the suite: headless Chromium opening one page that a tiny server of the
//! test serves, and nothing else. No WebDriver, no DevTools protocol: the page does its work in
//! its own script and posts the outcome as JSON to `/result` on its own origin (a same-origin
//! POST, which no CORS rule can get in the way of), where the test picks it up.
//!
//! The page server listens on 127.0.0.1, and Chromium resolves every `*.localhost` name to
//! loopback by itself, so a page at `http://acme.localhost:{port}/` runs on a tenant's origin
//! without touching `/etc/hosts`.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, Once},
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::mpsc;

/// What every launch passes, besides the profile directory and the URL.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    // The suite runs as root in a container, where Chromium's sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    // Containers have a small /dev/shm; Chromium's renderers crash when it fills up.
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    // No calls home (updates, safe browsing, sync) that could slow a run down or hang it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Loopback only: a proxy from the environment must not see (or break) the test's traffic.
    "--no-proxy-server",
    // Console messages go to the log, which a failing run prints.
    "--enable-logging=stderr",
    "--v=0",
];

/// How long the page may take before `run_page` gives up, by default.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one HTML page at `/` and forwards what the page POSTs to `/result` to the test.
pub struct PageServer {
    port: u16,
    page: Arc<Mutex<String>>,
    results: mpsc::UnboundedReceiver<Value>,
    handle: ServerHandle,
}

/// The page server's shared state, as its handlers see it.
struct PageState {
    page: Arc<Mutex<String>>,
    results: mpsc::UnboundedSender<Value>,
}

impl PageServer {
    /// Starts the server on a random loopback port, serving an empty page until `set_page`.
    pub async fn start() -> PageServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the page server");
        let port = listener.local_addr().expect("the page server's address").port();
        let page = Arc::new(Mutex::new(String::new()));
        let (sender, results) = mpsc::unbounded_channel();
        let state = web::Data::new(PageState { page: page.clone(), results: sender });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/", web::get().to(serve_page))
                .route("/result", web::post().to(take_result))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listening for the page server")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        PageServer { port, page, results, handle }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://{host}:{port}/`: the page, on whichever origin `host` makes it.
    pub fn url(&self, host: &str) -> String {
        format!("http://{host}:{}/", self.port)
    }

    /// `http://{host}:{port}`: the origin a browser on `url(host)` sends.
    pub fn origin(&self, host: &str) -> String {
        format!("http://{host}:{}", self.port)
    }

    /// Replaces the page served at `/` (see `script_page`).
    pub fn set_page(&self, html: String) {
        *self.page.lock().expect("the page lock") = html;
    }

    /// Opens `url` in a fresh headless Chromium and returns the JSON the page posts to
    /// `/result`. Fails the test, showing Chromium's log, when the page does not report within
    /// `timeout` or Chromium dies first. Chromium and every process it started are gone when
    /// this returns, or unwinds.
    pub async fn run_page(&mut self, url: &str, timeout: Duration) -> Value {
        // A report left over from an earlier page must not pass for this one's.
        while self.results.try_recv().is_ok() {}
        let mut chromium = Chromium::launch(url);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            tokio::select! {
                result = self.results.recv() => return result.expect("the page server stopped"),
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Some(status) = chromium.exited() {
                        panic!("Chromium exited ({status}) before {url} reported; its log:\n{}", chromium.log());
                    }
                    if tokio::time::Instant::now() >= deadline {
                        panic!("{url} did not report within {timeout:?}; Chromium's log:\n{}", chromium.log());
                    }
                }
            }
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        // Stops accepting at once; the server's task ends with the test's runtime anyway.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(self.handle.stop(false));
        }
    }
}

async fn serve_page(state: web::Data<PageState>) -> HttpResponse {
    let page = state.page.lock().expect("the page lock").clone();
    HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(("Cache-Control", "no-store")).body(page)
}

async fn take_result(state: web::Data<PageState>, body: web::Bytes) -> HttpResponse {
    let result = serde_json::from_slice(&body).unwrap_or_else(|e| {
        json!({"ok": false, "stage": "report", "error": format!("the report is not JSON ({e}): {}", String::from_utf8_lossy(&body))})
    });
    // The test may have stopped listening (it timed out): nothing left to tell.
    let _ = state.results.send(result);
    HttpResponse::NoContent().finish()
}

/// An HTML page whose script sees `config` as `CONFIG` and defines `async function main()`.
/// What `main` returns is posted to `/result`; if it throws, `{ok: false, stage, error}` is,
/// `stage` being a global the script sets before each step. Nothing is loaded from elsewhere.
pub fn script_page(config: &Value, script: &str) -> String {
    // JSON is a JavaScript expression; only `</script>` inside a string could end the script early.
    let config = serde_json::to_string(config).expect("serializing the page's config").replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>tenantbase browser test</title></head>
<body>
<script>
"use strict";
const CONFIG = {config};
let stage = "start";
let reported = false;

/** Posts the outcome to the page server, once; later reports (stray errors) are dropped. */
async function report(result) {{
  if (reported) return;
  reported = true;
  console.log("report: " + JSON.stringify(result));
  await fetch("/result", {{method: "POST", headers: {{"content-type": "application/json"}}, body: JSON.stringify(result)}});
}}

window.addEventListener("error", (event) => report({{ok: false, stage, error: String(event.message)}}));
window.addEventListener("unhandledrejection", (event) => report({{ok: false, stage, error: String(event.reason)}}));

{script}

main().then(report, (error) => report({{ok: false, stage, error: String(error)}}));
</script>
</body></html>
"#
    )
}

/// Makes sure Chromium is installed, once per test process (`scripts/test-tools chromium`).
fn ensure_chromium() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-tools");
        let status = Command::new(script).arg("chromium").status().expect("running scripts/test-tools chromium");
        assert!(status.success(), "scripts/test-tools chromium failed: {status}");
    });
}

/// Debian's browser binary itself when it is there: `/usr/bin/chromium` is a shell wrapper that
/// sources `/etc/chromium.d` (which adds extension flags, and whose /dev/shm check errors on some
/// machines) and only then execs this.
fn chromium_binary() -> PathBuf {
    let debian = Path::new("/usr/lib/chromium/chromium");
    if debian.exists() { debian.to_path_buf() } else { PathBuf::from("chromium") }
}

/// One headless Chromium with a profile (and home) of its own; killed, with every process it
/// started, on drop.
struct Chromium {
    child: Child,
    /// The profile, the home directory Chromium writes crash reports and caches under, and the log.
    dir: TempDir,
}

impl Chromium {
    fn launch(url: &str) -> Chromium {
        use std::os::unix::process::CommandExt;

        ensure_chromium();
        let dir = tempfile::tempdir().expect("a directory for Chromium");
        let log = File::create(dir.path().join("chromium.log")).expect("creating Chromium's log");
        let child = Command::new(chromium_binary())
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
            .arg(url)
            // Its own home: nothing lands in the real ~/.config or ~/.cache, and every process
            // it starts names this directory, which is how `Drop` finds stragglers.
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            // With --disable-dev-shm-usage its shared memory lives in TMPDIR; a killed browser
            // cannot remove it, the directory's drop does.
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("Chromium's log"))
            .stderr(log)
            // A process group of its own, so that it can be killed with all its children.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium_binary().display()));
        Chromium { child, dir }
    }

    /// The exit status, once Chromium has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("polling Chromium")
    }

    /// Chromium's log, but the D-Bus noise of a machine without a desktop session.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|line| !line.contains(":ERROR:dbus/")).collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = kill(&format!("-{}", self.child.id()));
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's crash handlers put themselves in process groups of their own; they quit
        // when the browser dies, but a test must not leave any behind, so wait for them to.
        let dir = self.dir.path().to_string_lossy().into_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stragglers = processes_naming(&dir);
            if stragglers.is_empty() {
                return;
            }
            if std::time::Instant::now() >= deadline {
                eprintln!("Chromium processes {stragglers:?} outlived the browser and SIGKILL");
                return;
            }
            for pid in stragglers {
                let _ = kill(&pid.to_string());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `kill -KILL -- {target}`: a pid, or `-{pgid}` for a whole process group.
fn kill(target: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill").args(["-KILL", "--", target]).stdout(Stdio::null()).stderr(Stdio::null()).status()
}

/// Live processes whose command line mentions `text` (a zombie's is empty).
fn processes_naming(text: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(text))
        })
        .collect()
}
