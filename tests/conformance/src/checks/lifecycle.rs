//! Lifecycle checks, each on a process of its own: Shutdown makes the plugin exit within 2 s and
//! remove its socket; SIGTERM makes it exit; the death of its parent makes it exit (the plugin
//! is started through `sh`, which is then SIGKILLed).

use nix::sys::signal::Signal;
use switchyard_proto::go_plugin::Empty;

use super::{CheckFuture, Ctx, fail};
use crate::client::request;
use crate::launcher::LaunchMode;

/// `lifecycle/shutdown`.
pub(crate) fn shutdown(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut running = cx.start(&LaunchMode::normal()).await?;
        let socket = running.conn.socket().to_path_buf();
        let grace = cx.opts.timeouts.shutdown;
        // The answer may be lost if the plugin closes the connection first; only the exit counts.
        let answer = running
            .conn
            .controller()
            .shutdown(request(Empty {}, cx.call_timeout()))
            .await;
        let Some(p) = running.launched.as_mut() else {
            return Err(fail("internal: not launched"));
        };
        let Some(status) = p.wait_exit(grace).await else {
            let answered = if answer.is_ok() {
                "answered OK but "
            } else {
                ""
            };
            return Err(fail(format!(
                "{answered}still running {grace:?} after GRPCController/Shutdown; stop serving and exit"
            )));
        };
        if socket.exists() {
            return Err(fail(format!(
                "exited ({status}) but left its socket {} behind",
                socket.display()
            )));
        }
        Ok(format!("exited ({status}), socket removed"))
    })
}

/// `lifecycle/sigterm`.
pub(crate) fn sigterm(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut running = cx.start(&LaunchMode::normal()).await?;
        let Some(p) = running.launched.as_mut() else {
            return Err(fail("internal: not launched"));
        };
        p.signal_child(Signal::SIGTERM);
        match p.wait_exit(cx.opts.timeouts.exit).await {
            Some(status) => Ok(format!("exited ({status})")),
            None => Err(fail(format!(
                "still running {:?} after SIGTERM",
                cx.opts.timeouts.exit
            ))),
        }
    })
}

/// `lifecycle/parent-death`.
pub(crate) fn parent_death(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        cx.startable()?;
        let mode = LaunchMode {
            via_shell: true,
            ..LaunchMode::normal()
        };
        let mut p = cx.spawn(&mode)?;
        p.handshake(cx.opts.timeouts.start)
            .await
            .map_err(|e| fail(format!("the plugin did not start under a shell: {e}")))?;
        let Some(pid) = p.plugin_pid() else {
            return Err(fail(
                "could not find the plugin process under its parent shell",
            ));
        };
        p.signal_child(Signal::SIGKILL);
        p.wait_exit(cx.opts.timeouts.exit).await;
        if p.wait_grandchild_gone(cx.opts.timeouts.exit).await {
            Ok(format!(
                "plugin (pid {pid}) exited after its parent was killed"
            ))
        } else {
            Err(fail(format!(
                "plugin (pid {pid}) still running {:?} after its parent died; set a parent-death \
                 signal (PR_SET_PDEATHSIG) or watch getppid() for a change",
                cx.opts.timeouts.exit
            )))
        }
    })
}
