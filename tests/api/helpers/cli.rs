//! Running the real `tenantbase` binary against a test database.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

use super::{TEST_JWT_SECRET, TestDatabase};

/// The binary with a clean environment, an empty working directory (so no `.env` is picked
/// up) and the database's runtime and owner URLs.
pub struct Cli {
    workdir: TempDir,
    vars: Vec<(String, String)>,
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// stdout and stderr together: tests do not care which one a message went to.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "tenantbase exited with {}:\n{}", self.status, self.text());
        self
    }
}

impl Cli {
    pub fn new(database: &TestDatabase) -> Self {
        Cli::on(&database.runtime_url()).var("TB_MIGRATE_DATABASE_URL", database.owner_url())
    }

    /// The binary on any database URL (e.g. the SQLite file of a running test app).
    pub fn on(database_url: &str) -> Self {
        let workdir = tempfile::tempdir().expect("creating a working dir");
        let data_dir = workdir.path().join("data");
        Cli {
            vars: vec![
                ("TB_DATABASE_URL".into(), database_url.to_string()),
                ("TB_DATA_DIR".into(), data_dir.display().to_string()),
                ("TB_JWT_SECRET".into(), TEST_JWT_SECRET.into()),
            ],
            workdir,
        }
    }

    /// Sets (or overrides) an environment variable for every later run.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.retain(|(existing, _)| existing != name);
        self.vars.push((name.to_string(), value.into()));
        self
    }

    /// A scratch directory inside the working dir, e.g. for manifests.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.workdir.path().join(name);
        std::fs::create_dir_all(&dir).expect("creating a subdir");
        dir
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenantbase"));
        command
            .args(args)
            .current_dir(self.workdir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.vars.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null());
        command
    }

    /// Runs to completion.
    pub async fn run(&self, args: &[&str]) -> CliOutput {
        self.run_for(args, Duration::from_secs(120))
            .await
            .unwrap_or_else(|| panic!("tenantbase {args:?} did not finish within 120 s"))
    }

    /// Runs for at most `timeout`; `None` (after killing it) if it was still running then.
    pub async fn run_for(&self, args: &[&str], timeout: Duration) -> Option<CliOutput> {
        let mut command = self.command(args);
        let out_path = self.workdir.path().join("stdout.txt");
        let err_path = self.workdir.path().join("stderr.txt");
        command.stdout(File::create(&out_path).expect("stdout file"));
        command.stderr(File::create(&err_path).expect("stderr file"));
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("starting the tenantbase binary");
            let started = Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().expect("waiting for tenantbase") {
                    break Some(status);
                }
                if started.elapsed() > timeout {
                    child.kill().ok();
                    child.wait().ok();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            status.map(|status| CliOutput { status, stdout: read(&out_path), stderr: read(&err_path) })
        })
        .await
        .expect("the runner thread")
    }
}

/// `tenantbase serve` running as its own process, as operators run it.
pub struct Served {
    child: Child,
    pub port: u16,
    out_path: PathBuf,
    err_path: PathBuf,
}

impl Cli {
    /// Starts `tenantbase serve` on a free loopback port and waits until it answers.
    pub async fn serve(&self) -> Served {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut command = self.command(&["serve"]);
        let (out_path, err_path) = (self.workdir.path().join("serve.out"), self.workdir.path().join("serve.err"));
        command.env("TB_BIND", format!("127.0.0.1:{port}"));
        command.stdout(File::create(&out_path).expect("stdout file"));
        command.stderr(File::create(&err_path).expect("stderr file"));
        let child = command.spawn().expect("starting tenantbase serve");
        let served = Served { child, port, out_path, err_path };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client.get(served.url("/health/live")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "tenantbase serve did not start:\n{}",
                served.output_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    }
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends a signal (`INT`, `TERM`, `KILL`) to the server process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Waits up to `timeout` for the process to exit; its exit status and output.
    pub async fn wait(mut self, timeout: Duration) -> CliOutput {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for tenantbase") {
                return CliOutput { status, stdout: read(&self.out_path), stderr: read(&self.err_path) };
            }
            assert!(started.elapsed() < timeout, "tenantbase did not exit within {timeout:?}:\n{}", self.output_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output_text(&self) -> String {
        format!("{}\n{}", read(&self.out_path), read(&self.err_path))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}
