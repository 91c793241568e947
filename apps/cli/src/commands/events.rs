//! `jigi events tail`: follow the events on NATS, decoded.

use clap::Subcommand;
use futures::StreamExt;
use jigi_bus::{Bus, BusConfig, ReceivedEvent};

use crate::json;
use jigi_subscribers::JsonRenderer;

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print events as they are published, one line each (time, subject,
    /// type, key fields), or as CloudEvents JSON with the payload decoded.
    ///
    /// Example: jigi events tail 'jigi.sikasso.payments.>' --json
    Tail {
        /// The subjects to follow (NATS wildcards `*` and `>`).
        #[arg(default_value = "jigi.>")]
        subject: String,
        /// One CloudEvents JSON object per line, `data` decoded from protobuf.
        #[arg(long)]
        json: bool,
        /// Stop after this many events (default: until Ctrl-C).
        #[arg(long)]
        count: Option<u64>,
        /// NATS server URL, with a user and password when it needs them
        /// (`jigi up` prints the national hub's).
        #[arg(long = "nats", env = "JIGI_NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats_url: String,
        /// The CA of the NATS server's certificate (PEM): the connection then requires TLS.
        #[arg(long = "nats-tls-ca", env = "JIGI_NATS_TLS_CA")]
        nats_tls_ca: Option<std::path::PathBuf>,
    },
}

pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Tail {
        subject,
        json,
        count,
        nats_url,
        nats_tls_ca,
    } = command;
    let mut config = BusConfig::new(nats_url.clone(), "jigi-events-tail");
    config.tls_required = nats_tls_ca.is_some();
    config.tls_ca_file = nats_tls_ca;
    let bus = tokio::time::timeout(std::time::Duration::from_secs(10), Bus::connect(&config))
        .await
        .map_err(|_| cannot_connect(&nats_url, "no answer within 10 s"))?
        .map_err(|err| cannot_connect(&nats_url, &err.to_string()))?;
    // Connecting retries in the background: check the server answers.
    tokio::time::timeout(std::time::Duration::from_secs(10), bus.client.flush())
        .await
        .map_err(|_| cannot_connect(&nats_url, "no answer within 10 s"))?
        .map_err(|err| cannot_connect(&nats_url, &err.to_string()))?;
    let mut messages = bus
        .client
        .subscribe(subject.clone())
        .await
        .map_err(|err| anyhow::anyhow!("cannot subscribe to {subject}: {err}"))?;
    bus.client
        .flush()
        .await
        .map_err(|err| anyhow::anyhow!("cannot subscribe to {subject}: {err}"))?;
    eprintln!("Following {subject} (Ctrl-C to stop)…");
    let mut seen = 0;
    loop {
        if count.is_some_and(|count| seen >= count) {
            return Ok(());
        }
        let message = tokio::select! {
            message = messages.next() => message,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(message) = message else {
            anyhow::bail!("the NATS connection closed; run the command again");
        };
        let line = match ReceivedEvent::parse(
            message.subject.as_str(),
            message.headers.as_ref(),
            message.payload.clone(),
            None,
        ) {
            Ok(event) if json => serde_json::to_string(&cloud_event(&event))?,
            Ok(event) => readable(&event),
            Err(err) if json => {
                serde_json::json!({ "subject": message.subject.as_str(), "error": err.to_string() }).to_string()
            }
            Err(err) => format!("{} (not a Jigi event: {err})", message.subject),
        };
        println!("{line}");
        seen += 1;
    }
}

fn cannot_connect(url: &str, why: &str) -> anyhow::Error {
    let shown = match url.split_once('@') {
        Some((scheme_user, host)) => format!(
            "{}@{host}",
            scheme_user.split(':').take(2).collect::<Vec<_>>().join(":")
        ),
        None => url.to_owned(),
    };
    anyhow::anyhow!(
        "cannot reach NATS at {shown}: {why} (is it running? set --nats or JIGI_NATS_URL; `jigi up` prints it)"
    )
}

/// The event's payload as JSON, or why it cannot be read.
fn data(event: &ReceivedEvent) -> serde_json::Value {
    match json::message_of_content_type(&event.content_type) {
        Some(name) => {
            json::decode(name, &event.data).unwrap_or_else(|err| serde_json::json!({ "error": err.to_string() }))
        }
        None => serde_json::json!({ "error": format!("unknown content-type {:?}", event.content_type) }),
    }
}

/// The event exactly as the JSON mirror publishes it to partners: a
/// structured-mode CloudEvent, `data` in proto3 JSON.
pub fn cloud_event(event: &ReceivedEvent) -> serde_json::Value {
    match JsonRenderer::shared().render(event) {
        Ok(rendered) => rendered.document,
        Err(err) => serde_json::json!({ "subject": event.subject, "error": err.to_string() }),
    }
}

/// `time subject type key=value …`: the payload's scalar fields, nested
/// ones by their innermost useful value (a location by its commune, money
/// by its francs).
pub fn readable(event: &ReceivedEvent) -> String {
    let mut fields = Vec::new();
    if let serde_json::Value::Object(map) = data(event) {
        for (key, value) in map {
            if let Some(text) = short(&value) {
                fields.push(format!("{key}={text}"));
            }
        }
    }
    format!(
        "{} {} {} {}",
        event.time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        event.subject,
        event.ce_type,
        fields.join(" ")
    )
}

fn short(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        // The proto3 JSON writes every field: a default says nothing here.
        Value::String(s) if s.is_empty() || s == "0" || s.ends_with("_UNSPECIFIED") => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(false) => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(format!("[{}]", items.len())),
        Value::Object(map) => {
            for key in ["commune", "fcfa", "code", "cycleId", "grams"] {
                if let Some(inner) = map.get(key) {
                    return short(inner);
                }
            }
            if map.len() == 1 {
                return map.values().next().and_then(short);
            }
            None
        }
        Value::Null => None,
    }
}
