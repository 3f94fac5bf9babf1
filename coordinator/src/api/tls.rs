//! TLS of the TCP listener: reads the PEM files named in `[api.tls]`, checks each one holds what
//! it should (errors name the file), and builds tonic's rustls configuration, requiring client
//! certificates signed by the client CA when one is configured. Runs once at start, before
//! "listening" is reported, so a bad file stops the start instead of failing each handshake.

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use super::ServeError;
use crate::cfg::TlsFiles;

/// How long a client may take to complete the TLS handshake; a connection that never sends
/// its hello must not hold a slot forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS configuration from `files`.
///
/// # Errors
/// [`ServeError::TlsFile`] naming the file that is unreadable or holds no certificate or key,
/// [`ServeError::TlsIdentity`] when the key does not belong to the certificate.
pub(crate) fn server_config(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    let cert = read_certificates(&files.cert_file)?;
    let key = read(&files.key_file)?;
    if PrivateKeyDer::from_pem_slice(&key).is_err() {
        return Err(tls_file(
            &files.key_file,
            "holds no PEM private key (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1 \
             `EC PRIVATE KEY`)",
        ));
    }
    let mut config = ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(ca) = &files.client_ca_file {
        config = config.client_ca_root(Certificate::from_pem(read_certificates(ca)?));
    }
    // Building the acceptor is what checks that the key belongs to the certificate.
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| ServeError::TlsIdentity {
            cert_file: files.cert_file.clone(),
            key_file: files.key_file.clone(),
            reason: crate::error_chain(&e),
        })?;
    Ok(config)
}

/// The bytes of a PEM file holding at least one certificate.
fn read_certificates(path: &Path) -> Result<Vec<u8>, ServeError> {
    let pem = read(path)?;
    let mut certs = CertificateDer::pem_slice_iter(&pem);
    match certs.next() {
        Some(Ok(_)) if certs.all(|c| c.is_ok()) => Ok(pem),
        Some(_) => Err(tls_file(path, "holds a malformed PEM certificate")),
        None => Err(tls_file(
            path,
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| tls_file(path, &format!("cannot be read: {e}")))
}

fn tls_file(path: &Path, problem: &str) -> ServeError {
    ServeError::TlsFile {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
}
