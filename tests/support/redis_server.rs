//! Redis for the integration tests: the shared server at `REDIS_URL`, throwaway
//! `redis-server` processes on free loopback ports, and a 3-master cluster on 7101-7103.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tower_anonymous_auth::store::{RedisStore, Store};

/// `REDIS_URL`, or the local default.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{test}:{}:", uuid::Uuid::new_v4().simple())
}

/// A store on the shared server under a fresh prefix. Panics when `REDIS_URL` is unreachable:
/// a test without Redis fails, it does not pass silently.
pub async fn shared_store(test: &str) -> RedisStore {
    let url = redis_url();
    RedisStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach Redis at {url}: {err}"))
        .with_prefix(unique_prefix(test))
}

/// Deletes every key under the store's prefix on the shared server (tests that write many keys
/// call it at the end so that the shared Redis does not fill up).
pub async fn delete_prefix(store: &RedisStore) {
    use futures::StreamExt;
    let mut conn = redis::Client::open(redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let pattern = format!("{}*", store.prefix());
    let keys: Vec<String> = {
        let mut scan = redis::AsyncCommands::scan_match::<_, String>(&mut conn, pattern)
            .await
            .expect("scan");
        let mut keys = Vec::new();
        while let Some(key) = scan.next().await {
            keys.push(key.expect("scan item"));
        }
        keys
    };
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(&mut conn)
            .await
            .expect("unlink");
    }
}

/// [`shared_store`] as the `Arc<dyn Store>` the account suite wants; its keys are deleted
/// when the last clone is dropped.
pub async fn shared_dyn_store(test: &str) -> Arc<dyn Store> {
    Arc::new(super::cleanup::CleanedUp(shared_store(test).await))
}

/// Runs `redis-cli -p PORT args...` and returns its output (empty when it fails).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create temp dir");
    dir
}

