//! Connecting to NATS the same way in every service.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::rustls::pki_types::pem::PemObject;
use async_nats::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use async_nats::{ConnectError, ConnectErrorKind, jetstream};
use jigi_settings::{ConfigError, Settings};

/// Where and how to reach NATS.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Server URL(s), comma-separated, e.g. `nats://127.0.0.1:4222`. A user
    /// and password in a URL (`nats://services:PASSWORD@nats-leaf:4222`) log
    /// in with them, as the deployment's regional leaf nodes require. A
    /// `tls://` URL requires TLS, like [`BusConfig::tls_required`].
    pub url: String,
    /// Connection name shown by the server's monitoring, e.g. `jigi-registry-sikasso`.
    pub client_name: String,
    /// JetStream domain to address; `None` for the server's own. A regional
    /// service on its leaf node uses the region's domain.
    pub jetstream_domain: Option<String>,
    /// Path of a NATS credentials file (`.creds`), when the server requires one.
    pub credentials_file: Option<PathBuf>,
    /// PEM file of the CA(s) that sign the servers' certificates (Jigi's own
    /// CA; the system's roots are not used then). Setting it requires TLS:
    /// a server that offers none is refused, so the password in the URL is
    /// never sent in clear because someone on the path stripped TLS.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM certificate presented to servers that verify clients
    /// (`tls { verify: true }`); needs [`BusConfig::tls_client_key`].
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of [`BusConfig::tls_client_cert`].
    pub tls_client_key: Option<PathBuf>,
    /// Refuse a server without TLS, also without a CA file (the servers'
    /// certificates then chain to the system's roots).
    pub tls_required: bool,
    /// The subjects replies come back on, `<prefix>.…` instead of
    /// `_INBOX.…`: a user allowed to subscribe to its own prefix only cannot
    /// read the replies (and pull deliveries) meant for other users.
    pub inbox_prefix: Option<String>,
}

impl BusConfig {
    pub fn new(url: impl Into<String>, client_name: impl Into<String>) -> BusConfig {
        BusConfig {
            url: url.into(),
            client_name: client_name.into(),
            jetstream_domain: None,
            credentials_file: None,
            tls_ca_file: None,
            tls_client_cert: None,
            tls_client_key: None,
            tls_required: false,
            inbox_prefix: None,
        }
    }

    /// Every service's NATS settings, read the same way (see
    /// [`jigi_settings`] for where a key's value comes from):
    ///
    /// | key | variable | what |
    /// | --- | --- | --- |
    /// | `nats_url` | `JIGI_NATS_URL` | server URL(s), default `nats://127.0.0.1:4222` |
    /// | `nats_domain` | `JIGI_NATS_DOMAIN` | JetStream domain, default the server's own |
    /// | `nats_credentials` | `JIGI_NATS_CREDENTIALS` | a `.creds` file |
    /// | `nats_tls_ca` | `JIGI_NATS_TLS_CA` | CA file to trust; TLS is then required |
    /// | `nats_tls_cert`, `nats_tls_key` | `JIGI_NATS_TLS_CERT`, `JIGI_NATS_TLS_KEY` | client certificate and key |
    /// | `nats_tls_required` | `JIGI_NATS_TLS_REQUIRED` | `true`: refuse a server without TLS |
    pub fn from_settings(settings: &Settings, client_name: impl Into<String>) -> Result<BusConfig, ConfigError> {
        let mut config = BusConfig::new(
            settings.get("nats_url", "nats://127.0.0.1:4222".to_owned())?,
            client_name,
        );
        config.jetstream_domain = settings.optional("nats_domain")?;
        config.credentials_file = settings.optional("nats_credentials")?;
        config.tls_ca_file = settings.optional("nats_tls_ca")?;
        config.tls_client_cert = settings.optional("nats_tls_cert")?;
        config.tls_client_key = settings.optional("nats_tls_key")?;
        config.tls_required = settings.get("nats_tls_required", false)?;
        // A certificate without its key (or the reverse) is a half-done
        // configuration: refuse it at start, naming both settings.
        if config.tls_client_cert.is_some() != config.tls_client_key.is_some() {
            let (set, unset) = if config.tls_client_cert.is_some() {
                ("nats_tls_cert", "nats_tls_key")
            } else {
                ("nats_tls_key", "nats_tls_cert")
            };
            return Err(ConfigError::Invalid {
                key: set.to_owned(),
                variable: jigi_settings::variable(set),
                value: settings.raw(set).unwrap_or_default(),
                reason: format!(
                    "a client certificate needs its key and the reverse: set {} too",
                    jigi_settings::variable(unset)
                ),
            });
        }
        Ok(config)
    }

