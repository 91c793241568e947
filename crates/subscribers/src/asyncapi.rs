//! The AsyncAPI 3 document of Jigi's events, generated from the event
//! catalog and the protos (with their comments), so the public contract a
//! subscriber reads is exactly what the code publishes: each event on its
//! protobuf subject (`jigi.{region}…`, binary-mode CloudEvent) and on the
//! JSON mirror's (`jigijson.{region}…`, structured-mode CloudEvent).
//!
//! `proto/asyncapi.json` is the committed document; a test fails when it
//! differs from what [`document`] generates. After changing an event:
//!
//! ```text
//! UPDATE_ASYNCAPI=1 cargo test -p jigi-subscribers --lib asyncapi
//! ```

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use serde_json::{Value, json};

use crate::json;
use jigi_bus::catalog::{ALL, EventKind};

/// Everything the protos say about a type, by full name (`jigi.events.v1.HouseholdRegistered`).
struct Protos {
    messages: BTreeMap<String, (DescriptorProto, String)>,
    enums: BTreeMap<String, (EnumDescriptorProto, String)>,
    /// Comments by (type name, field name).
    field_comments: BTreeMap<(String, String), String>,
}

impl Protos {
    fn load() -> Protos {
        let set = FileDescriptorSet::decode(jigi_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let mut protos = Protos {
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
            field_comments: BTreeMap::new(),
        };
        for file in &set.file {
            let comments: BTreeMap<Vec<i32>, String> = file
                .source_code_info
                .iter()
                .flat_map(|info| &info.location)
                .filter_map(|l| l.leading_comments.as_ref().map(|c| (l.path.clone(), clean(c))))
                .collect();
            let package = file.package();
            for (index, message) in file.message_type.iter().enumerate() {
                let name = format!("{package}.{}", message.name());
                let path = vec![4, index as i32];
                for (field_index, field) in message.field.iter().enumerate() {
                    let mut field_path = path.clone();
                    field_path.extend([2, field_index as i32]);
                    if let Some(comment) = comments.get(&field_path) {
                        protos
                            .field_comments
                            .insert((name.clone(), field.name().to_owned()), comment.clone());
                    }
                }
                let comment = comments.get(&path).cloned().unwrap_or_default();
                protos.messages.insert(name, (message.clone(), comment));
            }
            for (index, enumeration) in file.enum_type.iter().enumerate() {
                let comment = comments.get(&vec![5, index as i32]).cloned().unwrap_or_default();
                protos.enums.insert(
                    format!("{package}.{}", enumeration.name()),
                    (enumeration.clone(), comment),
                );
            }
        }
        protos
    }

    /// The JSON Schema of a message's proto3 JSON rendering, adding the
    /// schemas of the types it uses to `schemas`.
    fn schema(&self, name: &str, schemas: &mut BTreeMap<String, Value>) {
        if schemas.contains_key(name) {
            return;
        }
        if name == "google.protobuf.Timestamp" {
            schemas.insert(
                name.to_owned(),
                json!({"type": "string", "format": "date-time", "description": "An instant, RFC 3339."}),
            );
            return;
        }
        if let Some((enumeration, comment)) = self.enums.get(name) {
            let values: Vec<&str> = enumeration.value.iter().map(|v| v.name()).collect();
            schemas.insert(
                name.to_owned(),
                json!({"type": "string", "enum": values, "description": comment}),
            );
            return;
        }
        let (message, comment) = self
            .messages
            .get(name)
            .unwrap_or_else(|| panic!("unknown proto type {name}"));
        schemas.insert(name.to_owned(), Value::Null); // reserve against cycles
        let mut properties = serde_json::Map::new();
        for field in &message.field {
            let mut schema = self.field_schema(field, schemas);
            if let Some(comment) = self.field_comments.get(&(name.to_owned(), field.name().to_owned())) {
                schema = json!({"allOf": [schema], "description": comment});
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        schemas.insert(
            name.to_owned(),
            json!({"type": "object", "description": comment, "properties": properties, "additionalProperties": false}),
        );
    }

    fn field_schema(&self, field: &FieldDescriptorProto, schemas: &mut BTreeMap<String, Value>) -> Value {
        let single = match field.r#type() {
            Type::String => json!({"type": "string"}),
            Type::Bool => json!({"type": "boolean"}),
            Type::Double | Type::Float => json!({"type": "number"}),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 | Type::Uint32 | Type::Fixed32 => json!({"type": "integer"}),
            // The proto3 JSON mapping writes 64-bit integers as strings.
            Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => {
                json!({"type": "string", "pattern": "^-?[0-9]+$"})
            }
            Type::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Type::Message | Type::Enum | Type::Group => {
                let target = field.type_name().trim_start_matches('.');
                self.schema(target, schemas);
                json!({"$ref": format!("#/components/schemas/{target}")})
            }
        };
        if field.label() == Label::Repeated {
            json!({"type": "array", "items": single})
        } else {
            single
        }
    }
}

/// A proto comment as one paragraph.
fn clean(comment: &str) -> String {
    comment
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A plausible value for a field, for examples.
fn example(protos: &Protos, name: &str, depth: usize) -> Value {
    let Some((message, _)) = protos.messages.get(name) else {
        return Value::Null;
    };
    let mut object = serde_json::Map::new();
    for field in &message.field {
        let value = match field.r#type() {
            Type::String => json!(sample_text(field.name())),
            Type::Bool => json!(false),
            Type::Double | Type::Float => json!(24.5),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 | Type::Uint32 | Type::Fixed32 => json!(5),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => {
                json!(sample_number(field.name()))
            }
            Type::Bytes => json!(""),
            Type::Enum => {
                let target = field.type_name().trim_start_matches('.');
                let first = protos
                    .enums
                    .get(target)
                    .and_then(|(e, _)| e.value.get(1))
                    .map(|v| v.name().to_owned());
                json!(first.unwrap_or_default())
            }
            Type::Message | Type::Group if depth < 3 => {
                let target = field.type_name().trim_start_matches('.');
                if target == "google.protobuf.Timestamp" {
                    json!("2018-10-01T08:30:00Z")
                } else {
                    example(protos, target, depth + 1)
                }
            }
            Type::Message | Type::Group => continue,
        };
        let value = if field.label() == Label::Repeated {
            json!([value])
        } else {
            value
        };
        object.insert(field.json_name().to_owned(), value);
    }
    Value::Object(object)
}

fn sample_text(field: &str) -> &'static str {
    match field {
        "region" => "sikasso",
        "cercle" => "sikasso.yanfolila",
        "commune" => "sikasso.yanfolila.gouanan",
        "village" => "sikasso.yanfolila.gouanan.yorobougoula",
        "code" => "2018Q4",
        f if f.ends_with("_on") || f == "birth_date" => "2018-10-01",
        f if f.ends_with("_id") => "0192b6c4-5e3a-7c1d-9f00-3b2a1c0d4e5f",
        _ => "…",
    }
}

fn sample_number(field: &str) -> &'static str {
    match field {
        "fcfa" => "30000",
        f if f.contains("grams") => "1500",
        _ => "1",
    }
}

