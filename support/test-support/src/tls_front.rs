//! A TLS front for a plain-HTTP server on loopback (the collector serves
//! no TLS): it makes a CA of its own, a certificate for `127.0.0.1` and
//! `localhost` signed by it, and relays each decrypted connection to the
//! backend. A client that trusts the CA file reaches the backend over
//! real TLS; one that does not is refused in the handshake.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A running TLS front; it serves until the test process ends.
pub struct TlsFront {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The PEM file of the CA that signed its certificate.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    /// Starts a front that relays to `127.0.0.1:backend`.
    ///
    /// # Panics
    ///
    /// When the certificates cannot be made or the port bound.
    pub fn start(backend: u16) -> TlsFront {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kvp-telemetry test CA");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let key = rcgen::KeyPair::generate().expect("a server key");
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server parameters");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("a server certificate");

        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("the CA file");

        #[allow(deprecated)] // ring, as the library under test uses
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("a server configuration");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || relay(config, client, backend));
            }
        });
        TlsFront {
            port,
            ca_file,
            _dir: dir,
        }
    }
}

/// Relays one connection until either side closes. One thread polls both
/// sockets with short read timeouts: a TLS connection cannot be split
/// between two threads.
fn relay(config: Arc<rustls::ServerConfig>, client: TcpStream, backend: u16) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let poll = Some(Duration::from_millis(5));
    if client.set_read_timeout(poll).is_err() || server.set_read_timeout(poll).is_err() {
        return;
    }
    let mut tls = rustls::StreamOwned::new(conn, client);
    let mut buf = vec![0u8; 64 * 1024];
    let idle = |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if server.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
        match server.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|()| tls.flush()).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}
