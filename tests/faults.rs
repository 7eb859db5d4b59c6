//! Faults between the tool and its servers: toxiproxy (Shopify's TCP fault proxy) sits between
//! `add` and moto (AWS_ENDPOINT_URL points at it) and between `add` and the kube-apiserver (a
//! kubeconfig copy whose server is the proxy; TLS still verified: the apiserver's certificate
//! covers 127.0.0.1). For each fault: what the user saw, the exit code, that nothing was done
//! beyond what was said, and that a re-run on a healthy network converges with no duplicate.
//!
//! Run through `scripts/test` (or `eval "$(scripts/sandbox env)"` first). Each test registers
//! `prod-eu` in a namespace of its own with a target role of its own (access entries are per
//! cluster and principal), through pod identity: 3 associations, an access entry and its
//! policy on AWS, then the Secret on the hub.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::toxiproxy::{Toxiproxy, port};
use common::*;
use serde_json::json;

const MOTO: &str = "moto";
const KUBE: &str = "kube";

/// The toxiproxy between the tool and the sandbox, and how to run the tool through it.
struct Faulty {
    toxiproxy: Toxiproxy,
    moto_url: String,
    kube_url: String,
    kubeconfig: std::path::PathBuf,
}

impl Faulty {
    fn new() -> Faulty {
        let moto = env("ARGOCD_EKS_SANDBOX_MOTO_URL");
        let apiserver = env("ARGOCD_EKS_SANDBOX_APISERVER");
        let toxiproxy = Toxiproxy::start();
        let moto_proxy = toxiproxy.proxy(MOTO, port(22), moto.trim_start_matches("http://"));
        let kube_proxy = toxiproxy.proxy(KUBE, port(23), apiserver.trim_start_matches("https://"));
        let kube_url = format!("https://{kube_proxy}");
        // The sandbox's kubeconfig with the proxy as the hub's server (same CA, same token).
        let original = std::fs::read_to_string(env("KUBECONFIG")).unwrap();
        assert!(
            original.contains(&apiserver),
            "the kubeconfig names {apiserver}"
        );
        let kubeconfig = std::env::temp_dir().join(format!(
            "argocd-eks-faults-{}.kubeconfig",
            std::process::id()
        ));
        std::fs::write(&kubeconfig, original.replace(&apiserver, &kube_url)).unwrap();
        Faulty {
            toxiproxy,
            moto_url: format!("http://{moto_proxy}"),
            kube_url,
            kubeconfig,
        }
    }

    /// How an error names the hub behind the proxy.
    fn hub_server(&self) -> String {
        format!(
            "the Kubernetes API of context arn:aws:eks:us-east-1:123456789012:cluster/argocd-hub at {}",
            self.kube_url
        )
    }