/// The AsyncAPI 3 document of every event in the catalog.
pub fn document() -> Value {
    let protos = Protos::load();
    let mut schemas = BTreeMap::new();
    let regions: Vec<&str> = jigi_common::Region::ALL.iter().map(|r| r.slug()).collect();
    let mut channels = serde_json::Map::new();
    let mut operations = serde_json::Map::new();
    let mut messages = serde_json::Map::new();
    for kind in ALL {
        protos.schema(kind.message, &mut schemas);
        let name = kind.message.rsplit('.').next().expect("a full name has a last part");
        let channel = channel_id(kind);
        let comment = protos
            .messages
            .get(kind.message)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        messages.insert(
            name.to_owned(),
            json!({
                "name": name,
                "title": format!("{} {} ({})", kind.entity, kind.action, kind.service),
                "summary": comment,
                "contentType": kind.content_type(),
                "headers": {
                    "allOf": [
                        {"$ref": "#/components/schemas/CloudEventHeaders"},
                        {"type": "object", "properties": {"ce-type": {"const": kind.ce_type()}}}
                    ]
                },
                "payload": {"$ref": format!("#/components/schemas/{}", kind.message)},
                "examples": [{
                    "name": format!("{name} in Sikasso"),
                    "headers": {
                        "ce-specversion": "1.0",
                        "ce-id": "0192b6c4-0000-7000-8000-000000000001",
                        "ce-source": format!("/jigi/sikasso/{}", kind.service),
                        "ce-type": kind.ce_type(),
                        "ce-time": "2018-10-01T08:30:00.000000Z",
                        "ce-subject": "0192b6c4-5e3a-7c1d-9f00-3b2a1c0d4e5f",
                        "content-type": kind.content_type(),
                        "Nats-Msg-Id": "0192b6c4-0000-7000-8000-000000000001",
                        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    },
                    "payload": example(&protos, kind.message, 0)
                }]
            }),
        );
        channels.insert(
            channel.clone(),
            json!({
                "address": format!("jigi.{{region}}.{}.{}.{}", kind.service, kind.entity, kind.action),
                "title": format!("{} {}", kind.entity, kind.action),
                "description": format!(
                    "Published by the {} service of each region; sourced into the national stream JIGI_NATIONAL.",
                    kind.service
                ),
                "parameters": {"region": {"$ref": "#/components/parameters/region"}},
                "messages": {name: {"$ref": format!("#/components/messages/{name}")}}
            }),
        );
        operations.insert(
            format!("receive{name}"),
            json!({
                "action": "receive",
                "title": format!("Receive {name}"),
                "summary": format!("Subscribe to jigi.<region>.{}.{}.{} (or a wildcard).", kind.service, kind.entity, kind.action),
                "channel": {"$ref": format!("#/channels/{channel}")},
                "messages": [{"$ref": format!("#/channels/{channel}/messages/{name}")}]
            }),
        );

        // The same event as JSON, on the mirror's subject.
        let json_name = format!("{name}Json");
        let json_channel = json_channel_id(kind);
        let data = example(&protos, kind.message, 0);
        messages.insert(
            json_name.clone(),
            json!({
                "name": json_name,
                "title": format!("{} {} ({}), JSON", kind.entity, kind.action, kind.service),
                "summary": comment,
                "contentType": json::CONTENT_TYPE,
                "headers": {"$ref": "#/components/schemas/CloudEventJsonHeaders"},
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/CloudEventJson"},
                        {
                            "type": "object",
                            "properties": {
                                "type": {"const": kind.ce_type()},
                                "data": {"$ref": format!("#/components/schemas/{}", kind.message)}
                            }
                        }
                    ]
                },
                "examples": [{
                    "name": format!("{name} in Sikasso, as JSON"),
                    "headers": {
                        "Nats-Msg-Id": "0192b6c4-0000-7000-8000-000000000001",
                        "content-type": json::CONTENT_TYPE,
                        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    },
                    "payload": {
                        "specversion": "1.0",
                        "id": "0192b6c4-0000-7000-8000-000000000001",
                        "source": format!("/jigi/sikasso/{}", kind.service),
                        "type": kind.ce_type(),
                        "time": "2018-10-01T08:30:00.000000Z",
                        "subject": "0192b6c4-5e3a-7c1d-9f00-3b2a1c0d4e5f",
                        "datacontenttype": json::DATA_CONTENT_TYPE,
                        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        "data": data
                    }
                }]
            }),
        );
        channels.insert(
            json_channel.clone(),
            json!({
                "address": format!("{}.{{region}}.{}.{}.{}", json::ROOT, kind.service, kind.entity, kind.action),
                "title": format!("{} {} (JSON)", kind.entity, kind.action),
                "description": format!(
                    "The {} service's {} {} events as CloudEvents in structured JSON, republished on the national hub from JIGI_NATIONAL into the stream {} (one message per event, Nats-Msg-Id = id).",
                    kind.service, kind.entity, kind.action, json::STREAM
                ),
                "parameters": {"region": {"$ref": "#/components/parameters/region"}},
                "messages": {json_name.clone(): {"$ref": format!("#/components/messages/{json_name}")}}
            }),
        );
        operations.insert(
            format!("receive{json_name}"),
            json!({
                "action": "receive",
                "title": format!("Receive {name} as JSON"),
                "summary": format!(
                    "Subscribe to {}.<region>.{}.{}.{} (or a wildcard), or pull from a durable consumer on {}.",
                    json::ROOT, kind.service, kind.entity, kind.action, json::STREAM
                ),
                "channel": {"$ref": format!("#/channels/{json_channel}")},
                "messages": [{"$ref": format!("#/channels/{json_channel}/messages/{json_name}")}]
            }),
        );
    }
    schemas.insert(
        "CloudEventJson".to_owned(),
        json!({
            "type": "object",
            "description": "A CloudEvents 1.0 event in structured mode (application/cloudevents+json): the attributes and the payload in one JSON document. data is the payload in the proto3 JSON mapping (lowerCamelCase names, 64-bit integers as strings, enum values by name), every scalar field written even at its default. An event whose payload this version cannot render comes as data_base64 (the protobuf bytes) with the protobuf datacontenttype.",
            "required": ["specversion", "id", "source", "type", "time", "datacontenttype"],
            "properties": {
                "specversion": {"const": "1.0", "description": "CloudEvents version."},
                "id": {"type": "string", "description": "Unique event ID (a UUIDv7), the same as the protobuf event's ce-id."},
                "source": {"type": "string", "description": "/jigi/<region>/<service>"},
                "type": {"type": "string", "description": "jigi.<service>.<entity>.<action>.v<version>"},
                "time": {"type": "string", "format": "date-time", "description": "When the change happened (RFC 3339, UTC)."},
                "subject": {"type": "string", "description": "The entity the event is about: a household ID, a cycle ID, a round ID…"},
                "datacontenttype": {"type": "string", "description": "application/json; application/protobuf; proto=<message> with data_base64."},
                "data": {"type": "object", "description": "The payload, in the proto3 JSON mapping."},
                "data_base64": {"type": "string", "contentEncoding": "base64", "description": "The protobuf payload, when it could not be rendered."},
                "traceparent": {"type": "string", "description": "W3C trace context of the request that caused the event (CloudEvents distributed tracing extension)."},
                "tracestate": {"type": "string", "description": "W3C vendor trace state."}
            }
        }),
    );
    schemas.insert(
        "CloudEventJsonHeaders".to_owned(),
        json!({
            "type": "object",
            "description": "NATS headers of a JSON event.",
            "required": ["Nats-Msg-Id", "content-type"],
            "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "Equal to the event's id: JIGI_JSON holds each event once."},
                "content-type": {"const": json::CONTENT_TYPE},
                "traceparent": {"type": "string", "description": "W3C trace context, as in the document."},
                "tracestate": {"type": "string", "description": "W3C vendor trace state."}
            }
        }),
    );
    schemas.insert(
        "CloudEventHeaders".to_owned(),
        json!({
            "type": "object",
            "description": "The CloudEvents 1.0 envelope in binary mode, as NATS headers, with W3C trace context.",
            "required": ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "content-type", "Nats-Msg-Id"],
            "properties": {
                "ce-specversion": {"const": "1.0", "description": "CloudEvents version."},
                "ce-id": {"type": "string", "description": "Unique event ID (a UUIDv7); the same event delivered twice has the same ID."},
                "ce-source": {"type": "string", "description": "/jigi/<region>/<service>"},
                "ce-type": {"type": "string", "description": "jigi.<service>.<entity>.<action>.v<version>"},
                "ce-time": {"type": "string", "format": "date-time", "description": "When the change happened (RFC 3339, UTC)."},
                "ce-subject": {"type": "string", "description": "The entity the event is about: a household ID, a cycle ID, a round ID…"},
                "content-type": {"type": "string", "description": "application/protobuf; proto=<full message name>"},
                "Nats-Msg-Id": {"type": "string", "description": "Equal to ce-id: JetStream drops a republished event."},
                "traceparent": {"type": "string", "description": "W3C trace context of the request that caused the event."},
                "tracestate": {"type": "string", "description": "W3C vendor trace state."}
            }
        }),
    );
    json!({
        "asyncapi": "3.1.0",
        "info": {
            "title": "Jigi events",
            "version": "1.0.0",
            "description": "Events of the Jigi social safety net programme: the unified social registry (RSU), cash transfers (TM), accompanying measures (MA), the preventive nutrition package (PNP), income-generating activities (AGR) and labour-intensive works (HIMO). Each event is a CloudEvents 1.0 event in binary mode over NATS: the envelope in headers, the payload a protobuf message of package jigi.events.v1 (the schemas below describe its proto3 JSON rendering). The same events are republished on the national hub as CloudEvents in structured JSON (application/cloudevents+json) on jigijson.<region>.<service>.<entity>.<action>, in the stream JIGI_JSON, for subscribers without protobuf. No event carries a name, an ID-card number or a phone number. Within v1, fields and event types are only ever added; a breaking change is a new v2 type (see README, Event contract).",
            "license": {"name": "Apache-2.0"}
        },
        "defaultContentType": "application/protobuf",
        "servers": {
            "national": {
                "host": "nats.jigi.example:4222",
                "protocol": "nats",
                "description": "The national hub: the stream JIGI_NATIONAL holds every region's events, JIGI_JSON the same as JSON. Partners get a user restricted to the subjects they may read and a durable consumer of their own (README, Subscribing to Jigi's events)."
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "parameters": {
                "region": {"enum": regions, "description": "Region slug."}
            }
        }
    })
}

