//! Handshake checks: the magic cookie guard, the first stdout line, version negotiation, the
//! socket's location, the health service and the `localhost` authority (go-plugin's rules as
//! Switchyard speaks them; see `docs/handshake.md`).

use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

use switchyard_proto::plugin::v1::DescribeRequest;

use super::context::serving;
use super::{CheckFuture, Ctx, fail, recommend, skip};
use crate::client::{Conn, request};
use crate::launcher::{LaunchMode, StartError};

/// The version offered by `handshake/version-unsupported`: one no plugin speaks.
const UNSUPPORTED_VERSION: u32 = 999;

/// How long output streams get to drain after the process exited.
const DRAIN: Duration = Duration::from_secs(2);

/// `handshake/no-cookie`.
pub(crate) fn no_cookie(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mode = LaunchMode {
            cookie: false,
            ..LaunchMode::normal()
        };
        let mut p = cx.spawn(&mode)?;
        let Some(status) = p.wait_exit(cx.opts.timeouts.exit).await else {
            return Err(fail(format!(
                "still running {:?} after being started without the magic cookie {}; it must print \
                 an explanation on stderr and exit with a non-zero status (stderr so far: {:?})",
                cx.opts.timeouts.exit,
                switchyard_proto::handshake::MAGIC_COOKIE_KEY,
                p.stderr.summary(200)
            )));
        };
        p.stdout.wait_eof(DRAIN).await;
        p.stderr.wait_eof(DRAIN).await;
        let (stdout, stderr) = (p.stdout.text(), p.stderr.summary(200));
        if status.success() {
            return Err(fail(
                "exited with status 0 without the magic cookie; it must exit non-zero",
            ));
        }
        if !stdout.is_empty() {
            return Err(fail(format!(
                "printed {stdout:?} on stdout without the magic cookie; stdout must stay empty (a host \
                 would read it as a handshake line)"
            )));
        }
        if stderr.is_empty() {
            return Err(fail(format!(
                "exited ({status}) without the magic cookie but printed nothing on stderr; explain \
                 to the human who started it by hand what it is"
            )));
        }
        Ok(format!("{status}; stderr: {stderr}"))
    })
}

/// `handshake/line`.
pub(crate) fn line(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        cx.program()?;
        let running = cx.shared().await?;
        let line = running
            .line
            .as_ref()
            .ok_or_else(|| fail("internal: no handshake line"))?;
        Ok(format!(
            "version {}, socket {}",
            line.app_version,
            line.socket.display()
        ))
    })
}

/// `handshake/version-offered`.
pub(crate) fn version_offered(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        cx.program()?;
        let running = cx.shared().await?;
        let version = running.line.as_ref().map_or(0, |l| l.app_version);
        let offered = LaunchMode::normal().versions;
        if offered.split(',').any(|v| v == version.to_string()) {
            Ok(format!("announced {version}, offered {offered}"))
        } else {
            Err(fail(format!(
                "announced app protocol version {version}, but the host offered only {offered}; \
                 pick the highest version in PLUGIN_PROTOCOL_VERSIONS that the plugin speaks"
            )))
        }
    })
}

/// `handshake/version-unsupported`. Two refusals are accepted: exiting non-zero with a message
/// on stderr (what go-plugin does), or announcing a version that was not offered (the host
/// then refuses the plugin, naming both sides' versions).
pub(crate) fn version_unsupported(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mode = LaunchMode {
            versions: UNSUPPORTED_VERSION.to_string(),
            ..LaunchMode::normal()
        };
        let mut p = cx.spawn(&mode)?;
        match p.handshake(cx.opts.timeouts.start).await {
            Ok(line) if line.app_version == UNSUPPORTED_VERSION => Err(fail(format!(
                "offered only version {UNSUPPORTED_VERSION}, the plugin claimed to speak it"
            ))),
            Ok(line) => Ok(format!(
                "announced version {} although only {UNSUPPORTED_VERSION} was offered: a host refuses it",
                line.app_version
            )),
            Err(StartError::ExitedEarly { stdout, .. }) => {
                let status = p.wait_exit(cx.opts.timeouts.exit).await;
                p.stderr.wait_eof(DRAIN).await;
                let stderr = p.stderr.summary(200);
                match status {
                    Some(s) if !s.success() && !stderr.is_empty() && stdout.is_empty() => {
                        Ok(format!("refused: {s}; stderr: {stderr}"))
                    }
                    Some(s) => Err(fail(format!(
                        "offered only version {UNSUPPORTED_VERSION}, it exited ({s}) with stdout \
                         {stdout:?} and stderr {stderr:?}; a refusal must exit non-zero, explain on \
                         stderr and print nothing on stdout"
                    ))),
                    None => Err(fail("closed stdout but did not exit")),
                }
            }
            Err(e) => Err(fail(format!(
                "offered only version {UNSUPPORTED_VERSION}, it neither exited with a message nor \
                 announced a version: {e}"
            ))),
        }
    })
}