    /// Each proxy, and how an error names the server behind it.
    fn servers(&self) -> [(&'static str, String); 2] {
        [
            (KUBE, self.hub_server()),
            (MOTO, format!("EKS at {}", self.moto_url)),
        ]
    }

    fn env(&self) -> [(&str, &str); 2] {
        [
            ("AWS_ENDPOINT_URL", self.moto_url.as_str()),
            ("KUBECONFIG", self.kubeconfig.to_str().unwrap()),
        ]
    }

    /// `add prod-eu` for `scene` through the proxies, with `extra` flags.
    fn add(&self, scene: &Scene, extra: &[&str]) -> Timed {
        let started = Instant::now();
        let run = tool_with_env(&scene.add_args(extra), &self.env());
        Timed {
            run,
            took: started.elapsed(),
        }
    }

    /// The same `add`, started in the background.
    fn spawn_add(&self, scene: &Scene, extra: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_kubectl-argocd_eks"))
            .args(scene.add_args(extra))
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Heal the network and run the same `add` again: it must finish the job.
    async fn rerun_converges(&self, scene: &Scene) -> Timed {
        self.toxiproxy.heal();
        let rerun = self.add(scene, &[]);
        assert_eq!(
            rerun.run.code, 0,
            "re-run on a healthy network: {}",
            rerun.run
        );
        scene.assert_registered().await;
        // And once more: nothing left to do, not one write at either server.
        let (moto_start, audit_start) = (moto_log_len(), audit_log_len());
        let again = self.add(scene, &[]);
        assert_eq!(again.run.code, 0, "{}", again.run);
        assert!(
            again.run.stdout.contains("Nothing to change"),
            "a second healthy run changes nothing: {}",
            again.run
        );
        assert_eq!(moto_writes_since(moto_start), Vec::<String>::new());
        assert_eq!(
            kube_writes_since(&scene.namespace, audit_start),
            Vec::<String>::new()
        );
        rerun
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

struct Timed {
    run: Run,
    took: Duration,
}

/// One registration: its namespace and target role, and what it leaves on the servers.
struct Scene {
    namespace: String,
    role: String,
    /// IRSA and no access entry: AWS is only read (5 calls), the hub gets the annotations.
    irsa: bool,
}

impl Scene {
    fn new(test: &str) -> Scene {
        let namespace = argocd_namespace(test);
        let role = format!("arn:aws:iam::123456789012:role/f-{namespace}");
        Scene {
            namespace,
            role,
            irsa: false,
        }
    }

    fn irsa(test: &str) -> Scene {
        Scene {
            irsa: true,
            ..Scene::new(test)
        }
    }

    fn add_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "add",
            "prod-eu",
            "--region",
            "eu-west-1",
            "--argocd-namespace",
            &self.namespace,
            "--management-role-arn",
            MANAGEMENT,
            // The roles are made up for the test (or trust only pods.eks.amazonaws.com): add's
            // check before writing would refuse them.
            "--force",
            "--yes",
            "--no-color",
        ];
        if self.irsa {
            args.extend(["--identity", "irsa", "--skip-access"]);
        } else {
            args.extend(["--identity", "pod-identity", "--role-arn", &self.role]);
        }
        args.extend_from_slice(extra);
        args
    }

    /// (secrets, associations, access entries, access policies) this registration has.
    async fn state(&self) -> (usize, Vec<String>, usize, usize) {
        let secrets = cluster_secrets(&self.namespace).len();
        let associations: Vec<String> = association_ids(&self.namespace)
            .await
            .into_iter()
            .map(|(sa, _)| sa)
            .collect();
        let client = eks("eu-west-1").await;
        let entries = client
            .list_access_entries()
            .cluster_name("prod-eu")
            .send()
            .await
            .unwrap()
            .access_entries()
            .iter()
            .filter(|entry| **entry == self.role)
            .count();
        let policies = if entries == 0 {
            0
        } else {
            client
                .list_associated_access_policies()
                .cluster_name("prod-eu")
                .principal_arn(&self.role)
                .send()
                .await
                .unwrap()
                .associated_access_policies()
                .len()
        };
        (secrets, associations, entries, policies)
    }

    /// Exactly one of each: the Secret, one association per service account, the entry and
    /// its policy.
    async fn assert_registered(&self) {
        if self.irsa {
            assert_eq!(
                cluster_secrets(&self.namespace).len(),
                1,
                "{}",
                self.namespace
            );
            assert_irsa_annotations(&self.namespace, Some(MANAGEMENT));
            return;
        }
        let mut all: Vec<String> = SERVICE_ACCOUNTS.iter().map(|s| s.to_string()).collect();
        all.sort();
        assert_eq!(self.state().await, (1, all, 1, 1), "{}", self.namespace);
    }

    async fn assert_nothing_written(&self) {
        assert_eq!(
            self.state().await,
            (0, Vec::new(), 0, 0),
            "nothing may be written in {}",
            self.namespace
        );
    }
}

/// The one-line error the user saw.
fn error_line(run: &Run) -> &str {
    run.stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {run}"))
}

/// What the table in the note reports, printed with --nocapture.
fn report(fault: &str, timed: &Timed) {
    let said = timed
        .run
        .stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .or_else(|| {
            timed
                .run
                .stdout
                .lines()
                .find(|l| l.starts_with("Registered"))
        })
        .unwrap_or("");
    eprintln!(
        "FAULT | {fault} | exit {} | {:.1}s | {said}",
        timed.run.code,
        timed.took.as_secs_f64()
    );
}

#[tokio::test]
async fn latency_of_200ms_on_both_servers_slows_add_and_it_succeeds() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-lat200");
    for proxy in [MOTO, KUBE] {
        faulty
            .toxiproxy
            .toxic(proxy, "latency", "downstream", &json!({"latency": 200}));
    }
    let slow = faulty.add(&scene, &[]);
    report("latency 200 ms, AWS and hub", &slow);
    assert_eq!(slow.run.code, 0, "{}", slow.run);
    // Over ten dependent round trips, each waiting 200 ms more: connections and the hub's TLS
    // handshakes, the reads, the writes in their order, the read-back (~14 in all).
    assert!(slow.took > Duration::from_secs(2), "{:?}", slow.took);
    scene.assert_registered().await;
    faulty.rerun_converges(&scene).await;
}

#[tokio::test]
async fn latency_of_2s_passes_under_the_default_timeout_and_a_shorter_one_names_the_server() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-lat2s");
    faulty
        .toxiproxy
        .toxic(KUBE, "latency", "downstream", &json!({"latency": 2000}));
    let short = faulty.add(&scene, &["--timeout", "1s"]);
    report("latency 2 s on the hub, --timeout 1s", &short);
    assert_eq!(short.run.code, 1, "{}", short.run);
    let said = error_line(&short.run);
    assert!(
        said.contains(&format!("could not reach {}", faulty.hub_server()))
            && said.contains("no answer within 1s (--timeout)")
            && said.contains("--timeout"),
        "{said}"
    );
    assert!(short.took < Duration::from_secs(4), "{:?}", short.took);
    scene.assert_nothing_written().await;

