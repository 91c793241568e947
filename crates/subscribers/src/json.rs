//! Jigi's events as JSON, for subscribers that cannot use protobuf.
//!
//! Each event becomes one CloudEvents 1.0 event in *structured mode*
//! (`application/cloudevents+json`): the envelope's attributes and the
//! payload in one JSON document,
//!
//! ```json
//! {"specversion": "1.0", "id": "0192…", "source": "/jigi/sikasso/registry",
//!  "type": "jigi.registry.household.registered.v1", "time": "2018-10-01T08:30:00.000000Z",
//!  "subject": "<household ID>", "datacontenttype": "application/json",
//!  "traceparent": "00-…-01", "data": {"householdId": "…", …}}
//! ```
//!
//! `data` is the protobuf payload in the proto3 JSON mapping (lowerCamelCase
//! names, 64-bit integers as strings, enums by name), with every scalar
//! field written even when it holds its default (`"grams": "0"`), so a
//! subscriber never has to know protobuf's defaults; an absent message
//! field is left out. An event whose payload cannot be rendered (a type
//! newer than this code, a payload that does not decode) is still passed
//! on, as `data_base64` with its protobuf `datacontenttype`.
//!
//! The JSON events live on `jigijson.<region>.<service>.<entity>.<action>`
//! (the protobuf subject under another root, so no filter on `jigi.>`
//! captures them), in the stream [`STREAM`], written by the
//! [`JsonMirror`](crate::mirror::JsonMirror) from the national stream.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_nats::HeaderMap;
use async_nats::jetstream::stream;
use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value, json};

use jigi_bus::catalog::ALL;
use jigi_bus::envelope::{ReceivedEvent, SPEC_VERSION, format_time};
use jigi_bus::{streams, subject};

/// First token of every JSON subject.
pub const ROOT: &str = "jigijson";

/// The stream of the JSON events, on the national hub.
pub const STREAM: &str = "JIGI_JSON";

/// `content-type` of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// `datacontenttype` of a rendered payload.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// The JSON subject of an event's subject: `jigi.<rest>` → `jigijson.<rest>`;
/// `None` for a subject outside Jigi's.
pub fn json_subject(event_subject: &str) -> Option<String> {
    let rest = event_subject.strip_prefix(subject::ROOT)?.strip_prefix('.')?;
    (!rest.is_empty()).then(|| format!("{ROOT}.{rest}"))
}

/// Everything of the JSON stream: `jigijson.>`.
pub fn wildcard() -> String {
    format!("{ROOT}.>")
}

/// The configuration of [`STREAM`]: every JSON subject, file storage, the
/// same duplicate window as the event streams (a republished event is
/// dropped by its `Nats-Msg-Id`), and, like them, no deletes: a partner's
/// replay finds what the national stream holds.
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM.to_owned(),
        description: Some(
            "Every event of the national stream as a CloudEvent in structured JSON (application/cloudevents+json)"
                .to_owned(),
        ),
        subjects: vec![wildcard()],
        storage: stream::StorageType::File,
        duplicate_window: streams::DUPLICATE_WINDOW,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// One event rendered as JSON, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonEvent {
    /// `jigijson.<region>.<service>.<entity>.<action>`.
    pub subject: String,
    /// The CloudEvent's `id`: the `Nats-Msg-Id` of the JSON message too.
    pub id: String,
    /// The structured-mode document.
    pub document: Value,
    /// Why `data` is `data_base64` rather than JSON; `None` when rendered.
    pub raw_reason: Option<String>,
    /// W3C trace context, repeated in the message's headers.
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl JsonEvent {
    /// The message body: the document as compact JSON.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.document).expect("a JSON value serializes")
    }

    /// NATS headers: `Nats-Msg-Id` (the event's ID, so JetStream drops a
    /// republished event), `content-type`, and the trace context.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", self.id.as_str());
        headers.insert("content-type", CONTENT_TYPE);
        if let Some(traceparent) = &self.traceparent {
            headers.insert("traceparent", traceparent.as_str());
        }
        if let Some(tracestate) = &self.tracestate {
            headers.insert("tracestate", tracestate.as_str());
        }
        headers
    }
}

