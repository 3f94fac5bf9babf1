//! Secret hygiene: a fresh plugin process gets configs whose `x-secret` fields all hold a
//! unique marker, serves Deliver (and TestConnection where declared), is stopped so its logs
//! are flushed, and then neither its stdout nor its stderr may contain the marker.

use std::time::Duration;

use switchyard_proto::go_plugin::Empty;
use switchyard_proto::plugin::v1::{ConfigKind, TestConnectionRequest};

use super::deliver::{buildable, deliver_request, example};
use super::{Cap, CheckFuture, Ctx, fail, skip};
use crate::client::request;
use crate::launcher::LaunchMode;

/// `secrets/not-in-output`.
pub(crate) fn not_in_output(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        cx.program()?;
        let marker = cx.marker.clone();
        let (ready, _) = buildable(cx)?;
        let holds = |s: String| s.contains(&marker);
        let marked: Vec<_> = ready
            .into_iter()
            .filter(|(_, b)| holds(b.config_json()) || holds(b.connection_json()))
            .collect();
        if marked.is_empty() {
            return Err(skip(
                "no built config holds an x-secret value; supply one with --config",
            ));
        }
        let mut running = cx.start(&LaunchMode::normal()).await?;
        let client = running.conn.plugin();
        let mut calls = 0;
        for (p, b) in &marked {
            let _ = client
                .clone()
                .deliver(request(
                    deliver_request(p, b, example(p)),
                    cx.call_timeout(),
                ))
                .await;
            calls += 1;
            if Cap::TestConnection.declared_by(p) {
                let msg = TestConnectionRequest {
                    provider_id: p.id.clone(),
                    kind: ConfigKind::Provider as i32,
                    config_json: b.config_json(),
                    connection_json: b.connection_json(),
                };
                let _ = client
                    .clone()
                    .test_connection(request(msg, cx.call_timeout()))
                    .await;
                calls += 1;
            }
        }
        // Stop it so whatever it buffered reaches the pipes before we look.
        let grace = cx.opts.timeouts.shutdown;
        let _ = running
            .conn
            .controller()
            .shutdown(request(Empty {}, grace))
            .await;
        let Some(mut launched) = running.launched.take() else {
            return Err(fail("internal: not launched"));
        };
        if launched.wait_exit(grace).await.is_none() {
            launched.kill().await;
        }
        launched.stdout.wait_eof(Duration::from_secs(2)).await;
        launched.stderr.wait_eof(Duration::from_secs(2)).await;
        let leaks: Vec<String> = [
            ("stdout", launched.stdout.text()),
            ("stderr", launched.stderr.text()),
        ]
        .into_iter()
        .filter_map(|(name, text)| {
            let line = text.lines().find(|l| l.contains(&marker))?;
            Some(format!("the secret appeared on {name}: {line}"))
        })
        .collect();
        if leaks.is_empty() {
            Ok(format!("{calls} calls, secret never printed"))
        } else {
            Err(fail(format!(
                "{}\nredact x-secret values before logging them",
                leaks.join("\n")
            )))
        }
    })
}