    /// Whether connections must use TLS.
    fn requires_tls(&self) -> bool {
        self.tls_required
            || self.tls_ca_file.is_some()
            || self.tls_client_cert.is_some()
            || self.url.split(',').any(|url| url.trim().starts_with("tls://"))
    }
}

/// A NATS connection and its JetStream context.
#[derive(Debug, Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
}

/// How long a JetStream API call or publish ack may take before it counts as
/// failed. A failed publish is retried by the outbox, so a short timeout only
/// costs a duplicate that JetStream drops.
const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

impl Bus {
    /// Connects. When NATS is unreachable the connection is made in the
    /// background and retried forever, so a service starts (and keeps
    /// accepting work into its outbox) while NATS is down. A TLS failure is
    /// returned at once instead: a missing or unreadable certificate file, a
    /// server certificate the CA does not vouch for, or a server without TLS
    /// when TLS is required are mistakes of configuration that retrying
    /// cannot fix, and a service retrying them silently looks healthy.
    pub async fn connect(config: &BusConfig) -> Result<Bus, ConnectError> {
        check_tls_files(config)?;
        // async-nats ignores a URL's user and password: pass them as options.
        let (urls, user) = split_user(&config.url);
        let client = match options(config, &user).await?.connect(urls.as_str()).await {
            Ok(client) => client,
            Err(err) if let Some(failure) = tls_failure(&err) => {
                let hint = match failure {
                    TlsFailure::Certificate => match &config.tls_ca_file {
                        Some(ca) => format!(
                            "the server's certificate is not signed by the CA in {}, or does not name the host of the URL",
                            ca.display()
                        ),
                        None => "the server's certificate is not signed by a CA of the system's roots: \
                                 give Jigi's CA (JIGI_NATS_TLS_CA)"
                            .to_owned(),
                    },
                    TlsFailure::Handshake => "the server did not answer in TLS: is TLS switched on for this port \
                                              (hub-tls.conf, leaf-tls.conf)?"
                        .to_owned(),
                };
                return Err(ConnectError::with_source(
                    ConnectErrorKind::Tls,
                    format!("TLS with NATS at {urls} failed: {err}; {hint}"),
                ));
            }
            // Unreachable (or refused for another reason): keep trying in
            // the background, as before TLS.
            Err(_) => {
                options(config, &user)
                    .await?
                    .retry_on_initial_connect()
                    .connect(urls.as_str())
                    .await?
            }
        };
        let jetstream = match &config.jetstream_domain {
            Some(domain) => jetstream::ContextBuilder::new()
                .domain(domain)
                .timeout(JETSTREAM_TIMEOUT)
                .build(client.clone()),
            None => jetstream::ContextBuilder::new()
                .timeout(JETSTREAM_TIMEOUT)
                .build(client.clone()),
        };
        Ok(Bus { client, jetstream })
    }
}

/// The options of every connection made from `config`.
async fn options(
    config: &BusConfig,
    user: &Option<(String, String)>,
) -> Result<async_nats::ConnectOptions, ConnectError> {
    let mut options = async_nats::ConnectOptions::new()
        .name(&config.client_name)
        .connection_timeout(Duration::from_secs(5))
        // Reconnect quickly at first, then every 2 s: a regional link
        // that comes back should be used within seconds.
        .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(2_000)));
    if let Some(path) = &config.credentials_file {
        options = options.credentials_file(path).await?;
    }
    if let Some((user, password)) = user {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(ca) = &config.tls_ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&config.tls_client_cert, &config.tls_client_key) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if let Some(prefix) = &config.inbox_prefix {
        options = options.custom_inbox_prefix(prefix);
    }
    Ok(options.require_tls(config.requires_tls()))
}

