//! Rust types generated from Jigi's public contract in `proto/`.
//!
//! The module tree mirrors the proto packages: `jigi::common::v1`,
//! `jigi::registry::v1`, `jigi::events::v1`, and so on. Services and clients
//! use these types directly; the crate adds nothing but the generated code and
//! the encoded descriptor sets (for gRPC reflection).

#![allow(clippy::all, clippy::pedantic)]

/// Generated code, one module per proto package.
pub mod jigi {
    pub mod activities {
        pub mod v1 {
            tonic::include_proto!("jigi.activities.v1");
        }
    }
    pub mod audit {
        pub mod v1 {
            tonic::include_proto!("jigi.audit.v1");
        }
    }
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("jigi.common.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("jigi.events.v1");
        }
    }
    pub mod linkage {
        pub mod v1 {
            tonic::include_proto!("jigi.linkage.v1");
        }
    }
    pub mod monitoring {
        pub mod v1 {
            tonic::include_proto!("jigi.monitoring.v1");
        }
    }
    pub mod registry {
        pub mod v1 {
            tonic::include_proto!("jigi.registry.v1");
        }
    }
    pub mod payments {
        pub mod v1 {
            tonic::include_proto!("jigi.payments.v1");
        }
    }
    pub mod nutrition {
        pub mod v1 {
            tonic::include_proto!("jigi.nutrition.v1");
        }
    }
}

pub use self::jigi::{
    activities::v1 as activities, audit::v1 as audit, common::v1 as common, events::v1 as events,
    linkage::v1 as linkage, monitoring::v1 as monitoring, nutrition::v1 as nutrition, payments::v1 as payments,
    registry::v1 as registry,
};

/// The encoded `FileDescriptorSet` of every Jigi proto and its imports, for
/// gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jigi_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `google/rpc/status.proto` and
/// `google/rpc/error_details.proto` (and their imports), under their usual
/// names: what a reflection client needs to decode the details of a status
/// (`google.rpc.BadRequest`, `ResourceInfo`, `PreconditionFailure`…).
/// `tonic-types` holds their Rust types.
pub const GOOGLE_RPC_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/google_rpc_descriptor.bin"));