/// Why an event cannot be mirrored at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("subject {0:?} is not a Jigi event subject")]
    Subject(String),
}

/// Renders events as structured-mode CloudEvents, reading their payloads
/// with the protos' descriptors (`jigi_proto::FILE_DESCRIPTOR_SET`).
#[derive(Debug, Clone)]
pub struct JsonRenderer {
    /// Every message of the contract.
    pool: DescriptorPool,
    /// The payload's message by `ce-type`.
    messages: HashMap<String, MessageDescriptor>,
    options: SerializeOptions,
}

impl Default for JsonRenderer {
    fn default() -> Self {
        JsonRenderer::new()
    }
}

impl JsonRenderer {
    /// A renderer for every event of the catalog. Panics when the catalog
    /// names a message the protos do not define (a test proves it does not).
    pub fn new() -> JsonRenderer {
        let mut set = prost_types::FileDescriptorSet::decode(jigi_proto::FILE_DESCRIPTOR_SET)
            .expect("the built-in descriptor set decodes");
        // The comments are for people reading the contract (the AsyncAPI
        // document, reflection); rendering needs none, and held in a pool
        // they were most of an idle monitoring's own memory.
        for file in &mut set.file {
            file.source_code_info = None;
        }
        let pool = DescriptorPool::from_file_descriptor_set(set).expect("the built-in descriptor set is consistent");
        let messages = ALL
            .iter()
            .map(|kind| {
                let descriptor = pool
                    .get_message_by_name(kind.message)
                    .unwrap_or_else(|| panic!("the catalog names {} but no proto defines it", kind.message));
                (kind.ce_type(), descriptor)
            })
            .collect();
        JsonRenderer {
            pool,
            messages,
            options: SerializeOptions::new().skip_default_fields(false),
        }
    }

    /// Any message of the contract (`full_name`, e.g.
    /// `jigi.payments.v1.Reconciliation`) encoded in `bytes`, in the same
    /// proto3 JSON as the mirror's events: lowerCamelCase names, 64-bit
    /// integers as strings, enums by name, every scalar field written even
    /// when it holds its default. What `jigi … --json` prints.
    pub fn message(&self, full_name: &str, bytes: &[u8]) -> Result<Value, String> {
        let descriptor = self
            .pool
            .get_message_by_name(full_name)
            .ok_or_else(|| format!("unknown message type {full_name}"))?;
        let message = DynamicMessage::decode(descriptor, bytes)
            .map_err(|err| format!("the payload does not decode as {full_name}: {err}"))?;
        message
            .serialize_with_options(serde_json::value::Serializer, &self.options)
            .map_err(|err| format!("cannot write {full_name} as JSON: {err}"))
    }