/// Reads the TLS files now: async-nats reads them only when it dials, and
/// with retries in the background a missing file would only show as a
/// service that never connects.
fn check_tls_files(config: &BusConfig) -> Result<(), ConnectError> {
    let refuse = |what: &str, path: &Path, why: String| {
        ConnectError::with_source(
            ConnectErrorKind::Tls,
            format!("NATS TLS {what} file {}: {why}", path.display()),
        )
    };
    if let Some(path) = &config.tls_ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|err| refuse("CA", path, err.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| refuse("CA", path, err.to_string()))?;
        if certificates.is_empty() {
            return Err(refuse("CA", path, "holds no PEM certificate".to_owned()));
        }
    }
    match (&config.tls_client_cert, &config.tls_client_key) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let certificates = CertificateDer::pem_file_iter(cert)
                .map_err(|err| refuse("client certificate", cert, err.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| refuse("client certificate", cert, err.to_string()))?;
            if certificates.is_empty() {
                return Err(refuse(
                    "client certificate",
                    cert,
                    "holds no PEM certificate".to_owned(),
                ));
            }
            PrivateKeyDer::from_pem_file(key).map_err(|err| refuse("client key", key, err.to_string()))?;
        }
        (Some(path), None) | (None, Some(path)) => {
            return Err(refuse(
                "client certificate or key",
                path,
                "a client certificate needs its key and the reverse".to_owned(),
            ));
        }
    }
    Ok(())
}

/// How a connection failed in TLS.
enum TlsFailure {
    /// The server's certificate was refused (issuer, name, dates).
    Certificate,
    /// Anything else in TLS, typically a server that does not speak it.
    Handshake,
}

/// Whether a failed connection failed in TLS (rustls refused the server or
/// its certificate) rather than in reaching the server, and how.
fn tls_failure(err: &ConnectError) -> Option<TlsFailure> {
    use async_nats::rustls::Error as RustlsError;
    let classify = |error: &RustlsError| match error {
        RustlsError::InvalidCertificate(_) => TlsFailure::Certificate,
        _ => TlsFailure::Handshake,
    };
    // async-nats turns the handshake's io::Error into an Io error; rustls's
    // own error is inside it.
    let mut source = std::error::Error::source(err);
    while let Some(error) = source {
        if let Some(rustls) = error.downcast_ref::<RustlsError>() {
            return Some(classify(rustls));
        }
        if let Some(rustls) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<RustlsError>())
        {
            return Some(classify(rustls));
        }
        source = error.source();
    }
    (err.kind() == ConnectErrorKind::Tls).then_some(TlsFailure::Handshake)
}

/// The URLs without their `user:password@`, and the first user and password
/// found. Passwords are taken as written (use URL-safe ones, e.g. hex).
fn split_user(urls: &str) -> (String, Option<(String, String)>) {
    let mut user = None;
    let stripped: Vec<String> = urls
        .split(',')
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = match url.split_once("://") {
                Some((scheme, rest)) => (Some(scheme), rest),
                None => (None, url),
            };
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    if user.is_none() {
                        let (name, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                        user = Some((name.to_owned(), password.to_owned()));
                    }
                    host
                }
                None => authority,
            };
            match scheme {
                Some(scheme) => format!("{scheme}://{host}{path}"),
                None => format!("{host}{path}"),
            }
        })
        .collect();
    (stripped.join(","), user)
}

#[cfg(test)]
mod tests {
    use super::{BusConfig, split_user};

    #[test]
    fn tls_is_required_by_a_ca_a_client_certificate_a_tls_url_or_the_flag() {
        let plain = BusConfig::new("nats://a:4222", "test");
        assert!(!plain.requires_tls(), "plaintext stays possible for local runs");
        let mut with_ca = plain.clone();
        with_ca.tls_ca_file = Some("ca.crt".into());
        assert!(with_ca.requires_tls(), "a CA means TLS: no downgrade to plaintext");
        let mut with_cert = plain.clone();
        with_cert.tls_client_cert = Some("tls.crt".into());
        assert!(with_cert.requires_tls());
        let mut flagged = plain.clone();
        flagged.tls_required = true;
        assert!(flagged.requires_tls());
        assert!(BusConfig::new("nats://a:4222, tls://u:p@b:4222", "test").requires_tls());
    }

    #[test]
    fn a_user_in_the_url_becomes_a_login() {
        assert_eq!(
            split_user("nats://services:0a1b@nats-leaf:4222"),
            (
                "nats://nats-leaf:4222".to_owned(),
                Some(("services".to_owned(), "0a1b".to_owned()))
            )
        );
        assert_eq!(
            split_user("nats://a:4222, nats://u:p@b:4222"),
            (
                "nats://a:4222,nats://b:4222".to_owned(),
                Some(("u".to_owned(), "p".to_owned()))
            )
        );
        assert_eq!(split_user("127.0.0.1:4222"), ("127.0.0.1:4222".to_owned(), None));
    }
}
