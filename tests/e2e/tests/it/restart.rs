//! Crash handling: a plugin that dies during a call fails that call as retryable, is restarted
//! by the supervisor, and the next call succeeds against the new process.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use std::time::Duration;
use switchyard::host::{CallError, Plugin};
use switchyard_e2e::{
    deliver_request, fixture, leftovers, options, socket_root, wait_gone, webhook,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};

fn pid_of(plugin: &Plugin) -> u32 {
    plugin.pid().expect("plugin running")
}

#[tokio::test]
async fn a_plugin_sigkilled_during_a_call_fails_it_as_retryable_and_is_restarted() {
    switchyard_e2e::init_tracing();
    let root = socket_root();
    // The webhook plugin against a sink that holds its answer: once the sink has the request,
    // the call is certainly in flight inside the plugin.
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).delay(Duration::from_secs(60)));
    let plugin = Plugin::start(webhook(), options(root.path()))
        .await
        .expect("start");
    let old_pid = pid_of(&plugin);

    let slow = deliver_request("webhook", &json!({"url": sink.url()}));
    let call = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.deliver(slow).await }
    });
    assert_eq!(
        sink.wait_for_requests(1, Duration::from_secs(20))
            .await
            .len(),
        1
    );
    kill(
        Pid::from_raw(i32::try_from(old_pid).unwrap()),
        Signal::SIGKILL,
    )
    .expect("kill plugin");

    let err = call.await.expect("join").unwrap_err();
    assert!(matches!(err, CallError::Crashed), "{err}");
    assert!(err.is_retryable());

    assert!(plugin.wait_running().await, "plugin was not restarted");
    let new_pid = pid_of(&plugin);
    assert_ne!(new_pid, old_pid);
    assert!(
        wait_gone(old_pid, Duration::from_secs(10)).await,
        "old process not reaped"
    );
    sink.push_response(ResponseSpec::status(204));
    let again = deliver_request("webhook", &json!({"url": sink.url()}));
    let response = plugin.deliver(again).await.expect("deliver after restart");
    assert!(response.success, "{response:?}");

    plugin.stop().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn a_plugin_that_aborts_in_deliver_is_restarted() {
    let root = socket_root();
    let plugin = Plugin::start(fixture("crash-on-deliver"), options(root.path()))
        .await
        .expect("start");
    let old_pid = pid_of(&plugin);
    let err = plugin
        .deliver(deliver_request("echo", &json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Crashed), "{err}");
    assert!(plugin.wait_running().await);
    assert_ne!(pid_of(&plugin), old_pid);
    plugin.stop().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn calls_while_the_plugin_is_down_fail_fast_as_not_running() {
    let root = socket_root();
    // A long first backoff keeps the plugin down while we call.
    let opts = switchyard::host::HostOptions {
        restart_backoff_min: Duration::from_secs(30),
        ..options(root.path())
    };
    let plugin = Plugin::start(fixture("good"), opts).await.expect("start");
    let pid = pid_of(&plugin);
    kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).expect("kill plugin");
    assert!(
        wait_gone(pid, Duration::from_secs(10)).await,
        "killed plugin not reaped"
    );
    // The supervisor marks the plugin down right after reaping it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while plugin.is_running() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = plugin
        .deliver(deliver_request("echo", &json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::NotRunning) && err.is_retryable(),
        "{err}"
    );
    assert!(!plugin.is_running());
    plugin.stop().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}
