//! Any Jigi protobuf message as JSON, through the contract's own
//! descriptors: events on NATS (whose `content-type` names their message)
//! and API answers for `--json`.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(jigi_proto::FILE_DESCRIPTOR_SET).expect("the built-in descriptor set decodes")
    })
}

/// The message named `full_name` (e.g. `jigi.events.v1.PaymentMade`),
/// encoded in `bytes`, as JSON: proto field names, 64-bit numbers as
/// numbers, enums by name, default values left out.
pub fn decode(full_name: &str, bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    let descriptor = pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| anyhow::anyhow!("unknown message type {full_name}"))?;
    let message = DynamicMessage::decode(descriptor, bytes)
        .map_err(|err| anyhow::anyhow!("the payload does not decode as {full_name}: {err}"))?;
    let options = SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true)
        .skip_default_fields(true);
    let mut serializer = serde_json::Serializer::new(Vec::new());
    message
        .serialize_with_options(&mut serializer, &options)
        .map_err(|err| anyhow::anyhow!("cannot write {full_name} as JSON: {err}"))?;
    Ok(serde_json::from_slice(&serializer.into_inner())?)
}

/// A generated message as JSON (`full_name` is its proto name).
pub fn to_json(full_name: &str, message: &impl prost::Message) -> anyhow::Result<serde_json::Value> {
    decode(full_name, &message.encode_to_vec())
}

/// The message named by a `content-type` such as
/// `application/protobuf; proto=jigi.events.v1.HouseholdRegistered`.
pub fn message_of_content_type(content_type: &str) -> Option<&str> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("proto="))
}

#[cfg(test)]
mod tests {
    use jigi_proto::common::{Location, Money};
    use jigi_proto::events::PaymentMade;

    use super::*;

    #[test]
    fn an_event_decodes_to_readable_json() {
        let made = PaymentMade {
            household_id: "h-1".into(),
            amount: Some(Money { fcfa: 30_000 }),
            location: Some(Location {
                commune: "sikasso.yanfolila.gouanan".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = to_json("jigi.events.v1.PaymentMade", &made).unwrap();
        assert_eq!(json["household_id"], "h-1");
        assert_eq!(json["amount"]["fcfa"], 30_000, "a number, not a string: {json}");
        assert_eq!(json["location"]["commune"], "sikasso.yanfolila.gouanan");
        assert!(json.get("agent_code").is_none(), "defaults left out: {json}");
        assert_eq!(
            message_of_content_type("application/protobuf; proto=jigi.events.v1.PaymentMade"),
            Some("jigi.events.v1.PaymentMade")
        );
        assert!(decode("jigi.events.v1.Nope", &[]).is_err());
    }
}
