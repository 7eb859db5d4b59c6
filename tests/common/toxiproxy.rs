//! A toxiproxy server of the test's own (scripts/build-toxiproxy's binary), driven through its
//! HTTP API on loopback: proxies in front of the sandbox's servers, toxics on them.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One toxiproxy at a time (its ports are fixed): tests that use it run one after another.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The port `offset` above the sandbox's port base (toxiproxy's: base + 21 and up; the
/// sandbox itself uses base + 0..20).
pub fn port(offset: u16) -> u16 {
    let base: u16 = std::env::var("ARGOCD_EKS_SANDBOX_PORT_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30050);
    base + offset
}

/// toxiproxy-server: ARGOCD_EKS_TOXIPROXY (scripts/test sets it), else scripts/build-toxiproxy
/// (cached after its first build).
fn server_binary() -> String {
    if let Ok(path) = std::env::var("ARGOCD_EKS_TOXIPROXY")
        && !path.is_empty()
    {
        return path;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-toxiproxy");
    let output = Command::new(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/build-toxiproxy runs");
    assert!(output.status.success(), "scripts/build-toxiproxy failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub struct Toxiproxy {
    child: Child,
    api: String,
    /// What the server logged (one JSON object a line), read as it comes.
    log: Arc<Mutex<Vec<String>>>,
    _turn: MutexGuard<'static, ()>,
}

impl Toxiproxy {
    /// Start a toxiproxy server on loopback and wait until its API answers.
    pub fn start() -> Toxiproxy {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let api_port = port(21);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err(),
            "port {api_port} (toxiproxy's, ARGOCD_EKS_SANDBOX_PORT_BASE + 21) is taken: a toxiproxy left by an earlier run? Stop it first"
        );
        let mut child = Command::new(server_binary())
            .args(["-host", "127.0.0.1", "-port", &api_port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("toxiproxy-server starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [stdout, stderr] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push(line);
                }
            });
        }
        let toxiproxy = Toxiproxy {
            child,
            api: format!("http://127.0.0.1:{api_port}"),
            log,
            _turn: turn,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut toxiproxy = toxiproxy;
        while toxiproxy.call("GET", "/version", None).is_none() {
            if let Some(status) = toxiproxy.child.try_wait().unwrap() {
                panic!(
                    "toxiproxy-server ended ({status}): {:?}",
                    toxiproxy.log.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "toxiproxy did not answer on {}",
                toxiproxy.api
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        toxiproxy
    }

    /// One API call; None when it failed (not up yet, or an error status).
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Value> {
        let mut command = Command::new("curl");
        command.args(["-sf", "-X", method, &format!("{}{path}", self.api)]);
        if let Some(body) = body {
            command.args([
                "-H",
                "Content-Type: application/json",
                "-d",
                &body.to_string(),
            ]);
        }
        let output = command.output().expect("curl is on PATH");
        if !output.status.success() {
            return None;
        }
        Some(serde_json::from_slice(&output.stdout).unwrap_or(Value::Null))
    }

    fn must(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.call(method, path, body)
            .unwrap_or_else(|| panic!("toxiproxy {method} {path} {body:?} failed"))
    }

    /// A proxy named `name` listening on loopback port `listen`, forwarding to `upstream`
    /// (host:port). Returns its URL's authority (127.0.0.1:port).
    /// The sandbox's ports lie in Linux's ephemeral range, so a client socket of any process
    /// may hold `listen` for a while: then the proxy takes a port the kernel picks, and the
    /// address it listens on is what toxiproxy answers.
    pub fn proxy(&self, name: &str, listen: u16, upstream: &str) -> String {
        let create = |listen: String| {
            let body =
                json!({"name": name, "listen": listen, "upstream": upstream, "enabled": true});
            self.call("POST", "/proxies", Some(&body))
        };
        let created = create(format!("127.0.0.1:{listen}"))
            .or_else(|| create("127.0.0.1:0".to_owned()))
            .unwrap_or_else(|| panic!("toxiproxy could not make proxy {name} to {upstream}"));
        created["listen"]
            .as_str()
            .unwrap_or_else(|| panic!("toxiproxy's answer names no listen address: {created}"))
            .to_owned()
    }

    /// Add toxic `kind` (latency, reset_peer, timeout, slow_close, bandwidth, ...) to proxy
    /// `proxy` on the `stream` (upstream: towards the server; downstream: back to the tool).
    pub fn toxic(&self, proxy: &str, kind: &str, stream: &str, attributes: &Value) {
        self.must(
            "POST",
            &format!("/proxies/{proxy}/toxics"),
            Some(&json!({
                "name": format!("{kind}_{stream}"),
                "type": kind,
                "stream": stream,
                "toxicity": 1.0,
                "attributes": attributes,
            })),
        );
    }

    /// Take toxic `kind` on `stream` off proxy `proxy`.
    pub fn remove_toxic(&self, proxy: &str, kind: &str, stream: &str) {
        self.must(
            "DELETE",
            &format!("/proxies/{proxy}/toxics/{kind}_{stream}"),
            None,
        );
    }

    /// How many connections proxy `proxy` has accepted so far (from the server's log).
    pub fn accepted(&self, proxy: &str) -> usize {
        let name = format!("\"name\":\"{proxy}\"");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(&name) && line.contains("Accepted client"))
            .count()
    }

    /// Let connections through (true) or refuse them and cut the open ones (false), as a
    /// server that went away.
    pub fn set_enabled(&self, proxy: &str, enabled: bool) {
        self.must(
            "POST",
            &format!("/proxies/{proxy}"),
            Some(&json!({"enabled": enabled})),
        );
    }

    /// Every proxy enabled again and every toxic gone: the network is healthy.
    pub fn heal(&self) {
        self.must("POST", "/reset", None);
    }
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
