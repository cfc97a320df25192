//! Compiles `galsync/v1/*.proto` with protox (pure Rust, no system `protoc`).

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "galsync/v1/common.proto",
    "galsync/v1/broker.proto",
    "galsync/v1/directory.proto",
    "galsync/v1/contacts.proto",
    "galsync/v1/workqueue.proto",
    "galsync/v1/scheduler.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_set = protox::compile(PROTO_FILES, ["."])?;
    let descriptor_path = out_dir.join("galsync_descriptor.bin");
    std::fs::write(
        &descriptor_path,
        prost::Message::encode_to_vec(&descriptor_set),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Methods a service has not implemented yet answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .compile_fds(descriptor_set)?;
    Ok(())
}
