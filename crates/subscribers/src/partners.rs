//! Durable subscriptions for partner systems (a ministry's finance system, a
//! donor's dashboard, DHIS2…).
//!
//! A partner reads the hub with its own NATS user (`deploy/nats/gen-accounts`,
//! `PARTNERS`), which may only fetch from and ack its own durable consumer,
//! named after the user, and subscribe to the subjects of its filter. That
//! consumer is created by an operator, with this module (through
//! `jigi partners add`): on the national stream for protobuf
//! events, or on `JIGI_JSON` for JSON ones, filtered to what the partner
//! may see, delivering from the start of the stream, from a date, or only
//! new events. The server remembers how far the partner has acked, so a
//! partner that was away resumes where it stopped.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, NaiveDate, Utc};

use crate::json;
use jigi_bus::subject;

/// Where a partner's consumer starts delivering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Every event the stream holds, from the first.
    Start,
    /// Events stored at or after this instant (`DeliverPolicy::ByStartTime`).
    Time(DateTime<Utc>),
    /// Only events stored after the consumer is created.
    New,
}

impl std::str::FromStr for Since {
    type Err = String;

    /// `start`, `new`, a date (`2018-10-01`, midnight UTC) or an RFC 3339 instant.
    fn from_str(text: &str) -> Result<Since, String> {
        match text {
            "start" | "all" => Ok(Since::Start),
            "new" | "now" => Ok(Since::New),
            _ => {
                if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    return Ok(Since::Time(
                        date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
                    ));
                }
                DateTime::parse_from_rfc3339(text)
                    .map(|time| Since::Time(time.with_timezone(&Utc)))
                    .map_err(|_| format!("{text:?} is not `start`, `new`, a date (YYYY-MM-DD) nor an RFC 3339 time"))
            }
        }
    }
}

/// A partner's durable subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSubscription {
    /// The partner's NATS user, which is also its consumer's name, e.g. `partner_dhis2`.
    pub name: String,
    /// `JIGI_NATIONAL` (protobuf events) or `JIGI_JSON` (JSON events).
    pub stream: String,
    /// The subjects the partner may see, e.g. `jigi.*.nutrition.>` or
    /// `jigijson.>`; the same filter as its user's permissions.
    pub filter: String,
    /// Where delivery starts, when the consumer is created.
    pub since: Since,
}

/// Ack wait of a partner's consumer: a partner's system may be slow.
pub const ACK_WAIT: Duration = Duration::from_secs(60);

/// Most events a partner may hold unacked.
pub const MAX_ACK_PENDING: i64 = 1_000;

/// Why a partner's consumer cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    #[error("partner name {0:?}: use letters, digits, `_` and `-` only (it names a NATS user and a consumer)")]
    Name(String),
    #[error("stream {0:?}: partners subscribe to JIGI_NATIONAL (protobuf) or JIGI_JSON (JSON)")]
    Stream(String),
    #[error("filter {filter:?} is not a subject of {stream} (they start with `{root}.`)")]
    Filter {
        filter: String,
        stream: String,
        root: &'static str,
    },
    #[error(
        "{stream} already has a consumer {name} with filter {existing:?}, not {wanted:?}; \
         replace it (its position is lost: it delivers again from its start point)"
    )]
    Conflict {
        name: String,
        stream: String,
        existing: String,
        wanted: String,
    },
    #[error("JetStream: {0}")]
    JetStream(String),
}

/// What [`ensure_partner_consumer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The consumer did not exist; it now does.
    Created,
    /// It existed with the same filter: left as it was (with its position).
    Unchanged,
    /// It was deleted and created again ([`replace_partner_consumer`]).
    Replaced,
}

impl PartnerSubscription {
    /// Every subject of `stream` (`jigi.>` or `jigijson.>`), from the start.
    pub fn everything(name: impl Into<String>, stream: &str) -> PartnerSubscription {
        let filter = match stream {
            json::STREAM => json::wildcard(),
            _ => format!("{}.>", subject::ROOT),
        };
        PartnerSubscription {
            name: name.into(),
            stream: stream.to_owned(),
            filter,
            since: Since::Start,
        }
    }

