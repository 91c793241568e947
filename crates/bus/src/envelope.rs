//! The CloudEvents 1.0 envelope in binary mode over NATS headers.
//!
//! The payload is the protobuf message; the envelope is in headers:
//! `ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-time`,
//! `ce-subject` and `content-type`, plus `Nats-Msg-Id` (equal to `ce-id`, so
//! JetStream drops a republished event) and W3C `traceparent`/`tracestate`.

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use jigi_common::Region;
use jigi_telemetry::TraceContext;

use crate::catalog::DomainEvent;

pub const SPEC_VERSION: &str = "1.0";

/// An event ready to be stored in the outbox and published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEvent {
    /// `ce-id` and `Nats-Msg-Id`: a UUIDv7, unique per event.
    pub id: String,
    /// NATS subject.
    pub subject: String,
    /// `ce-type`.
    pub ce_type: String,
    /// `ce-source`: `/jigi/<region>/<service>`.
    pub source: String,
    /// `ce-subject`: the ID of the entity the event is about.
    pub about: String,
    /// `ce-time`: when the change happened.
    pub time: DateTime<Utc>,
    /// `content-type` of the payload.
    pub content_type: String,
    /// The encoded protobuf message.
    pub payload: Vec<u8>,
    /// Trace context of the request that caused the event.
    pub trace: TraceContext,
}

impl OutgoingEvent {
    /// An event about `about` (e.g. a household ID), caused by the current
    /// span's request and happening now.
    pub fn new<M: DomainEvent>(region: Region, about: &str, message: &M) -> OutgoingEvent {
        let kind = M::KIND;
        OutgoingEvent {
            id: uuid::Uuid::now_v7().to_string(),
            subject: kind.subject(region),
            ce_type: kind.ce_type(),
            source: format!("/jigi/{}/{}", region.slug(), kind.service),
            about: about.to_owned(),
            time: Utc::now(),
            content_type: kind.content_type(),
            payload: message.encode_to_vec(),
            trace: TraceContext::current(),
        }
    }

    /// The NATS headers of the event.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", SPEC_VERSION);
        headers.insert("ce-id", self.id.as_str());
        headers.insert("ce-source", self.source.as_str());
        headers.insert("ce-type", self.ce_type.as_str());
        headers.insert("ce-time", format_time(self.time).as_str());
        headers.insert("ce-subject", self.about.as_str());
        headers.insert("content-type", self.content_type.as_str());
        headers.insert("Nats-Msg-Id", self.id.as_str());
        if let Some(traceparent) = &self.trace.traceparent {
            headers.insert("traceparent", traceparent.as_str());
        }
        if let Some(tracestate) = &self.trace.tracestate {
            headers.insert("tracestate", tracestate.as_str());
        }
        headers
    }
}

/// `ce-time` as RFC 3339 in UTC with microseconds.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An event as a consumer receives it.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// `ce-id`.
    pub id: String,
    /// `ce-type`.
    pub ce_type: String,
    /// `ce-source`.
    pub source: String,
    /// `ce-subject`; empty when absent.
    pub about: String,
    /// `ce-time`.
    pub time: DateTime<Utc>,
    /// `content-type`; empty when absent.
    pub content_type: String,
    /// The payload.
    pub data: Bytes,
    /// Trace context of the cause; empty for messages from outside Jigi.
    pub trace: TraceContext,
    /// The NATS subject it was published on.
    pub subject: String,
    /// Position in the stream it was consumed from, when known.
    pub stream_sequence: Option<u64>,
}

/// Why a message is not a valid Jigi event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message has no headers: not a CloudEvent in binary mode")]
    NoHeaders,
    #[error("missing CloudEvents header {0}")]
    Missing(&'static str),
    #[error("unsupported ce-specversion {0:?}")]
    SpecVersion(String),
    #[error("malformed ce-time {0:?}")]
    Time(String),
    #[error("payload of {ce_type} does not decode as {message}: {reason}")]
    Payload {
        ce_type: String,
        message: &'static str,
        reason: String,
    },
    #[error("event is a {actual}, not a {expected}")]
    WrongType { actual: String, expected: String },
}

