//! Any Jigi protobuf message as JSON, through the contract's own
//! descriptors: events on NATS (whose `content-type` names their message)
//! and API answers for `--json`.

use jigi_subscribers::JsonRenderer;

/// The message named `full_name` (e.g. `jigi.events.v1.PaymentMade`),
/// encoded in `bytes`, as JSON — the same proto3 JSON the JSON mirror gives
/// partners: lowerCamelCase names, 64-bit numbers as strings, enums by
/// name, every field written, zeros included.
pub fn decode(full_name: &str, bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    JsonRenderer::shared()
        .message(full_name, bytes)
        .map_err(|reason| anyhow::anyhow!(reason))
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
        // The JSON mirror's convention, so a script reads both alike.
        assert_eq!(json["householdId"], "h-1");
        assert_eq!(json["amount"]["fcfa"], "30000", "64-bit integers as strings: {json}");
        assert_eq!(json["location"]["commune"], "sikasso.yanfolila.gouanan");
        assert_eq!(json["agentCode"], "", "every field, defaults included: {json}");
        let mirrored = JsonRenderer::shared()
            .data("jigi.payments.payment.made.v1", &prost::Message::encode_to_vec(&made))
            .unwrap();
        assert_eq!(json, mirrored, "the CLI prints what the mirror publishes");
        assert_eq!(
            message_of_content_type("application/protobuf; proto=jigi.events.v1.PaymentMade"),
            Some("jigi.events.v1.PaymentMade")
        );
        assert!(decode("jigi.events.v1.Nope", &[]).is_err());
    }
}
