//! One coordinator per data dir: a second `switchyard serve` on the data dir of a running one
//! exits with an error naming the running one (pid, socket) instead of sled's lock error, and
//! after the first is SIGKILLed (its lock file left behind) a new one starts on that data dir.

use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_e2e::coordinator::{Coordinator, SWITCHYARD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_data_dir_names_the_first_and_a_sigkill_frees_the_dir() {
    let mut coord = Coordinator::start_default().await;
    let pid = coord.pid().expect("running");

    let mut second = Command::new(switchyard_e2e::binary(SWITCHYARD))
        .arg("serve")
        .arg("--config")
        .arg(coord.config_path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the second serve");
    // A bound, not an expectation: the second one must exit by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while second.try_wait().expect("poll").is_none() {
        if tokio::time::Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second switchyard serve on the same data dir did not exit");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = second.wait_with_output().expect("its output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the second serve succeeded: {stderr}"
    );
    let want = format!(
        "another coordinator (pid {pid}, socket {}) already runs on data dir {}; stop it or use another data dir",
        coord.socket().display(),
        coord.data_dir().display()
    );
    assert!(
        stderr.contains(&want),
        "stderr of the second serve:\n{stderr}"
    );
    // The first one still serves.
    let mut clients = coord.clients().await;
    let req = switchyard_proto::coordinator::v1::ListProvidersRequest {};
    clients
        .providers
        .list_providers(req)
        .await
        .expect("the first still answers");

    coord.kill();
    coord.restart().await;
    let record =
        std::fs::read_to_string(coord.data_dir().join("switchyard.lock")).expect("lock file");
    let new_pid = coord.pid().expect("running again");
    assert_ne!(new_pid, pid);
    assert_eq!(
        record,
        format!("pid {new_pid}, socket {}\n", coord.socket().display())
    );
}