impl ReceivedEvent {
    /// Reads the envelope of a NATS message.
    pub fn parse(
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        stream_sequence: Option<u64>,
    ) -> Result<ReceivedEvent, EnvelopeError> {
        let headers = headers.ok_or(EnvelopeError::NoHeaders)?;
        let get = |name: &str| headers.get(name).map(|value| value.as_str().to_owned());
        let required = |name: &'static str| {
            get(name)
                .filter(|value| !value.is_empty())
                .ok_or(EnvelopeError::Missing(name))
        };
        let version = required("ce-specversion")?;
        if version != SPEC_VERSION {
            return Err(EnvelopeError::SpecVersion(version));
        }
        let time_text = required("ce-time")?;
        let time = DateTime::parse_from_rfc3339(&time_text)
            .map_err(|_| EnvelopeError::Time(time_text.clone()))?
            .with_timezone(&Utc);
        Ok(ReceivedEvent {
            id: required("ce-id")?,
            ce_type: required("ce-type")?,
            source: required("ce-source")?,
            about: get("ce-subject").unwrap_or_default(),
            time,
            content_type: get("content-type").unwrap_or_default(),
            data: payload,
            trace: TraceContext::from_lookup(get),
            subject: subject.to_owned(),
            stream_sequence,
        })
    }

    /// Reads the envelope of a message delivered by a JetStream consumer.
    pub fn from_jetstream(message: &async_nats::jetstream::Message) -> Result<ReceivedEvent, EnvelopeError> {
        let sequence = message.info().ok().map(|info| info.stream_sequence);
        ReceivedEvent::from_jetstream_at(message, sequence)
    }

    /// [`ReceivedEvent::from_jetstream`] for a caller that has already read
    /// the message's stream position.
    pub(crate) fn from_jetstream_at(
        message: &async_nats::jetstream::Message,
        sequence: Option<u64>,
    ) -> Result<ReceivedEvent, EnvelopeError> {
        ReceivedEvent::parse(
            message.subject.as_str(),
            message.headers.as_ref(),
            message.payload.clone(),
            sequence,
        )
    }

    /// Whether this is an event of type `M`.
    pub fn is<M: DomainEvent>(&self) -> bool {
        M::KIND.is_type(&self.ce_type)
    }

    /// Decodes the payload as `M`, checking the event's type first.
    pub fn decode<M: DomainEvent>(&self) -> Result<M, EnvelopeError> {
        if !self.is::<M>() {
            return Err(EnvelopeError::WrongType {
                actual: self.ce_type.clone(),
                expected: M::KIND.ce_type(),
            });
        }
        M::decode(self.data.clone()).map_err(|err| EnvelopeError::Payload {
            ce_type: self.ce_type.clone(),
            message: M::KIND.message,
            reason: err.to_string(),
        })
    }

    /// The region in the event's subject.
    pub fn region(&self) -> Option<Region> {
        crate::subject::region_of_subject(&self.subject)
    }
}

#[cfg(test)]
mod tests {
    use jigi_proto::events::{HouseholdEnrolled, HouseholdRegistered};

    use super::*;

    fn registered() -> OutgoingEvent {
        let message = HouseholdRegistered {
            household_id: "h-1".into(),
            registered_on: "2018-10-01".into(),
            ..Default::default()
        };
        let mut event = OutgoingEvent::new(Region::Sikasso, "h-1", &message);
        event.trace = TraceContext {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: None,
        };
        event
    }

    #[test]
    fn headers_round_trip_through_a_received_message() {
        let sent = registered();
        let headers = sent.headers();
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), sent.id);
        assert_eq!(headers.get("ce-source").unwrap().as_str(), "/jigi/sikasso/registry");
        let received =
            ReceivedEvent::parse(&sent.subject, Some(&headers), sent.payload.clone().into(), Some(7)).unwrap();
        assert_eq!(received.id, sent.id);
        assert_eq!(received.about, "h-1");
        assert_eq!(received.time, format_time(sent.time).parse::<DateTime<Utc>>().unwrap());
        assert_eq!(received.trace, sent.trace);
        assert_eq!(received.region(), Some(Region::Sikasso));
        let decoded: HouseholdRegistered = received.decode().unwrap();
        assert_eq!(decoded.household_id, "h-1");
        assert!(matches!(
            received.decode::<HouseholdEnrolled>(),
            Err(EnvelopeError::WrongType { .. })
        ));
    }

    #[test]
    fn refuses_messages_that_are_not_cloudevents() {
        assert_eq!(
            ReceivedEvent::parse("jigi.sikasso.x", None, Bytes::new(), None).unwrap_err(),
            EnvelopeError::NoHeaders
        );
        let mut headers = registered().headers();
        headers.insert("ce-specversion", "0.3");
        assert!(matches!(
            ReceivedEvent::parse("s", Some(&headers), Bytes::new(), None),
            Err(EnvelopeError::SpecVersion(_))
        ));
        let mut headers = registered().headers();
        headers.insert("ce-time", "yesterday");
        assert!(matches!(
            ReceivedEvent::parse("s", Some(&headers), Bytes::new(), None),
            Err(EnvelopeError::Time(_))
        ));
    }

    #[test]
    fn a_message_without_trace_headers_has_no_parent() {
        let mut headers = HeaderMap::new();
        for (name, value) in registered().headers().iter() {
            if name.to_string() != "traceparent" {
                for v in value {
                    headers.append(name.clone(), v.clone());
                }
            }
        }
        let received = ReceivedEvent::parse("s", Some(&headers), Bytes::new(), None).unwrap();
        assert_eq!(received.trace, TraceContext::default());
        assert_eq!(received.trace.trace_id(), None);
    }
}