    /// Checks the name, the stream and that the filter is within the stream.
    pub fn validate(&self) -> Result<(), PartnerError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(PartnerError::Name(self.name.clone()));
        }
        let root = match self.stream.as_str() {
            subject::NATIONAL_STREAM => subject::ROOT,
            json::STREAM => json::ROOT,
            _ => return Err(PartnerError::Stream(self.stream.clone())),
        };
        let mut tokens = self.filter.split('.');
        let tokens_ok = tokens.next() == Some(root) && {
            let rest: Vec<&str> = tokens.collect();
            !rest.is_empty()
                && rest.iter().enumerate().all(|(index, token)| {
                    *token == "*" || (*token == ">" && index == rest.len() - 1) || subject::is_valid_token(token)
                })
        };
        if !tokens_ok {
            return Err(PartnerError::Filter {
                filter: self.filter.clone(),
                stream: self.stream.clone(),
                root,
            });
        }
        Ok(())
    }

    /// The consumer's configuration: durable, explicit acks, the filter and
    /// the start point.
    pub fn consumer_config(&self) -> consumer::pull::Config {
        let deliver_policy = match self.since {
            Since::Start => consumer::DeliverPolicy::All,
            Since::New => consumer::DeliverPolicy::New,
            Since::Time(time) => consumer::DeliverPolicy::ByStartTime {
                start_time: async_nats::datetime::from_nanos(i128::from(
                    time.timestamp_nanos_opt().expect("a date between 1678 and 2262"),
                ))
                .expect("a representable instant"),
            },
        };
        consumer::pull::Config {
            durable_name: Some(self.name.clone()),
            description: Some(format!("Partner {}: {} from {}", self.name, self.filter, self.stream)),
            deliver_policy,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_ACK_PENDING,
            filter_subject: self.filter.clone(),
            ..Default::default()
        }
    }
}

fn jetstream_error(err: impl std::fmt::Display) -> PartnerError {
    PartnerError::JetStream(err.to_string())
}

/// The partner's consumer, if it exists.
pub async fn partner_consumer(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
) -> Result<Option<consumer::Info>, PartnerError> {
    let stream = js.get_stream(stream).await.map_err(jetstream_error)?;
    match stream.consumer_info(name).await {
        Ok(info) => Ok(Some(info)),
        Err(err) if err.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound => Ok(None),
        Err(err) => Err(jetstream_error(err)),
    }
}

/// Creates the partner's durable consumer, or leaves it as it is when it
/// exists with the same filter (so it keeps its position: running this
/// again is harmless). A consumer of that name with another filter is a
/// [`PartnerError::Conflict`]: see [`replace_partner_consumer`].
pub async fn ensure_partner_consumer(
    js: &jetstream::Context,
    subscription: &PartnerSubscription,
) -> Result<(Outcome, consumer::Info), PartnerError> {
    subscription.validate()?;
    if let Some(info) = partner_consumer(js, &subscription.stream, &subscription.name).await? {
        if info.config.filter_subject != subscription.filter {
            return Err(PartnerError::Conflict {
                name: subscription.name.clone(),
                stream: subscription.stream.clone(),
                existing: info.config.filter_subject.clone(),
                wanted: subscription.filter.clone(),
            });
        }
        return Ok((Outcome::Unchanged, info));
    }
    let info = create(js, subscription).await?;
    Ok((Outcome::Created, info))
}

/// Deletes the partner's consumer (if any) and creates it again: to change
/// its filter, or to replay from another start point.
pub async fn replace_partner_consumer(
    js: &jetstream::Context,
    subscription: &PartnerSubscription,
) -> Result<(Outcome, consumer::Info), PartnerError> {
    subscription.validate()?;
    let existed = remove_partner_consumer(js, &subscription.stream, &subscription.name).await?;
    let info = create(js, subscription).await?;
    Ok((if existed { Outcome::Replaced } else { Outcome::Created }, info))
}

/// Deletes the partner's consumer; `false` when there was none.
pub async fn remove_partner_consumer(js: &jetstream::Context, stream: &str, name: &str) -> Result<bool, PartnerError> {
    if partner_consumer(js, stream, name).await?.is_none() {
        return Ok(false);
    }
    let stream = js.get_stream(stream).await.map_err(jetstream_error)?;
    stream.delete_consumer(name).await.map_err(jetstream_error)?;
    Ok(true)
}

async fn create(js: &jetstream::Context, subscription: &PartnerSubscription) -> Result<consumer::Info, PartnerError> {
    let stream = js.get_stream(&subscription.stream).await.map_err(jetstream_error)?;
    let mut consumer = stream
        .create_consumer(subscription.consumer_config())
        .await
        .map_err(jetstream_error)?;
    consumer.info().await.cloned().map_err(jetstream_error)
}

/// One line about a partner's consumer, for operators: stream, filter,
/// start point, and how far the partner is.
pub fn describe(info: &consumer::Info) -> String {
    let since = match &info.config.deliver_policy {
        consumer::DeliverPolicy::All => "from the start".to_owned(),
        consumer::DeliverPolicy::New => "new events only".to_owned(),
        // As the server has it, RFC 3339 (whichever time crate async-nats uses).
        policy @ consumer::DeliverPolicy::ByStartTime { .. } => match serde_json::to_value(policy) {
            Ok(value) => format!("from {}", value["opt_start_time"].as_str().unwrap_or("?")),
            Err(_) => format!("{policy:?}"),
        },
        other => format!("{other:?}"),
    };
    format!(
        "consumer {} on {}: filter {}, {since}; {} delivered, {} acked, {} waiting, {} unacked",
        info.name,
        info.stream_name,
        info.config.filter_subject,
        info.delivered.stream_sequence,
        info.ack_floor.stream_sequence,
        info.num_pending,
        info.num_ack_pending,
    )
}

