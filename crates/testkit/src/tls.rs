//! Throw-away certificates for TLS tests: a CA of its own and a server
//! certificate it signed for 127.0.0.1 and localhost, as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A server's TLS files (PEM), as the deployment mounts them.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The CA that signs the server's certificate; clients trust it.
    pub ca: PathBuf,
    /// The server's certificate, naming 127.0.0.1 and localhost.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerTls {
    /// A new CA named `name`, written to `dir/<name>-ca.crt`, with a server
    /// certificate it signed (`<name>-server.crt`, `<name>-server.key`).
    pub fn generate(dir: &Path, name: &str) -> ServerTls {
        std::fs::create_dir_all(dir).expect("the certificate folder can be made");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a CA key")).expect("a self-signed CA");

        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("server parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} server"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("a server key");
        let cert = params.signed_by(&key, &ca).expect("a signed server certificate");

        let tls = ServerTls {
            ca: dir.join(format!("{name}-ca.crt")),
            cert: dir.join(format!("{name}-server.crt")),
            key: dir.join(format!("{name}-server.key")),
        };
        std::fs::write(&tls.ca, ca.pem()).expect("CA written");
        std::fs::write(&tls.cert, cert.pem()).expect("certificate written");
        std::fs::write(&tls.key, key.serialize_pem()).expect("key written");
        tls
    }
}