    /// One renderer for the process (the descriptor pool is read once).
    pub fn shared() -> &'static JsonRenderer {
        static SHARED: OnceLock<JsonRenderer> = OnceLock::new();
        SHARED.get_or_init(JsonRenderer::new)
    }

    /// The proto3 JSON rendering of a payload of type `ce_type`.
    pub fn data(&self, ce_type: &str, payload: &[u8]) -> Result<Value, String> {
        let descriptor = self
            .messages
            .get(ce_type)
            .ok_or_else(|| format!("unknown event type {ce_type}"))?;
        let message = DynamicMessage::decode(descriptor.clone(), payload)
            .map_err(|err| format!("payload does not decode as {}: {err}", descriptor.full_name()))?;
        message
            .serialize_with_options(serde_json::value::Serializer, &self.options)
            .map_err(|err| format!("payload does not render as JSON: {err}"))
    }

    /// The event as a structured-mode CloudEvent on its JSON subject.
    pub fn render(&self, event: &ReceivedEvent) -> Result<JsonEvent, RenderError> {
        let subject = json_subject(&event.subject).ok_or_else(|| RenderError::Subject(event.subject.clone()))?;
        let mut document = Map::new();
        document.insert("specversion".into(), json!(SPEC_VERSION));
        document.insert("id".into(), json!(event.id));
        document.insert("source".into(), json!(event.source));
        document.insert("type".into(), json!(event.ce_type));
        document.insert("time".into(), json!(format_time(event.time)));
        if !event.about.is_empty() {
            document.insert("subject".into(), json!(event.about));
        }
        if let Some(traceparent) = &event.trace.traceparent {
            document.insert("traceparent".into(), json!(traceparent));
        }
        if let Some(tracestate) = &event.trace.tracestate {
            document.insert("tracestate".into(), json!(tracestate));
        }
        let raw_reason = match self.data(&event.ce_type, &event.data) {
            Ok(data) => {
                document.insert("datacontenttype".into(), json!(DATA_CONTENT_TYPE));
                document.insert("data".into(), data);
                None
            }
            Err(reason) => {
                let content_type = if event.content_type.is_empty() {
                    "application/protobuf"
                } else {
                    event.content_type.as_str()
                };
                document.insert("datacontenttype".into(), json!(content_type));
                document.insert(
                    "data_base64".into(),
                    json!(base64::engine::general_purpose::STANDARD.encode(&event.data)),
                );
                Some(reason)
            }
        };
        Ok(JsonEvent {
            subject,
            id: event.id.clone(),
            document: Value::Object(document),
            raw_reason,
            traceparent: event.trace.traceparent.clone(),
            tracestate: event.trace.tracestate.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;
    use jigi_proto::common::{Component, Location, Money, Period, Sex};
    use jigi_proto::events::*;
    use jigi_telemetry::TraceContext;

    use super::*;
    use jigi_bus::catalog::DomainEvent;
    use jigi_bus::envelope::OutgoingEvent;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// What a subscriber receives for `message`, as the national stream holds it.
    fn received<M: DomainEvent>(about: &str, message: &M) -> ReceivedEvent {
        let mut event = OutgoingEvent::new(Region::Sikasso, about, message);
        event.trace = TraceContext {
            traceparent: Some(TRACEPARENT.into()),
            tracestate: Some("jigi=1".into()),
        };
        ReceivedEvent::parse(&event.subject, Some(&event.headers()), event.payload.into(), Some(1)).unwrap()
    }

    fn sanando() -> Location {
        Location {
            region: "segou".into(),
            cercle: "segou.baroueli".into(),
            commune: "segou.baroueli.sanando".into(),
            village: String::new(),
        }
    }

    #[test]
    fn json_subjects_mirror_event_subjects_under_their_own_root() {
        assert_eq!(
            json_subject("jigi.sikasso.registry.household.registered").as_deref(),
            Some("jigijson.sikasso.registry.household.registered")
        );
        assert_eq!(json_subject("jigijson.sikasso.x"), None);
        assert_eq!(json_subject("other.sikasso.x"), None);
        assert_eq!(json_subject("jigi."), None);
        assert_eq!(stream_config().subjects, vec!["jigijson.>".to_owned()]);
    }

    #[test]
    fn a_payment_is_a_structured_cloudevent_with_every_attribute() {
        let payment = PaymentMade {
            cycle: Some(PaymentCycleRef {
                cycle_id: "sikasso-2018Q4-1".into(),
                region: "sikasso".into(),
                period: Some(Period { code: "2018Q4".into() }),
                funding_source: PaymentFundingSource::WorldBankIda as i32,
                ..Default::default()
            }),
            household_id: "h-1".into(),
            location: Some(sanando()),
            amount: Some(Money { fcfa: 30_000 }),
            paid_on: "2018-10-03".into(),
            agent_code: "AGENT-001".into(),
            channel: PaymentChannelKind::MobileMoney as i32,
        };
        let event = received("h-1", &payment);
        let rendered = JsonRenderer::new().render(&event).unwrap();
        assert_eq!(rendered.subject, "jigijson.sikasso.payments.payment.made");
        assert_eq!(rendered.id, event.id);
        assert_eq!(rendered.raw_reason, None);
        let doc = &rendered.document;
        assert_eq!(doc["specversion"], "1.0");
        assert_eq!(doc["id"], event.id.as_str());
        assert_eq!(doc["source"], "/jigi/sikasso/payments");
        assert_eq!(doc["type"], "jigi.payments.payment.made.v1");
        assert_eq!(doc["time"], format_time(event.time).as_str());
        assert_eq!(doc["subject"], "h-1");
        assert_eq!(doc["datacontenttype"], "application/json");
        assert_eq!(doc["traceparent"], TRACEPARENT);
        assert_eq!(doc["tracestate"], "jigi=1");
        assert!(doc.get("data_base64").is_none());
        let data = &doc["data"];
        // int64 as a string, enums by name, lowerCamelCase field names.
        assert_eq!(data["amount"]["fcfa"], "30000");
        assert_eq!(data["channel"], "PAYMENT_CHANNEL_KIND_MOBILE_MONEY");
        assert_eq!(data["cycle"]["fundingSource"], "PAYMENT_FUNDING_SOURCE_WORLD_BANK_IDA");
        assert_eq!(data["cycle"]["period"]["code"], "2018Q4");
        assert_eq!(data["householdId"], "h-1");
        assert_eq!(data["paidOn"], "2018-10-03");
        assert_eq!(data["location"]["commune"], "segou.baroueli.sanando");
        // A scalar at its default is written; so a subscriber sees village "".
        assert_eq!(data["location"]["village"], "");

        let headers = rendered.headers();
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), event.id);
        assert_eq!(headers.get("content-type").unwrap().as_str(), CONTENT_TYPE);
        assert_eq!(headers.get("traceparent").unwrap().as_str(), TRACEPARENT);
        let body: Value = serde_json::from_slice(&rendered.body()).unwrap();
        assert_eq!(&body, doc);
    }

    #[test]
    fn defaults_are_written_and_absent_messages_left_out() {
        let ration = RationDistributed {
            distribution_id: "d-1".into(),
            round_id: "segou-2018-r2".into(),
            group: BeneficiaryGroup::Child as i32,
            grams: 3_000,
            stock_on_hand_grams: 0,
            lots: vec![LotQuantity {
                lot_number: "LOT-A".into(),
                grams: 3_000,
            }],
            ..Default::default()
        };
        let data = JsonRenderer::new()
            .data(
                &<RationDistributed as DomainEvent>::KIND.ce_type(),
                &prost::Message::encode_to_vec(&ration),
            )
            .unwrap();
        assert_eq!(data["group"], "BENEFICIARY_GROUP_CHILD");
        assert_eq!(data["grams"], "3000");
        assert_eq!(data["stockOnHandGrams"], "0", "an empty warehouse is said, not implied");
        assert_eq!(data["roundYear"], 0, "int32 stays a number");
        assert_eq!(data["lots"][0]["lotNumber"], "LOT-A");
        assert_eq!(data["lots"][0]["grams"], "3000");
        assert!(data.get("location").is_none(), "an absent message is left out");
        assert!(data.get("period").is_none());

        let enrolled = HouseholdEnrolled {
            household_id: "h-2".into(),
            component: Component::Pnp as i32,
            ..Default::default()
        };
        let data = JsonRenderer::new()
            .data(
                &<HouseholdEnrolled as DomainEvent>::KIND.ce_type(),
                &prost::Message::encode_to_vec(&enrolled),
            )
            .unwrap();
        assert_eq!(data["component"], "COMPONENT_PNP");
        assert_eq!(data["committeeOverride"], false);
    }

    #[test]
    fn a_registration_renders_its_members_without_personal_data() {
        let registered = HouseholdRegistered {
            household_id: "h-3".into(),
            location: Some(sanando()),
            members: vec![MemberProfile {
                member_id: "m-1".into(),
                sex: Sex::Female as i32,
                birth_date: "1990-03-12".into(),
                relation: MemberRelation::Head as i32,
                lactating: true,
                ..Default::default()
            }],
            pmt: Some(PmtResult {
                score: 12.5,
                eligible: true,
            }),
            registered_on: "2018-10-01".into(),
        };
        let rendered = JsonRenderer::shared().render(&received("h-3", &registered)).unwrap();
        let data = &rendered.document["data"];
        assert_eq!(rendered.subject, "jigijson.sikasso.registry.household.registered");
        assert_eq!(data["members"][0]["sex"], "SEX_FEMALE");
        assert_eq!(data["members"][0]["relation"], "MEMBER_RELATION_HEAD");
        assert_eq!(data["members"][0]["lactating"], true);
        assert_eq!(data["pmt"]["score"], 12.5);
        assert_eq!(data["pmt"]["eligible"], true);
        assert_eq!(
            data["members"][0].as_object().unwrap().len(),
            7,
            "exactly the profile's fields: no name, no ID card, no phone"
        );
    }

    #[test]
    fn every_catalog_kind_renders_and_its_fields_match_the_asyncapi_schema() {
        let renderer = JsonRenderer::new();
        let document = crate::asyncapi::document();
        for kind in ALL {
            // An empty payload is a valid message of every type: every
            // scalar field is then written with its default.
            let data = renderer
                .data(&kind.ce_type(), &[])
                .unwrap_or_else(|err| panic!("{}: {err}", kind.ce_type()));
            let object = data
                .as_object()
                .unwrap_or_else(|| panic!("{} is an object", kind.message));
            let properties = document["components"]["schemas"][kind.message]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{} has a schema", kind.message));
            for name in object.keys() {
                assert!(
                    properties.contains_key(name),
                    "{}: {name} is not in the documented schema",
                    kind.message
                );
            }
            let subject = kind.subject(Region::Gao);
            assert_eq!(
                json_subject(&subject).unwrap(),
                format!("jigijson.gao.{}.{}.{}", kind.service, kind.entity, kind.action)
            );
        }
    }

    #[test]
    fn an_event_it_cannot_render_is_passed_on_as_base64() {
        let mut event = received("h-1", &HouseholdExited::default());
        event.ce_type = "jigi.registry.household.merged.v2".into();
        event.content_type = "application/protobuf; proto=jigi.events.v2.HouseholdMerged".into();
        event.data = vec![0x0a, 0x03, b'h', b'-', b'9'].into();
        let rendered = JsonRenderer::new().render(&event).unwrap();
        assert!(rendered.raw_reason.as_deref().unwrap().contains("unknown event type"));
        assert_eq!(
            rendered.document["datacontenttype"],
            "application/protobuf; proto=jigi.events.v2.HouseholdMerged"
        );
        assert_eq!(rendered.document["data_base64"], "CgNoLTk=");
        assert!(rendered.document.get("data").is_none());

        // A known type whose payload does not decode.
        let mut broken = received("h-1", &HouseholdExited::default());
        broken.data = vec![0xff, 0xff, 0xff].into();
        let rendered = JsonRenderer::new().render(&broken).unwrap();
        assert!(rendered.raw_reason.unwrap().contains("does not decode"));
        assert_eq!(rendered.document["data_base64"], "////");

        let mut elsewhere = received("h-1", &HouseholdExited::default());
        elsewhere.subject = "other.sikasso.registry.household.exited".into();
        assert!(matches!(
            JsonRenderer::new().render(&elsewhere),
            Err(RenderError::Subject(_))
        ));
    }
}
