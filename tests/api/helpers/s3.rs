//! Real S3-protocol servers for the file tests: s3s-fs (small, one bucket per directory) and
//! Garage (a production store), each on free loopback ports with generated keys and a fresh
//! data dir holding the bucket [`BUCKET`]. Both check SigV4 signatures, so presigned URLs are
//! tested for real.
//!
//! The binaries come from `scripts/test-tools` (once per machine, into `$TB_TOOLS_DIR`, default
//! `~/.cache/tenantbase/tools`). A watcher process kills a server and removes its data dir if
//! the test process dies without dropping it (Ctrl-C), so no server outlives its run.

use std::{
    fs::{self, File},
    io::Read,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig},
};
use tempfile::TempDir;
use uuid::Uuid;

/// The bucket every server starts with.
pub const BUCKET: &str = "tenantbase-test";
/// How long a server may take to accept requests (the first Garage start on a loaded machine
/// is the slowest case: about a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);

/// Which implementation an [`S3Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Kind {
    S3sFs,
    Garage,
}

/// A running S3 server of its own for one test; killed (and its data removed) on drop.
pub struct S3Server {
    kind: S3Kind,
    port: u16,
    endpoint: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    /// Program and arguments, kept so that `start` relaunches exactly the same server.
    command: Vec<String>,
    client: Client,
    child: Option<Child>,
    watcher: Option<Child>,
    /// The data (and `server.log`) of the server; outlives `stop` so `start` finds it again.
    dir: TempDir,
}

impl S3Server {
    /// s3s-fs on a free loopback port, with generated keys and a fresh data dir; the bucket
    /// [`BUCKET`] exists.
    pub async fn s3s_fs() -> S3Server {
        let bin = tool("s3s-fs", &S3S_FS);
        let dir = tempfile::tempdir().expect("creating the s3s-fs data dir");
        let root = dir.path().join("root");
        // s3s-fs maps buckets to the directories of its root.
        fs::create_dir_all(root.join(BUCKET)).expect("creating the bucket directory");
        let [port] = free_ports();
        let (access_key_id, secret_access_key) = generate_keys();
        let command = [
            bin.display().to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--access-key".into(),
            access_key_id.clone(),
            "--secret-key".into(),
            secret_access_key.clone(),
            root.display().to_string(),
        ]
        .into();
        // s3s-fs ignores the region (it is part of the signature scope all the same).
        let mut server =
            S3Server::new(S3Kind::S3sFs, port, "us-east-1", access_key_id, secret_access_key, command, dir);
        server.start().await;
        server
    }

    /// Garage 2.5 from a generated `garage.toml` (SQLite metadata, replication factor 1,
    /// loopback RPC and S3 ports, path-style only), with a one-node layout, an imported key
    /// and the bucket [`BUCKET`] that key may read, write and own.
    pub async fn garage() -> S3Server {
        let bin = tool("garage", &GARAGE);
        let dir = tempfile::tempdir().expect("creating the Garage data dir");
        let [port, rpc_port] = free_ports();
        let config = dir.path().join("garage.toml");
        // No `root_domain`: Garage then takes every request as path-style, which is what
        // `TB_S3_FORCE_PATH_STYLE=true` sends. No [admin] section: the CLI talks RPC.
        let toml = format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{port}"
"#,
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
            rpc_secret = random_hex(64),
        );
        fs::write(&config, toml).expect("writing garage.toml");
        let (access_key_id, secret_access_key) = generate_keys();
        let cli = |args: &[&str]| garage_cli(bin, &config, args);
        let command = [bin.display().to_string(), "-c".into(), config.display().to_string(), "server".into()].into();
        let mut server = S3Server::new(S3Kind::Garage, port, "garage", access_key_id, secret_access_key, command, dir);