/// A `redis-server` owned by one test, killed on drop. No persistence unless started with
/// [`start_persistent`](Self::start_persistent).
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    persistent: bool,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Self {
        let port = free_port();
        let mut server = Self {
            port,
            dir: fresh_dir(&format!("redis-{port}")),
            child: None,
            persistent: false,
        };
        server.restart();
        server
    }

    /// Like [`start`](Self::start), with an append-only file synced on every write
    /// (`--appendonly yes --appendfsync always`) in the server's own temp dir: every write
    /// Redis acknowledged survives a `SIGKILL` ([`stop`](Self::stop)) and a
    /// [`restart`](Self::restart).
    pub fn start_persistent() -> Self {
        let port = free_port();
        let mut server = Self {
            port,
            dir: fresh_dir(&format!("redis-aof-{port}")),
            child: None,
            persistent: true,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (`SIGKILL`: no shutdown, no final save) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (`SIGSTOP`): it keeps its connections but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Unfreezes a [`pause`](Self::pause)d server (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("server not running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// (Re)starts the server on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"].as_slice()
            } else {
                ["--appendonly", "no"].as_slice()
            })
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot spawn redis-server");
        self.child = Some(child);
        let port = self.port;
        wait_until("redis-server", Duration::from_secs(10), || {
            cli(port, &["ping"]).trim() == "PONG"
        });
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster's ports.
pub const CLUSTER_PORTS: [u16; 3] = [7101, 7102, 7103];

fn cluster_ok(port: u16) -> bool {
    cli(port, &["cluster", "info"]).contains("cluster_state:ok")
}

/// Starts a 3-master cluster on [`CLUSTER_PORTS`] once per test binary (or reuses one that is
/// already up) and returns the node URLs.
///
/// Nodes run under a small shell watchdog that kills them when this test process exits, so
/// no cluster outlives the test run. A lock file keeps two test processes from creating it
/// at once.
pub fn cluster_urls() -> Vec<String> {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(start_cluster);
    CLUSTER_PORTS
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect()
}

/// Names the test process whose watchdogs run the cluster nodes.
fn cluster_owner_file() -> std::path::PathBuf {
    std::env::temp_dir().join("taa-redis-cluster.owner")
}

/// Whether the cluster on [`CLUSTER_PORTS`] is up and stays up: started by a test process
/// that is still running, or by something other than these tests (no owner file). Nodes of a
/// test process that has exited are about to be killed by their watchdogs (within half a
/// second): the next test binary, started right after, must not reuse them.
fn cluster_usable() -> bool {
    if !CLUSTER_PORTS.iter().all(|&port| cluster_ok(port)) {
        return false;
    }
    let Ok(owner) = std::fs::read_to_string(cluster_owner_file()) else {
        return true;
    };
    let owner = owner.trim();
    if owner == std::process::id().to_string() || std::path::Path::new("/proc").join(owner).exists()
    {
        return true;
    }
    // Wait for the dead owner's watchdogs to stop its nodes.
    let gone = || {
        CLUSTER_PORTS
            .iter()
            .all(|&port| cli(port, &["ping"]).trim() != "PONG")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !gone() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if gone() {
        false
    } else {
        // Something else keeps them running: they are not ours to wait for.
        let _ = std::fs::remove_file(cluster_owner_file());
        true
    }
}

fn start_cluster() {
    if cluster_usable() {
        return;
    }
    let lock = std::env::temp_dir().join("taa-redis-cluster.lock");
    wait_until("the cluster lock", Duration::from_secs(60), || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
            .is_ok()
            || lock_is_stale(&lock)
    });
    if !cluster_usable() {
        for &port in &CLUSTER_PORTS {
            if cli(port, &["ping"]).trim() != "PONG" {
                spawn_cluster_node(port);
            }
        }
        let _ = std::fs::write(cluster_owner_file(), std::process::id().to_string());
        for &port in &CLUSTER_PORTS {
            wait_until("a cluster node", Duration::from_secs(10), || {
                cli(port, &["ping"]).trim() == "PONG"
            });
        }
        let nodes: Vec<String> = CLUSTER_PORTS
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("cannot run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        wait_until("cluster_state:ok", Duration::from_secs(30), || {
            CLUSTER_PORTS.iter().all(|&port| cluster_ok(port))
        });
    }
    let _ = std::fs::remove_file(&lock);
}

fn lock_is_stale(lock: &std::path::Path) -> bool {
    let stale = std::fs::metadata(lock)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(60));
    if stale {
        let _ = std::fs::remove_file(lock);
    }
    false
}

fn spawn_cluster_node(port: u16) {
    let dir = fresh_dir(&format!("cluster-{port}"));
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --cluster-enabled yes \
         --cluster-config-file nodes.conf --save '' --appendonly no --dir '{dir}' \
         >/dev/null 2>&1 & node=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $node 2>/dev/null; do sleep 0.5; done; \
         kill $node 2>/dev/null; rm -rf '{dir}'",
        dir = dir.display(),
        parent = std::process::id(),
    );
    // The watchdogs live as long as the test process; their handles are kept here.
    static WATCHDOGS: Mutex<Vec<Child>> = Mutex::new(Vec::new());
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot spawn a cluster node");
    WATCHDOGS
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .push(watchdog);
}

/// A store on the cluster under a fresh prefix.
pub async fn cluster_store(test: &str) -> RedisStore {
    let urls = tokio::task::spawn_blocking(cluster_urls)
        .await
        .expect("cluster start panicked");
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisStore::connect_cluster(&urls)
        .await
        .unwrap_or_else(|err| panic!("cannot reach the test cluster: {err}"))
        .with_prefix(unique_prefix(test))
}

/// [`cluster_store`] as the `Arc<dyn Store>` the account suite wants.
pub async fn cluster_dyn_store(test: &str) -> Arc<dyn Store> {
    Arc::new(cluster_store(test).await)
}
