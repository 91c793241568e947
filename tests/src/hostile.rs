//! Hostile protobuf messages of any type of the contract, built from its
//! descriptors: every field may be missing, repeated, at an extreme value,
//! of an unknown enum value, or a string crafted to hurt (huge, control
//! characters, SQL, paths, broken Unicode is impossible in `string` so
//! odd-but-valid Unicode instead). Also plain random and truncated bytes.

use std::collections::HashMap;

use prost::Message as _;
use prost::bytes::BufMut as _;
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// Every message type of the contract by full name (`.jigi.common.v1.Money`).
pub struct MessageTypes {
    by_name: HashMap<String, DescriptorProto>,
    inputs: HashMap<String, String>,
}

impl MessageTypes {
    pub fn load() -> MessageTypes {
        let set = FileDescriptorSet::decode(jigi_proto::FILE_DESCRIPTOR_SET).expect("the contract decodes");
        let mut by_name = HashMap::new();
        let mut inputs = HashMap::new();
        for file in &set.file {
            let package = format!(".{}", file.package());
            for message in &file.message_type {
                collect(&package, message, &mut by_name);
            }
            for service in &file.service {
                for method in &service.method {
                    inputs.insert(
                        format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                        method.input_type().to_owned(),
                    );
                }
            }
        }
        MessageTypes { by_name, inputs }
    }

    /// The input type of the method at `path` (`/pkg.Service/Method`).
    pub fn input_of(&self, path: &str) -> &str {
        &self.inputs[path]
    }

    /// A hostile message of `type_name`, from `seed`.
    pub fn hostile(&self, type_name: &str, seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut body = Vec::new();
        match rng.random_range(0..20) {
            // Sometimes not a message of that type at all.
            0 => {
                body.resize(rng.random_range(0..512), 0);
                rng.fill_bytes(&mut body);
            }
            1 => {
                self.message(type_name, &mut rng, 0, &mut body);
                let cut = rng.random_range(0..=body.len());
                body.truncate(cut);
            }
            _ => self.message(type_name, &mut rng, 0, &mut body),
        }
        body
    }

    fn message(&self, type_name: &str, rng: &mut StdRng, depth: u32, out: &mut Vec<u8>) {
        let Some(descriptor) = self.by_name.get(type_name) else {
            return; // a well-known type (Timestamp…): left empty
        };
        for field in &descriptor.field {
            // Each field: absent half the time, or once, or several times
            // (which is legal on the wire even for singular fields: the last wins).
            let times = match rng.random_range(0..10) {
                0..=4 => 0,
                5..=8 => 1,
                _ => rng.random_range(2..6),
            };
            let times = if field.label() == Label::Repeated && rng.random_bool(0.2) {
                rng.random_range(10..200)
            } else {
                times
            };
            for _ in 0..times {
                self.field(field, rng, depth, out);
            }
        }
    }

    fn field(&self, field: &FieldDescriptorProto, rng: &mut StdRng, depth: u32, out: &mut Vec<u8>) {
        let tag = field.number() as u32;
        match field.r#type() {
            Type::Message => {
                if depth > 4 {
                    return;
                }
                let mut nested = Vec::new();
                self.message(field.type_name(), rng, depth + 1, &mut nested);
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(nested.len() as u64, out);
                out.extend_from_slice(&nested);
            }
            Type::String | Type::Bytes => {
                let text = hostile_text(rng);
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(text.len() as u64, out);
                out.extend_from_slice(text.as_bytes());
            }
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                encode_key(tag, WireType::SixtyFourBit, out);
                let value = match rng.random_range(0..4) {
                    0 => f64::NAN.to_bits(),
                    1 => f64::INFINITY.to_bits(),
                    2 => (-1.0e300f64).to_bits(),
                    _ => rng.next_u64(),
                };
                out.put_u64_le(value);
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                encode_key(tag, WireType::ThirtyTwoBit, out);
                out.put_u32_le(rng.next_u32());
            }
            Type::Group => {}
            // Varints: ints, bools, enums (unknown values included).
            _ => {
                encode_key(tag, WireType::Varint, out);
                encode_varint(hostile_number(rng), out);
            }
        }
    }
}

fn collect(scope: &str, message: &DescriptorProto, into: &mut HashMap<String, DescriptorProto>) {
    let name = format!("{scope}.{}", message.name());
    for nested in &message.nested_type {
        collect(&name, nested, into);
    }
    into.insert(name, message.clone());
}

fn hostile_number(rng: &mut StdRng) -> u64 {
    const EDGES: [u64; 12] = [
        0,
        1,
        2,
        u64::MAX, // -1 as int64
        i64::MAX as u64,
        i64::MIN as u64,
        i32::MAX as u64,
        i32::MIN as i64 as u64,
        u32::MAX as u64,
        30_000,
        1_000_001,
        999_999_999_999,
    ];
    if rng.random_bool(0.7) {
        EDGES[rng.random_range(0..EDGES.len())]
    } else {
        rng.next_u64() >> rng.random_range(0..64)
    }
}

fn hostile_text(rng: &mut StdRng) -> String {
    const CRAFTED: [&str; 16] = [
        "",
        " ",
        "'; DROP TABLE households; --",
        "\" OR 1=1 --",
        "../../../../etc/passwd",
        "\u{0}",
        "\u{202e}evil\u{202c}",
        "sikasso",
        "sikasso.yanfolila",
        "segou.baroueli.sanando",
        "2018Q4",
        "2019Q9",
        "0190a000-0000-7000-8000-000000000001",
        "%s%s%s%n",
        "<script>alert(1)</script>",
        "😀👨‍👩‍👧‍👦",
    ];
    match rng.random_range(0..10) {
        0..=5 => CRAFTED[rng.random_range(0..CRAFTED.len())].to_owned(),
        6 => "A".repeat(rng.random_range(1_000..100_000)),
        7 => (0..rng.random_range(1..64))
            .map(|_| char::from(rng.random_range(0u8..32)))
            .collect(),
        _ => (0..rng.random_range(1..80))
            .map(|_| char::from_u32(rng.random_range(0..0x2_0000)).unwrap_or('\u{fffd}'))
            .collect(),
    }
}