    faulty.toxiproxy.heal();
    faulty
        .toxiproxy
        .toxic(MOTO, "latency", "downstream", &json!({"latency": 2000}));
    let short = faulty.add(&scene, &["--timeout", "1s"]);
    report("latency 2 s on AWS, --timeout 1s", &short);
    assert_eq!(short.run.code, 1, "{}", short.run);
    let said = error_line(&short.run);
    assert!(
        said.contains(&format!("could not reach EKS at {}", faulty.moto_url))
            && said.contains("no answer within 1s (--timeout)"),
        "{said}"
    );
    assert!(short.took < Duration::from_secs(4), "{:?}", short.took);
    scene.assert_nothing_written().await;

    // The same 2 s on AWS under the default timeout: slow, and done. (An IRSA registration
    // without access entry, whose 5 AWS calls are reads, to spare 2 s a call: the 200 ms
    // case has AWS writes under latency.)
    let scene = Scene::irsa("f-lat2s-irsa");
    faulty.toxiproxy.heal();
    faulty
        .toxiproxy
        .toxic(MOTO, "latency", "downstream", &json!({"latency": 2000}));
    let slow = faulty.add(&scene, &[]);
    report("latency 2 s on AWS, default timeout", &slow);
    assert_eq!(slow.run.code, 0, "{}", slow.run);
    // Two rounds of 2 s at least: DescribeCluster (beside the hub's reads), then the check
    // before writing's reads, sent together.
    assert!(slow.took > Duration::from_secs(4), "{:?}", slow.took);
    scene.assert_registered().await;
    faulty.rerun_converges(&scene).await;
}

#[tokio::test]
async fn a_peer_that_resets_every_connection_is_retried_then_named() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-reset");
    for (proxy, server) in faulty.servers() {
        faulty.toxiproxy.heal();
        faulty
            .toxiproxy
            .toxic(proxy, "reset_peer", "upstream", &json!({"timeout": 0}));
        // -vvv: the retries are in the log (kube: this tool's, AWS: the SDK's).
        let reset = faulty.add(&scene, &["-vvv"]);
        report(&format!("reset_peer on {proxy}"), &reset);
        assert_eq!(reset.run.code, 1, "{}", reset.run);
        let said = error_line(&reset.run);
        assert!(
            said.contains(&format!("could not reach {server}: ")) && said.contains("reset"),
            "{said}"
        );
        assert!(!said.contains("Error {"), "no Debug output: {said}");
        // Three attempts in all for the first call, then the error.
        if proxy == KUBE {
            // Two retries of each first GET (the two lists go out together).
            let retries = reset.run.stderr.matches("retrying GET").count();
            assert!((2..=4).contains(&retries), "{}", reset.run.stderr);
        } else {
            assert!(
                reset.run.stderr.contains("beginning attempt #3")
                    && !reset.run.stderr.contains("beginning attempt #4"),
                "{}",
                reset.run.stderr
            );
        }
        scene.assert_nothing_written().await;
    }
    faulty.rerun_converges(&scene).await;
}

