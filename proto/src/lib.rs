//! galsync's gRPC contracts, generated from `proto/galsync/v1/*.proto`.

/// Package `galsync.v1`.
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("galsync.v1");
}

/// The encoded `FileDescriptorSet` of every galsync proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/galsync_descriptor.bin"));

/// Converts a system time into a protobuf timestamp.
pub fn timestamp(at: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    #[test]
    fn descriptor_set_names_every_galsync_service() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut services = Vec::new();
        for file in &set.file {
            for service in &file.service {
                services.push(format!("{}.{}", file.package(), service.name()));
            }
        }
        services.sort();
        assert_eq!(
            services,
            [
                "galsync.v1.AuthBroker",
                "galsync.v1.ContactWriter",
                "galsync.v1.DirectoryReader",
                "galsync.v1.Scheduler",
                "galsync.v1.WorkQueue",
            ]
        );
    }
}
