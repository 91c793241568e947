//! The published event contract (`jigi.events.v1` and the shared types of
//! `jigi.common.v1` it uses) may only grow.
//!
//! `proto/snapshots/events-v1.txt` records every message, field and enum
//! value of those packages as they were published. Within v1 a change may add
//! messages, fields and enum values; it may not remove or renumber a field,
//! change its type or cardinality, rename it (its JSON name would change),
//! or remove or renumber an enum value. Such a change is a new `v2` type.
//!
//! After an allowed addition, record it:
//!
//!     UPDATE_SNAPSHOT=1 cargo test -p jigi-proto --test compatibility

use std::collections::BTreeSet;

use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

const PACKAGES: [&str; 2] = ["jigi.common.v1", "jigi.events.v1"];
const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/snapshots/events-v1.txt");

/// One line per fact of the contract, e.g.
/// `field jigi.events.v1.PaymentMade.amount = 5 optional message .jigi.common.v1.Money`.
fn contract() -> BTreeSet<String> {
    let set = FileDescriptorSet::decode(jigi_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
    let mut facts = BTreeSet::new();
    for file in set.file.iter().filter(|f| PACKAGES.contains(&f.package())) {
        let package = file.package();
        for message in &file.message_type {
            message_facts(&format!("{package}.{}", message.name()), message, &mut facts);
        }
        for enumeration in &file.enum_type {
            enum_facts(&format!("{package}.{}", enumeration.name()), enumeration, &mut facts);
        }
    }
    facts
}

fn message_facts(name: &str, message: &DescriptorProto, facts: &mut BTreeSet<String>) {
    facts.insert(format!("message {name}"));
    for field in &message.field {
        let kind = match field.type_name() {
            "" => format!("{:?}", field.r#type()),
            type_name => format!("{:?} {type_name}", field.r#type()),
        };
        facts.insert(format!(
            "field {name}.{} = {} {:?} {kind}",
            field.name(),
            field.number(),
            field.label()
        ));
    }
    for nested in &message.nested_type {
        message_facts(&format!("{name}.{}", nested.name()), nested, facts);
    }
    for enumeration in &message.enum_type {
        enum_facts(&format!("{name}.{}", enumeration.name()), enumeration, facts);
    }
}

fn enum_facts(name: &str, enumeration: &EnumDescriptorProto, facts: &mut BTreeSet<String>) {
    facts.insert(format!("enum {name}"));
    for value in &enumeration.value {
        facts.insert(format!("value {name}.{} = {}", value.name(), value.number()));
    }
}

#[test]
fn published_events_change_only_compatibly() {
    let current = contract();
    if std::env::var_os("UPDATE_SNAPSHOT").is_some() {
        let text: Vec<&str> = current.iter().map(String::as_str).collect();
        std::fs::write(SNAPSHOT, text.join("\n") + "\n").expect("write snapshot");
        return;
    }
    let published = std::fs::read_to_string(SNAPSHOT).expect("proto/snapshots/events-v1.txt exists");
    let broken: Vec<&str> = published
        .lines()
        .filter(|line| !line.is_empty() && !current.contains(*line))
        .collect();
    assert!(
        broken.is_empty(),
        "incompatible change to the event contract: these published facts no longer hold:\n  {}\n\
         A breaking change needs a new v2 type (see crates/proto/tests/compatibility.rs).",
        broken.join("\n  ")
    );
    let added: Vec<&String> = current
        .iter()
        .filter(|fact| !published.lines().any(|l| l == *fact))
        .collect();
    assert!(
        added.is_empty(),
        "the event contract grew compatibly but the snapshot does not record it yet; run\n  \
         UPDATE_SNAPSHOT=1 cargo test -p jigi-proto --test compatibility\nnew facts:\n  {}",
        added.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_check_catches_a_renumbered_field() {
    // Proves the comparison can fail: a published fact with another number
    // is not in the current contract.
    let current = contract();
    let fact = current
        .iter()
        .find(|f| f.starts_with("field jigi.events.v1.HouseholdRegistered.household_id = 1 "))
        .expect("the registration event has its ID as field 1");
    assert!(!current.contains(&fact.replace("= 1 ", "= 9 ")));
}