/// The subjects a partner's NATS user needs, and nothing more (as
/// `deploy/nats/gen-accounts` writes them): fetch from and ack its own
/// consumer, read its consumer's info, receive replies on its own inbox
/// prefix ([`inbox_prefix`]), and subscribe to its filter's live subjects.
pub fn permissions(subscription: &PartnerSubscription) -> (Vec<String>, Vec<String>) {
    let (stream, name) = (&subscription.stream, &subscription.name);
    (
        vec![
            format!("$JS.API.CONSUMER.INFO.{stream}.{name}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"),
            format!("$JS.ACK.{stream}.{name}.>"),
        ],
        vec![subscription.filter.clone(), format!("{}.>", inbox_prefix(name))],
    )
}

/// The inbox prefix a partner's client must use (`_INBOX_<name>`): its user
/// may not read `_INBOX.>`, where other users' replies travel.
pub fn inbox_prefix(name: &str) -> String {
    format!("_INBOX_{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(stream: &str, filter: &str) -> PartnerSubscription {
        PartnerSubscription {
            name: "partner_dhis2".into(),
            stream: stream.into(),
            filter: filter.into(),
            since: Since::Start,
        }
    }

    #[test]
    fn since_reads_start_new_dates_and_instants() {
        assert_eq!("start".parse(), Ok(Since::Start));
        assert_eq!("new".parse(), Ok(Since::New));
        assert_eq!(
            "2018-10-01".parse(),
            Ok(Since::Time("2018-10-01T00:00:00Z".parse().unwrap()))
        );
        assert_eq!(
            "2018-10-01T08:30:00+02:00".parse(),
            Ok(Since::Time("2018-10-01T06:30:00Z".parse().unwrap()))
        );
        assert!("yesterday".parse::<Since>().is_err());
    }

    #[test]
    fn filters_stay_within_their_stream() {
        subscription("JIGI_NATIONAL", "jigi.*.nutrition.>").validate().unwrap();
        subscription("JIGI_JSON", "jigijson.>").validate().unwrap();
        subscription("JIGI_JSON", "jigijson.sikasso.payments.payment.made")
            .validate()
            .unwrap();
        for (stream, filter) in [
            ("JIGI_NATIONAL", "jigijson.>"),
            ("JIGI_JSON", "jigi.>"),
            ("JIGI_JSON", ">"),
            ("JIGI_JSON", "jigijson"),
            ("JIGI_NATIONAL", "jigi.>.registry"),
            ("JIGI_NATIONAL", "jigi.Sikasso.>"),
            ("JIGI_NATIONAL", "jigi..>"),
        ] {
            assert!(
                matches!(
                    subscription(stream, filter).validate(),
                    Err(PartnerError::Filter { .. })
                ),
                "{stream} {filter}"
            );
        }
        assert!(matches!(
            subscription("JIGI_SIKASSO", "jigi.sikasso.>").validate(),
            Err(PartnerError::Stream(_))
        ));
        let mut bad = subscription("JIGI_JSON", "jigijson.>");
        for name in ["", "partner.dhis2", "partner dhis2", "partner*", "p>"] {
            bad.name = name.into();
            assert!(matches!(bad.validate(), Err(PartnerError::Name(_))), "{name:?}");
        }
    }

    #[test]
    fn the_consumer_is_durable_filtered_and_starts_where_asked() {
        let mut wanted = subscription("JIGI_NATIONAL", "jigi.*.nutrition.>");
        wanted.since = "2018-10-01".parse().unwrap();
        let config = wanted.consumer_config();
        assert_eq!(config.durable_name.as_deref(), Some("partner_dhis2"));
        assert_eq!(config.filter_subject, "jigi.*.nutrition.>");
        assert_eq!(config.ack_policy, consumer::AckPolicy::Explicit);
        let consumer::DeliverPolicy::ByStartTime { start_time } = config.deliver_policy else {
            panic!("by start time: {:?}", config.deliver_policy);
        };
        assert_eq!(
            start_time,
            async_nats::datetime::parse_rfc3339("2018-10-01T00:00:00Z").unwrap()
        );
        assert_eq!(PartnerSubscription::everything("p", "JIGI_JSON").filter, "jigijson.>");
        assert_eq!(PartnerSubscription::everything("p", "JIGI_NATIONAL").filter, "jigi.>");
    }
}