#[tokio::test]
async fn a_connection_reset_once_is_retried_and_add_succeeds() {
    let faulty = Faulty::new();
    for (proxy, verbosity) in [(KUBE, "-vv"), (MOTO, "-vvv")] {
        faulty.toxiproxy.heal();
        let scene = Scene::new(&format!("f-resetonce-{proxy}"));
        faulty
            .toxiproxy
            .toxic(proxy, "reset_peer", "upstream", &json!({"timeout": 0}));
        let accepted = faulty.toxiproxy.accepted(proxy);
        let started = Instant::now();
        let mut child = faulty.spawn_add(&scene, &[verbosity]);
        // The first connection is reset; the network is healthy again a few milliseconds
        // later, before the retry (the hub's: 200 ms at least; the SDK's: a random backoff).
        let deadline = Instant::now() + Duration::from_secs(20);
        while faulty.toxiproxy.accepted(proxy) == accepted {
            assert!(Instant::now() < deadline, "the tool never reached {proxy}");
            assert!(child.try_wait().unwrap().is_none(), "the tool ended first");
            std::thread::sleep(Duration::from_millis(2));
        }
        faulty
            .toxiproxy
            .remove_toxic(proxy, "reset_peer", "upstream");
        let once = finish(child, started);
        report(
            &format!("reset_peer on {proxy}'s first connection only"),
            &once,
        );
        assert_eq!(once.run.code, 0, "{}", once.run);
        let stderr = &once.run.stderr;
        if proxy == KUBE {
            // add sends its first hub reads together (the two lists beside the rules review),
            // so the reset may catch each GET then in flight: each is retried once.
            let retried = stderr.matches("retrying GET").count();
            assert!((1..=2).contains(&retried), "{stderr}");
        } else {
            assert!(stderr.contains("beginning attempt #2"), "{stderr}");
        }
        scene.assert_registered().await;
        faulty.rerun_converges(&scene).await;
    }
}

#[tokio::test]
async fn a_black_hole_fails_within_the_timeout_naming_the_server() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-hole");
    for (proxy, server) in faulty.servers() {
        faulty.toxiproxy.heal();
        // Data goes in and nothing comes back, and the connection is never closed.
        faulty
            .toxiproxy
            .toxic(proxy, "timeout", "upstream", &json!({"timeout": 0}));
        let hole = faulty.add(&scene, &["--timeout", "2s"]);
        report(
            &format!("timeout (black hole) on {proxy}, --timeout 2s"),
            &hole,
        );
        assert_eq!(hole.run.code, 1, "{}", hole.run);
        let said = error_line(&hole.run);
        assert!(
            said.contains(&format!("could not reach {server}: "))
                && said.contains("no answer within 2s (--timeout)"),
            "{said}"
        );
        assert!(
            hole.took >= Duration::from_secs(2) && hole.took < Duration::from_secs(5),
            "{:?}",
            hole.took
        );
        scene.assert_nothing_written().await;
    }
    faulty.rerun_converges(&scene).await;
}

#[tokio::test]
async fn slow_closes_and_a_narrow_bandwidth_slow_add_and_it_succeeds() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-slowclose");
    for proxy in [MOTO, KUBE] {
        faulty
            .toxiproxy
            .toxic(proxy, "slow_close", "downstream", &json!({"delay": 2000}));
    }
    let slow = faulty.add(&scene, &[]);
    report("slow_close 2 s, AWS and hub", &slow);
    assert_eq!(slow.run.code, 0, "{}", slow.run);
    scene.assert_registered().await;
    faulty.rerun_converges(&scene).await;

    let scene = Scene::new("f-bandwidth");
    faulty.toxiproxy.heal();
    for proxy in [MOTO, KUBE] {
        for stream in ["upstream", "downstream"] {
            // KB/s: a few kilobytes per answer, so each takes a good part of a second.
            faulty
                .toxiproxy
                .toxic(proxy, "bandwidth", stream, &json!({"rate": 32}));
        }
    }
    let narrow = faulty.add(&scene, &[]);
    report("bandwidth 32 KB/s each way, AWS and hub", &narrow);
    assert_eq!(narrow.run.code, 0, "{}", narrow.run);
    scene.assert_registered().await;
    faulty.rerun_converges(&scene).await;
}

/// Wait until moto has answered `action` after entry `start` (its log entry has the answer's
/// status: the answer is on its way, not still being made); false when `child` ended first.
fn wait_for_moto(action: &str, start: usize, child: &mut std::process::Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if moto_log()
            .iter()
            .skip(start)
            .any(|r| r["action"] == action && r.get("status").is_some())
        {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("moto never saw {action}");
}

/// The steps the stopped run's report marks `status` (done, failed, not done), as it wrote them.
fn steps_marked(run: &Run, status: &str) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(status))
        .filter(|rest| rest.starts_with("  "))
        .map(|rest| rest.trim().to_owned())
        .collect()
}