fn channel_id(kind: &EventKind) -> String {
    format!("{}.{}.{}", kind.service, kind.entity, kind.action)
}

fn json_channel_id(kind: &EventKind) -> String {
    format!("json.{}", channel_id(kind))
}

/// The committed document's path.
pub const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/asyncapi.json");

/// The document as committed: pretty JSON with a final newline.
pub fn render() -> String {
    serde_json::to_string_pretty(&document()).expect("JSON renders") + "\n"
}

/// The CloudEvents types a document names on protobuf (binary-mode) messages.
pub fn ce_types(document: &Value) -> BTreeSet<String> {
    messages_of(document)
        .filter_map(|m| m["headers"]["allOf"][1]["properties"]["ce-type"]["const"].as_str())
        .map(str::to_owned)
        .collect()
}

/// The CloudEvents types a document names on JSON (structured-mode) messages.
pub fn json_ce_types(document: &Value) -> BTreeSet<String> {
    messages_of(document)
        .filter(|m| m["contentType"] == json::CONTENT_TYPE)
        .filter_map(|m| m["payload"]["allOf"][1]["properties"]["type"]["const"].as_str())
        .map(str::to_owned)
        .collect()
}

fn messages_of(document: &Value) -> impl Iterator<Item = &Value> {
    document["components"]["messages"]
        .as_object()
        .into_iter()
        .flat_map(|messages| messages.values())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_is_the_generated_one() {
        let generated = render();
        if std::env::var_os("UPDATE_ASYNCAPI").is_some() {
            std::fs::write(COMMITTED, &generated).expect("write proto/asyncapi.json");
        }
        let committed = std::fs::read_to_string(COMMITTED).expect("proto/asyncapi.json exists");
        assert!(
            committed == generated,
            "proto/asyncapi.json is stale; run UPDATE_ASYNCAPI=1 cargo test -p jigi-subscribers --lib asyncapi"
        );
    }

    #[test]
    fn document_names_exactly_the_event_types_the_code_publishes() {
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(COMMITTED).expect("committed")).expect("valid JSON");
        let published: BTreeSet<String> = ALL.iter().map(EventKind::ce_type).collect();
        // On protobuf subjects, and again on the JSON mirror's.
        for (what, documented) in [("protobuf", ce_types(&committed)), ("JSON", json_ce_types(&committed))] {
            let missing: Vec<_> = published.difference(&documented).collect();
            let stale: Vec<_> = documented.difference(&published).collect();
            assert!(
                missing.is_empty() && stale.is_empty(),
                "{what} messages: missing {missing:?}, stale {stale:?}"
            );
        }
        // And no channel other than those of the published events.
        let addresses: BTreeSet<String> = committed["channels"]
            .as_object()
            .expect("channels")
            .values()
            .map(|c| c["address"].as_str().expect("an address").to_owned())
            .collect();
        let expected: BTreeSet<String> = ALL
            .iter()
            .flat_map(|kind| {
                let rest = format!("{{region}}.{}.{}.{}", kind.service, kind.entity, kind.action);
                [format!("jigi.{rest}"), format!("{}.{rest}", json::ROOT)]
            })
            .collect();
        assert_eq!(addresses, expected, "one channel per event and subject root");
    }

    #[test]
    fn json_messages_are_structured_cloudevents_around_the_payload_schema() {
        let document = document();
        let json = &document["components"]["messages"]["PaymentMadeJson"];
        assert_eq!(json["contentType"], "application/cloudevents+json");
        assert_eq!(
            json["payload"]["allOf"][1]["properties"]["data"]["$ref"],
            "#/components/schemas/jigi.events.v1.PaymentMade"
        );
        assert_eq!(
            json["payload"]["allOf"][1]["properties"]["type"]["const"],
            "jigi.payments.payment.made.v1"
        );
        let channel = &document["channels"]["json.payments.payment.made"];
        assert_eq!(channel["address"], "jigijson.{region}.payments.payment.made");
        let example = &json["examples"][0]["payload"];
        assert_eq!(example["datacontenttype"], "application/json");
        assert_eq!(example["data"]["amount"]["fcfa"], "30000");
        let required = document["components"]["schemas"]["CloudEventJson"]["required"]
            .as_array()
            .expect("required attributes")
            .clone();
        for attribute in ["specversion", "id", "source", "type", "time"] {
            assert!(required.contains(&json!(attribute)), "{attribute}");
        }
    }

    #[test]
    fn schemas_follow_the_proto3_json_mapping() {
        let document = document();
        let registered = &document["components"]["schemas"]["jigi.events.v1.HouseholdRegistered"];
        assert_eq!(registered["properties"]["householdId"]["allOf"][0]["type"], "string");
        assert_eq!(registered["properties"]["members"]["allOf"][0]["type"], "array");
        let updated = &document["components"]["schemas"]["jigi.events.v1.HouseholdUpdated"];
        assert_eq!(
            updated["properties"]["version"]["allOf"][0]["type"], "string",
            "int64 is a JSON string"
        );
        assert_eq!(updated["properties"]["size"]["allOf"][0]["type"], "integer");
    }
}
