//! How certificates look: state names, notes, the field block and the stable
//! JSON shape.

use galsync_proto::v1;
use serde_json::{json, Value};

use crate::output::{human_time, json_time, print_fields};

pub fn certificate_note(certificate: &v1::Certificate) -> String {
    match v1::CertificateState::try_from(certificate.state) {
        Ok(v1::CertificateState::PendingRegistration) => {
            "upload the .cer (galsync cert export)".to_owned()
        }
        Ok(v1::CertificateState::Expired) => "expired".to_owned(),
        Ok(v1::CertificateState::Active) if certificate.expiring_soon => {
            "expiring soon: upload its replacement".to_owned()
        }
        _ => String::new(),
    }
}

pub fn print_certificate(certificate: &v1::Certificate) {
    print_fields(&[
        ("subject", certificate.subject.clone()),
        ("state", state_name(certificate.state).to_owned()),
        ("SHA-1 thumbprint", certificate.thumbprint_sha1.clone()),
        ("SHA-256 thumbprint", certificate.thumbprint_sha256.clone()),
        ("not before", human_time(certificate.not_before.as_ref())),
        ("not after", human_time(certificate.not_after.as_ref())),
        ("key", format!("RSA {} bits", certificate.key_bits)),
    ]);
}

pub fn state_name(value: i32) -> &'static str {
    match v1::CertificateState::try_from(value) {
        Ok(v1::CertificateState::PendingRegistration) => "pending-registration",
        Ok(v1::CertificateState::Active) => "active",
        Ok(v1::CertificateState::Retired) => "retired",
        Ok(v1::CertificateState::Expired) => "expired",
        _ => "unknown",
    }
}

pub fn certificate_json(certificate: &v1::Certificate) -> Value {
    let mut document = json!({
        "certificate_id": certificate.certificate_id,
        "tenant_id": certificate.tenant_id,
        "client_id": certificate.client_id,
        "subject": certificate.subject,
        "state": state_name(certificate.state),
        "thumbprint_sha1": certificate.thumbprint_sha1,
        "thumbprint_sha256": certificate.thumbprint_sha256,
        "not_before": json_time(certificate.not_before.as_ref()),
        "not_after": json_time(certificate.not_after.as_ref()),
        "key_bits": certificate.key_bits,
        "expiring_soon": certificate.expiring_soon,
    });
    if !certificate.registration.is_empty() {
        document["registration"] = json!(certificate.registration);
    }
    document
}