fn finish(child: std::process::Child, started: Instant) -> Timed {
    let output = child.wait_with_output().unwrap();
    Timed {
        run: Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        took: started.elapsed(),
    }
}

#[tokio::test]
async fn aws_going_away_after_the_first_association_leaves_only_that_one() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-killaws");
    // Requests wait 150 ms in the proxy, time for the test to pull the plug between two.
    faulty
        .toxiproxy
        .toxic(MOTO, "latency", "upstream", &json!({"latency": 150}));
    let start = moto_log_len();
    let started = Instant::now();
    let mut child = faulty.spawn_add(&scene, &[]);
    assert!(wait_for_moto(
        "CreatePodIdentityAssociation",
        start,
        &mut child
    ));
    faulty.toxiproxy.set_enabled(MOTO, false);
    let killed = finish(child, started);
    report("AWS gone after the 1st association", &killed);
    assert_eq!(killed.run.code, 1, "{}", killed.run);
    let said = error_line(&killed.run);
    assert!(
        said.contains(&format!("could not reach EKS at {}", faulty.moto_url))
            && said.contains("(calling CreatePodIdentityAssociation)"),
        "{said}"
    );
    // What the report says was done is what is there, and nothing else.
    assert!(
        killed
            .run
            .stdout
            .contains("Stopped part way: 1 write(s) done, 1 failed, 4 not done"),
        "{}",
        killed.run
    );
    let done = steps_marked(&killed.run, "done");
    assert_eq!(done.len(), 1, "{}", killed.run);
    let (secrets, associations, entries, _) = scene.state().await;
    assert_eq!(
        (secrets, associations.len(), entries),
        (0, 1, 0),
        "only the first association was made: {associations:?}"
    );
    assert!(
        done[0].starts_with(&format!(
            "create PodIdentityAssociation {}/{}",
            scene.namespace, associations[0]
        )),
        "{done:?} vs {associations:?}"
    );
    let failed = steps_marked(&killed.run, "failed");
    assert!(
        failed.len() == 1 && failed[0].contains("could not reach EKS"),
        "{failed:?}"
    );
    assert_eq!(steps_marked(&killed.run, "not done").len(), 4);
    let rerun = faulty.rerun_converges(&scene).await;
    assert!(
        rerun
            .run
            .stdout
            .contains("5 created, 0 updated, 1 unchanged"),
        "the re-run makes what was missing and keeps the one made: {}",
        rerun.run
    );
}

#[tokio::test]
async fn the_hub_going_away_before_the_secret_leaves_aws_done_and_no_secret() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-killhub");
    // Hub requests wait 250 ms in the proxy: the Secret's apply is held there when it dies.
    faulty
        .toxiproxy
        .toxic(KUBE, "latency", "upstream", &json!({"latency": 250}));
    let start = moto_log_len();
    let started = Instant::now();
    let mut child = faulty.spawn_add(&scene, &[]);
    assert!(wait_for_moto("AssociateAccessPolicy", start, &mut child));
    faulty.toxiproxy.set_enabled(KUBE, false);
    let killed = finish(child, started);
    report("hub gone after the AWS writes, before the Secret", &killed);
    assert_eq!(killed.run.code, 1, "{}", killed.run);
    let said = error_line(&killed.run);
    assert!(
        said.contains(&format!("could not reach {}", faulty.hub_server()))
            && said.contains("Secret"),
        "{said}"
    );
    assert!(
        killed
            .run
            .stdout
            .contains("Stopped part way: 5 write(s) done, 1 failed, 0 not done"),
        "{}",
        killed.run
    );
    let failed = steps_marked(&killed.run, "failed");
    assert!(
        failed.len() == 1 && failed[0].starts_with(&format!("create Secret {}/", scene.namespace)),
        "{failed:?}"
    );
    let (secrets, associations, entries, policies) = scene.state().await;
    assert_eq!(
        (secrets, associations.len(), entries, policies),
        (0, 3, 1, 1),
        "AWS was done, the Secret was not"
    );
    let rerun = faulty.rerun_converges(&scene).await;
    assert!(
        rerun
            .run
            .stdout
            .contains("1 created, 0 updated, 5 unchanged"),
        "the re-run writes only the Secret: {}",
        rerun.run
    );
}