        server.spawn();
        // The node key is written before the RPC port listens, and the CLI needs both.
        server.wait_for_port(rpc_port).await;
        let node = cli(&["node", "id", "-q"]);
        let node_id = node.trim().split('@').next().expect("a node id");
        cli(&["layout", "assign", "-z", "dc1", "-c", "1G", node_id]);
        cli(&["layout", "apply", "--version", "1"]);
        let (key, secret) = (server.access_key_id.clone(), server.secret_access_key.clone());
        cli(&["key", "import", "--yes", "-n", "tenantbase-test", &key, &secret]);
        cli(&["bucket", "create", BUCKET]);
        cli(&["bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", &key]);
        server.wait_until_serving().await;
        server
    }

    fn new(
        kind: S3Kind,
        port: u16,
        region: &str,
        access_key_id: String,
        secret_access_key: String,
        command: Vec<String>,
        dir: TempDir,
    ) -> S3Server {
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = build_client(&endpoint, region, &access_key_id, &secret_access_key);
        S3Server {
            kind,
            port,
            endpoint,
            region: region.to_string(),
            access_key_id,
            secret_access_key,
            command,
            client,
            child: None,
            watcher: None,
            dir,
        }
    }

    /// Which server this is, for tests that tolerate a difference (s3s-fs has no CORS API).
    pub fn kind(&self) -> S3Kind {
        self.kind
    }

    /// `http://127.0.0.1:{port}`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The S3 port, the same across `stop` and `start`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The region signatures are scoped to (Garage refuses any other).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// [`BUCKET`].
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// The `TB_*` variables that point tenantbase at this server.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TB_S3_ENDPOINT", self.endpoint.clone()),
            ("TB_S3_REGION", self.region.clone()),
            ("TB_S3_BUCKET", BUCKET.to_string()),
            ("TB_S3_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("TB_S3_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("TB_S3_FORCE_PATH_STYLE", "true".to_string()),
        ]
    }

    /// An S3 client with the server's keys, for asserting what the bucket holds. It never
    /// retries, so a request to a stopped server fails at once.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Every key in the bucket under `prefix`, in order.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut pages = self.client.list_objects_v2().bucket(BUCKET).prefix(prefix).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|e| panic!("listing {prefix:?} on {:?}: {e:?}", self.kind));
            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_string)));
        }
        keys
    }

    /// The object's bytes, or `None` when there is no such key.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        match self.client.get_object().bucket(BUCKET).key(key).send().await {
            Ok(output) => {
                let body = output.body.collect().await.unwrap_or_else(|e| panic!("reading {key:?}: {e}"));
                Some(body.into_bytes().to_vec())
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(e) => panic!("getting {key:?} from {:?}: {e:?}", self.kind),
        }
    }

    /// Writes an object directly (around tenantbase), e.g. one of another size than declared.
    pub async fn put_object(&self, key: &str, content_type: &str, body: &[u8]) {
        self.client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .content_type(content_type)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("putting {key:?} on {:?}: {e:?}", self.kind));
    }

    /// Kills the server (SIGKILL), so requests to its port fail. The data stays. Connections
    /// pooled by clients (this harness's, the app's) fail once more; new ones are refused.
    pub async fn stop(&mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        // The watcher first: it must not outlive its server's pid (the pid could be reused).
        for mut child in [self.watcher.take(), self.child.take()].into_iter().flatten() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Starts the server again on the same port with the same data and keys, and waits until
    /// the bucket answers. Does nothing when it is running. Take a new [`S3Server::client`]
    /// afterwards: one taken before keeps its pool of cut connections.
    pub async fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        // A fresh connection pool: the old one may hold connections the kill cut.
        self.client = build_client(&self.endpoint, &self.region, &self.access_key_id, &self.secret_access_key);
        self.spawn();
        self.wait_until_serving().await;
    }

    /// Launches the server process (and its watcher) without waiting for it.
    fn spawn(&mut self) {
        let log_path = self.dir.path().join("server.log");
        // Appended: a restarted server's log follows the previous one's.
        let log = File::options().create(true).append(true).open(&log_path).expect("opening server.log");
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.command[0]));
        let watcher = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill -9 {child}; rm -rf '{dir}'",
            parent = std::process::id(),
            child = child.id(),
            dir = self.dir.path().display(),
        );
        let watcher = Command::new("sh")
            .args(["-c", &watcher])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the server watcher");
        self.child = Some(child);
        self.watcher = Some(watcher);
    }

    /// Polls until the S3 port accepts connections and the bucket answers `HeadBucket` with
    /// our keys (Garage needs a moment after its layout is applied or it restarts).
    async fn wait_until_serving(&mut self) {
        self.wait_for_port(self.port).await;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let error = match self.client.head_bucket().bucket(BUCKET).send().await {
                Ok(_) => return,
                Err(e) => e,
            };
            self.assert_running();
            if Instant::now() > deadline {
                panic!("{:?} never served {BUCKET}: {error:?}\n{}", self.kind, self.log());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls until `port` accepts TCP connections (a loopback connect to a closed port is
    /// refused at once, so the blocking connect never stalls the runtime).
    async fn wait_for_port(&mut self, port: u16) {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            self.assert_running();
            assert!(Instant::now() < deadline, "{:?} never listened on {port}\n{}", self.kind, self.log());
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails with the server's log if its process has exited (e.g. its port was taken).
    fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("the server was started");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{:?} exited with {status}\n{}", self.kind, self.log());
        }
    }

    /// The last lines the server printed, for failure messages.
    fn log(&self) -> String {
        let mut text = String::new();
        File::open(self.dir.path().join("server.log")).and_then(|mut f| f.read_to_string(&mut text)).ok();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

static S3S_FS: OnceLock<PathBuf> = OnceLock::new();
static GARAGE: OnceLock<PathBuf> = OnceLock::new();

/// The binary `name`, installed by `scripts/test-tools` on first use in this process. That
/// can build for minutes (Garage: ~8); the script's flock makes concurrent callers wait.
fn tool(name: &str, installed: &'static OnceLock<PathBuf>) -> &'static Path {
    installed.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-tools");
        // stderr inherited: a first-time build says so instead of looking like a hang.
        let status = Command::new(&script)
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(status.success(), "{} {name} failed: {status}", script.display());
        let tools_dir = match std::env::var_os("TB_TOOLS_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/tenantbase/tools"),
        };
        let bin = tools_dir.join("bin").join(name);
        assert!(bin.is_file(), "{} is missing after scripts/test-tools", bin.display());
        bin
    })
}

/// Runs one `garage` CLI command against the node of `config`; returns its stdout.
fn garage_cli(bin: &Path, config: &Path, args: &[&str]) -> String {
    let output = Command::new(bin)
        .arg("-c")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running garage {args:?}: {e}"));
    assert!(
        output.status.success(),
        "garage {args:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn build_client(endpoint: &str, region: &str, access_key_id: &str, secret_access_key: &str) -> Client {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(access_key_id, secret_access_key, None, None, "tenantbase-test"))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// `N` distinct ports nothing listens on right now (all held until all are found). The server
/// binds them a moment later; another process taking one meanwhile shows up as the server
/// exiting, with its log.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("binding a free port"));
    listeners.map(|l| l.local_addr().expect("a bound port").port())
}

/// An access key id shaped like Garage's own (`GK` + 24 hex) and a 64-hex secret.
fn generate_keys() -> (String, String) {
    (format!("GK{}", random_hex(24)), random_hex(64))
}

/// Hex from v4 UUIDs: a few fixed version bits do not matter for throwaway test secrets.
fn random_hex(len: usize) -> String {
    let mut hex = String::new();
    while hex.len() < len {
        hex.push_str(&Uuid::new_v4().simple().to_string());
    }
    hex.truncate(len);
    hex
}
