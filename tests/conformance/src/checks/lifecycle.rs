//! Lifecycle checks, each on a process of its own: Shutdown makes the plugin exit within 2 s and
//! remove its socket; SIGTERM makes it exit; when its parent dies (the plugin started as the
//! host starts it, parent-death signal included), no process of its process group survives.
//! Whether the plugin also notices its parent's death by itself (started through `sh`, which
//! sets no parent-death signal and is then SIGKILLed) is a recommendation, not a rule: the host
//! guarantees the signal.

use nix::sys::signal::Signal;
use switchyard_proto::go_plugin::Empty;

use super::{CheckFuture, Ctx, fail, recommend};
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
            parent_process: true,
            ..LaunchMode::normal()
        };
        let mut p = cx.spawn(&mode)?;
        p.handshake(cx.opts.timeouts.start)
            .await
            .map_err(|e| fail(format!("the plugin did not start: {e}")))?;
        let Some(pid) = p.plugin_pid() else {
            return Err(fail("internal: no plugin pid"));
        };
        p.kill_parent();
        let exit = cx.opts.timeouts.exit;
        p.wait_exit(exit).await;
        if !p.wait_grandchild_gone(exit).await {
            return Err(fail(format!(
                "plugin (pid {pid}) still running {exit:?} after its parent died, although it was \
                 started with the parent-death signal SIGKILL as the host starts it; exit on the \
                 signal you set (a plugin that re-arms it with SIGTERM must not ignore SIGTERM \
                 after its parent is gone)"
            )));
        }
        let survivors = p.wait_group_gone(exit).await;
        if !survivors.is_empty() {
            return Err(fail(format!(
                "the plugin (pid {pid}) exited but processes of its process group \
                 are still running {exit:?} after its parent died: {survivors:?}; make the \
                 processes the plugin starts exit with it (a parent-death signal of their own, \
                 or kill them on the way out)"
            )));
        }
        Ok(format!(
            "plugin (pid {pid}) exited with its parent; nothing of its process group survived"
        ))
    })
}

/// `lifecycle/parent-watch` (a recommendation).
pub(crate) fn parent_watch(cx: &mut Ctx) -> CheckFuture<'_> {
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
                "plugin (pid {pid}) noticed its parent's death by itself and exited"
            ))
        } else {
            Err(recommend(format!(
                "started without a parent-death signal, the plugin (pid {pid}) was still running \
                 {:?} after its parent died. The Switchyard host sets the signal, so this is not \
                 a failure; a plugin that also watches getppid() for a change (or sets \
                 PR_SET_PDEATHSIG itself) cannot be orphaned by any other launcher. Do not test \
                 for getppid() == 1: under a subreaper or in a container the new parent is not \
                 pid 1",
                cx.opts.timeouts.exit
            )))
        }
    })
}
