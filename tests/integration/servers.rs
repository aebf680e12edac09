//! Real servers for the scale-out tests, started on free loopback ports and stopped (by process
//! id) when the test ends, whether it passed or not. Every wait is bounded.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound once, then released for the server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until `port` accepts connections, at most `limit`.
pub fn wait_for_port(port: u16, limit: Duration, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on port {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within {limit:?}");
}

/// A process the test started; killed and reaped when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The S3-compatible server binary (`s3s-fs`, installed by `.ci/run`), if present.
pub fn s3s_fs() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IOTDEST_S3S_FS") {
        return Some(PathBuf::from(p));
    }
    let candidates = [
        std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .map(|h| h.join("bin").join("s3s-fs")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| {
            Command::new("s3s-fs")
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .filter(|s| s.success())
                .map(|_| PathBuf::from("s3s-fs"))
        })
}

pub const ACCESS_KEY: &str = "iotdest-test";
pub const SECRET_KEY: &str = "iotdest-test-secret";

/// An s3s-fs server over `root` (each folder in it is a bucket) on a free port.
pub fn start_s3(binary: &Path, root: &Path) -> Server {
    std::fs::create_dir_all(root).expect("s3 root");
    let port = free_port();
    let mut child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start s3s-fs");
    wait_for_port(port, Duration::from_secs(20), &mut child, "s3s-fs");
    Server { child, port }
}

/// The environment an iotdest process needs to reach the test's S3 server.
pub fn s3_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ]
}

/// A Ballista scheduler and `executors` executors from the iotdest binary, on free loopback
/// ports, with `env` (the object store's settings) and `args` (rule options every node shares).
pub fn start_cluster(
    iotdest: &Path,
    executors: usize,
    env: &[(&str, String)],
    args: &[&std::ffi::OsStr],
) -> (Server, Vec<Server>) {
    let port = free_port();
    let mut child = Command::new(iotdest)
        .args(["cluster", "scheduler", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the scheduler");
    wait_for_port(port, Duration::from_secs(60), &mut child, "the scheduler");
    let scheduler = Server { child, port };
    let mut started = Vec::new();
    for _ in 0..executors {
        let (flight, grpc) = (free_port(), free_port());
        let mut child = Command::new(iotdest)
            .args(["cluster", "executor", "--scheduler"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--bind", "127.0.0.1", "--concurrency", "2"])
            .args([
                "--flight-port",
                &flight.to_string(),
                "--grpc-port",
                &grpc.to_string(),
            ])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start an executor");
        wait_for_port(flight, Duration::from_secs(60), &mut child, "an executor");
        started.push(Server {
            child,
            port: flight,
        });
    }
    (scheduler, started)
}
