//! TLS for `https://` collectors from the standard variables: a CA to
//! trust (`OTEL_EXPORTER_OTLP_CERTIFICATE`) and a client certificate and
//! key for mutual TLS (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`,
//! `OTEL_EXPORTER_OTLP_CLIENT_KEY`), each also per signal
//! (`OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, ...), which wins for its
//! signal. The files are PEM. Without them the system's roots are used.

use std::path::PathBuf;
use std::time::Duration;

use super::OtlpError;

/// The files one signal's exporter uses, each with the variable that
/// named it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    ca: Option<(String, PathBuf)>,
    client_certificate: Option<(String, PathBuf)>,
    client_key: Option<(String, PathBuf)>,
}

impl TlsFiles {
    /// The files the variables name for `signal` (`TRACES`, `METRICS` or
    /// `LOGS`): the signal's own variable, else the general one.
    pub(crate) fn from_env(signal: &str) -> TlsFiles {
        let var = |name: &str| {
            [
                format!("OTEL_EXPORTER_OTLP_{signal}_{name}"),
                format!("OTEL_EXPORTER_OTLP_{name}"),
            ]
            .into_iter()
            .find_map(|var| {
                let value = std::env::var_os(&var).filter(|v| !v.is_empty())?;
                Some((var, PathBuf::from(value)))
            })
        };
        TlsFiles {
            ca: var("CERTIFICATE"),
            client_certificate: var("CLIENT_CERTIFICATE"),
            client_key: var("CLIENT_KEY"),
        }
    }

    /// Whether no variable is set: the exporter's own client will do.
    pub(crate) fn is_empty(&self) -> bool {
        *self == TlsFiles::default()
    }

    /// An HTTP client that trusts the CA and presents the client
    /// certificate, each export limited to `timeout`.
    pub(crate) fn client(&self, timeout: Duration) -> Result<reqwest::blocking::Client, OtlpError> {
        let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
        if let Some((var, path)) = &self.ca {
            let pem = read(var, path)?;
            let roots =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(var, path, e))?;
            if roots.is_empty() {
                return Err(unusable(var, path, "it holds no PEM certificate"));
            }
            builder = builder.tls_certs_merge(roots);
        }
        match (&self.client_certificate, &self.client_key) {
            (Some((cert_var, cert)), Some((key_var, key))) => {
                let mut pem = read(cert_var, cert)?;
                pem.push(b'\n');
                pem.extend(read(key_var, key)?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|e| unusable(cert_var, cert, e))?;
                builder = builder.identity(identity);
            }
            (Some((var, path)), None) => {
                return Err(unusable(
                    var,
                    path,
                    "a client certificate needs its key (OTEL_EXPORTER_OTLP_CLIENT_KEY)",
                ));
            }
            (None, Some((var, path))) => {
                return Err(unusable(
                    var,
                    path,
                    "a client key needs its certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)",
                ));
            }
            (None, None) => {}
        }
        // The blocking client starts a runtime of its own, which tokio
        // forbids inside another: an async agent builds its telemetry in
        // one. A thread of its own avoids that, as the exporter's default
        // client does.
        std::thread::spawn(move || builder.build())
            .join()
            .map_err(|_| OtlpError::Client {
                source: "building the HTTP client panicked".into(),
            })?
            .map_err(|e| OtlpError::Client { source: e.into() })
    }
}

fn read(var: &str, path: &std::path::Path) -> Result<Vec<u8>, OtlpError> {
    std::fs::read(path).map_err(|e| unusable(var, path, e))
}

fn unusable(
    var: &str,
    path: &std::path::Path,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> OtlpError {
    OtlpError::Certificate {
        variable: var.to_owned(),
        path: path.to_owned(),
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(ca: &str) -> TlsFiles {
        TlsFiles {
            ca: Some(("OTEL_EXPORTER_OTLP_CERTIFICATE".into(), ca.into())),
            ..TlsFiles::default()
        }
    }

    #[test]
    fn a_missing_or_empty_ca_file_names_its_variable() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let missing = dir.path().join("missing.pem");
        let err = files(missing.to_str().expect("a UTF-8 path"))
            .client(Duration::from_secs(1))
            .expect_err("a missing file");
        let text = err.to_string();
        assert!(text.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{text}");
        assert!(text.contains("missing.pem"), "{text}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = files(empty.to_str().expect("a UTF-8 path"))
            .client(Duration::from_secs(1))
            .expect_err("no certificate in it");
        assert!(err.to_string().contains("empty.pem"), "{err}");
    }

    #[test]
    fn a_client_certificate_without_its_key_is_refused() {
        let files = TlsFiles {
            client_certificate: Some((
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE".into(),
                "/nonexistent/cert.pem".into(),
            )),
            ..TlsFiles::default()
        };
        let err = files.client(Duration::from_secs(1)).expect_err("no key");
        assert!(
            std::error::Error::source(&err)
                .is_some_and(|s| s.to_string().contains("needs its key")),
            "{err:?}"
        );
    }
}