/// The calls of `action` moto logged since entry `start`, and how many of them were faulted.
fn calls_since(action: &str, start: usize) -> (usize, usize) {
    let calls: Vec<_> = moto_log()
        .into_iter()
        .skip(start)
        .filter(|r| r["action"] == action)
        .collect();
    let faulted = calls.iter().filter(|r| r.get("faulted").is_some()).count();
    (calls.len(), faulted)
}

#[tokio::test]
async fn throttling_and_server_errors_from_aws_are_retried_with_backoff() {
    // No proxy here: moto's own fault route answers the next calls with the error.
    let _toxiproxy_turn = Toxiproxy::start();
    let scene = Scene::new("f-throttle");
    common::faults::reset_aws_faults();
    // A throttled answer, then a server error on the next write: the SDK's standard mode
    // retries each after a backoff, and both writes go through.
    common::faults::fail_aws(
        "CreatePodIdentityAssociation",
        &[&scene.namespace],
        429,
        "ThrottlingException",
        1,
    );
    common::faults::fail_aws(
        "CreateAccessEntry",
        &[&scene.role],
        500,
        "ServerException",
        1,
    );
    let start = moto_log_len();
    let started = Instant::now();
    let run = tool(&scene.add_args(&[]));
    let retried = Timed {
        run,
        took: started.elapsed(),
    };
    report("AWS 429 then 500 (moto faults)", &retried);
    assert_eq!(retried.run.code, 0, "{}", retried.run);
    assert_eq!(calls_since("CreatePodIdentityAssociation", start), (4, 1));
    assert_eq!(calls_since("CreateAccessEntry", start), (2, 1));
    scene.assert_registered().await;

    // Three server errors in a row: the third attempt fails too, and the run says so.
    let scene = Scene::new("f-unavailable");
    common::faults::fail_aws(
        "CreatePodIdentityAssociation",
        &[&scene.namespace],
        503,
        "ServiceUnavailableException",
        3,
    );
    let start = moto_log_len();
    let started = Instant::now();
    let run = tool(&scene.add_args(&[]));
    let failed = Timed {
        run,
        took: started.elapsed(),
    };
    report("AWS 503 x3 (moto faults)", &failed);
    common::faults::reset_aws_faults();
    assert_eq!(failed.run.code, 1, "{}", failed.run);
    assert!(
        error_line(&failed.run).contains("ServiceUnavailableException"),
        "{}",
        failed.run
    );
    assert_eq!(calls_since("CreatePodIdentityAssociation", start), (3, 3));
    assert!(
        failed
            .run
            .stdout
            .contains("Stopped part way: 0 write(s) done, 1 failed, 5 not done"),
        "{}",
        failed.run
    );
    scene.assert_nothing_written().await;
    let rerun = tool(&scene.add_args(&[]));
    assert_eq!(rerun.code, 0, "{rerun}");
    scene.assert_registered().await;
}

#[tokio::test]
async fn remove_with_aws_gone_changes_nothing_and_a_rerun_removes_it_all() {
    let faulty = Faulty::new();
    let scene = Scene::new("f-remove");
    let added = faulty.add(&scene, &[]);
    assert_eq!(added.run.code, 0, "{}", added.run);
    scene.assert_registered().await;
    let remove = |faulty: &Faulty| {
        let started = Instant::now();
        let run = tool_with_env(
            &[
                "remove",
                "prod-eu",
                "--region",
                "eu-west-1",
                "--argocd-namespace",
                &scene.namespace,
                "--yes",
                "--no-color",
            ],
            &faulty.env(),
        );
        Timed {
            run,
            took: started.elapsed(),
        }
    };
    faulty.toxiproxy.set_enabled(MOTO, false);
    let gone = remove(&faulty);
    report("remove with AWS gone (proxy disabled)", &gone);
    assert_eq!(gone.run.code, 1, "{}", gone.run);
    assert!(
        error_line(&gone.run).contains(&format!("could not reach EKS at {}", faulty.moto_url)),
        "{}",
        gone.run
    );
    // Not the Secret alone: it is what leads a later remove to the associations and entry.
    scene.assert_registered().await;
    faulty.toxiproxy.heal();
    let rerun = remove(&faulty);
    assert_eq!(rerun.run.code, 0, "{}", rerun.run);
    scene.assert_nothing_written().await;
}
