//! Connecting to NATS the same way in every service.

use std::time::Duration;

use async_nats::jetstream;

/// Where and how to reach NATS.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Server URL(s), comma-separated, e.g. `nats://127.0.0.1:4222`. A user
    /// and password in a URL (`nats://services:PASSWORD@nats-leaf:4222`) log
    /// in with them, as the deployment's regional leaf nodes require.
    pub url: String,
    /// Connection name shown by the server's monitoring, e.g. `jigi-registry-sikasso`.
    pub client_name: String,
    /// JetStream domain to address; `None` for the server's own. A regional
    /// service on its leaf node uses the region's domain.
    pub jetstream_domain: Option<String>,
    /// Path of a NATS credentials file (`.creds`), when the server requires one.
    pub credentials_file: Option<std::path::PathBuf>,
}

impl BusConfig {
    pub fn new(url: impl Into<String>, client_name: impl Into<String>) -> BusConfig {
        BusConfig {
            url: url.into(),
            client_name: client_name.into(),
            jetstream_domain: None,
            credentials_file: None,
        }
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
    /// Connects. The connection is made in the background and retried
    /// forever, so a service starts (and keeps accepting work into its
    /// outbox) while NATS is unreachable.
    pub async fn connect(config: &BusConfig) -> Result<Bus, async_nats::ConnectError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(&config.client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            // Reconnect quickly at first, then every 2 s: a regional link
            // that comes back should be used within seconds.
            .reconnect_delay_callback(|attempts| Duration::from_millis((attempts as u64 * 100).min(2_000)));
        if let Some(path) = &config.credentials_file {
            options = options.credentials_file(path).await?;
        }
        // async-nats ignores a URL's user and password: pass them as options.
        let (urls, user) = split_user(&config.url);
        if let Some((user, password)) = user {
            options = options.user_and_password(user, password);
        }
        let client = options.connect(urls.as_str()).await?;
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
    use super::split_user;

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