/// `handshake/socket-dir`.
pub(crate) fn socket_dir(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let temp_dir = plugin_temp_dir(cx.program()?);
        let running = cx.shared().await?;
        let (Some(p), Some(line)) = (&running.launched, &running.line) else {
            return Err(fail("internal: no launched plugin"));
        };
        let dir = p
            .socket_dir()
            .canonicalize()
            .map_err(|e| fail(e.to_string()))?;
        let parent = line.socket.parent().and_then(|d| d.canonicalize().ok());
        if parent.is_some() && parent == temp_dir.canonicalize().ok() && is_socket(&line.socket) {
            // go-plugin < 1.5 ignores PLUGIN_UNIX_SOCKET_DIR; the host accepts this itself.
            return Err(recommend(format!(
                "socket {} is in the plugin's temp dir, not inside PLUGIN_UNIX_SOCKET_DIR ({}), as \
                 go-plugin before v1.5 does. The host accepts it (with a warning) and removes it \
                 when the plugin stops; upgrade to go-plugin >= 1.5, or create the socket in \
                 PLUGIN_UNIX_SOCKET_DIR, so it is private to the host's 0700 directory",
                line.socket.display(),
                dir.display()
            )));
        }
        if parent.as_deref() != Some(dir.as_path()) {
            return Err(fail(format!(
                "socket {} is not inside PLUGIN_UNIX_SOCKET_DIR ({}); create it there",
                line.socket.display(),
                dir.display()
            )));
        }
        let meta = std::fs::metadata(&line.socket)
            .map_err(|e| fail(format!("{}: {e}", line.socket.display())))?;
        if !meta.file_type().is_socket() {
            return Err(fail(format!(
                "{} is not a Unix socket",
                line.socket.display()
            )));
        }
        Ok(line.socket.display().to_string())
    })
}

/// The temp dir of the plugin under test: the `TMPDIR` passed with `--env`, else `/tmp` (the
/// harness, like the host, passes no `TMPDIR` of its own).
fn plugin_temp_dir(program: &crate::launcher::Program) -> std::path::PathBuf {
    program
        .env
        .get("TMPDIR")
        .filter(|t| !t.is_empty())
        .map_or_else(|| "/tmp".into(), std::path::PathBuf::from)
}

fn is_socket(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// `handshake/health`.
pub(crate) fn health(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let conn = cx.conn().await?;
        if serving(&conn, cx.call_timeout()).await {
            Ok("SERVING".to_owned())
        } else {
            Err(fail(
                "grpc.health.v1.Health/Check for service \"plugin\" did not answer SERVING; serve \
                 the health service and set \"plugin\" to SERVING before printing the handshake line",
            ))
        }
    })
}

/// `handshake/authority-localhost`: a fresh connection dialled exactly like a host's.
pub(crate) fn authority(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let socket = cx.conn().await?.socket().to_path_buf();
        let conn = Conn::connect(&socket, cx.call_timeout())
            .await
            .map_err(fail)?;
        let req = request(DescribeRequest {}, cx.call_timeout());
        match conn.plugin().describe(req).await {
            Ok(_) => Ok("Describe served with :authority localhost".to_owned()),
            Err(s) if s.code() == tonic::Code::Unimplemented => {
                Err(skip("Describe is not served at all (see describe checks)"))
            }
            Err(s) => Err(fail(format!(
                "Describe dialled with :authority localhost failed: {} {}",
                s.code(),
                s.message()
            ))),
        }
    })
}
