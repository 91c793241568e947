//! Compiles every `.proto` under the workspace's `proto/` directory with
//! `protox` (pure Rust, so no system `protoc` is needed) and generates prost
//! messages plus tonic clients and servers.
//!
//! Also compiles the descriptors (only: `tonic-types` has the Rust types) of
//! `google/rpc/status.proto` and `google/rpc/error_details.proto`, copied
//! unchanged from googleapis into `googleapis/`, so reflection can describe
//! the rich error details every Jigi error status carries.

use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not when it was compiled: a script built
    // in another checkout with the same target folder must still find this one.
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let files = proto_files(&proto_root)?;
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Served by gRPC reflection and used to check compatibility of the contract.
    std::fs::write(out_dir.join("jigi_descriptor.bin"), descriptors.encode_to_vec())?;

    let googleapis = manifest_dir.join("googleapis");
    println!("cargo:rerun-if-changed={}", googleapis.display());
    let rpc = protox::compile(proto_files(&googleapis)?, [&googleapis])?;
    std::fs::write(out_dir.join("google_rpc_descriptor.bin"), rpc.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}

/// Every `.proto` file below `dir`, sorted so the build is reproducible.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                println!("cargo:rerun-if-changed={}", path.display());
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                println!("cargo:rerun-if-changed={}", path.display());
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
