//! The internal PKI: one CA and one leaf certificate per service, each leaf
//! naming its service in a SAN URI `urn:galsync:service:<name>`. Servers read
//! the caller's identity from that URI once TLS has verified the chain.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// URI prefix of a galsync service identity.
pub const IDENTITY_URI_PREFIX: &str = "urn:galsync:service:";

/// The services of a galsync deployment; `galsync pki init` makes one leaf each.
pub const SERVICE_NAMES: &[&str] = &[
    "scheduler",
    "auth-broker",
    "directory-reader",
    "contact-writer",
    "cli",
    "console",
];

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("failed to make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` is not a valid service name: use lowercase letters, digits and dashes")]
    InvalidName(String),
    #[error(
        "{dir} holds {present} but not {missing}: the CA of this directory's certificates \
         cannot issue more without both. Put {missing} back (from where you keep it) to \
         issue the missing certificates, or give a new --dir for a new CA (every service \
         then needs the new ca.pem and a certificate of it)",
        dir = dir.display()
    )]
    IncompleteCa {
        dir: PathBuf,
        present: &'static str,
        missing: &'static str,
    },
}

/// PEM certificate and private key.
pub struct PemPair {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PemPair")
            .field("certificate_pem", &self.certificate_pem)
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

/// A CA able to issue service certificates.
pub struct CertificateAuthority {
    /// The CA certificate as rcgen needs it to sign leaves.
    issuer: rcgen::Certificate,
    key: KeyPair,
    certificate_pem: String,
}

impl CertificateAuthority {
    /// Makes a new CA valid for ten years.
    pub fn generate() -> Result<Self, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "galsync internal CA");
        name.push(DnType::OrganizationName, "galsync");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3650);
        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            issuer: certificate,
            key,
        })
    }

    /// Loads a CA written by [`CertificateAuthority::write`].
    pub fn load(certificate_pem: &str, private_key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(private_key_pem)?;
        let params = CertificateParams::from_ca_cert_pem(certificate_pem)?;
        // Re-signing the parsed parameters gives rcgen an issuer with the same
        // name and key as the certificate on disk, which is all a leaf refers to.
        let issuer = params.self_signed(&key)?;
        Ok(Self {
            issuer,
            key,
            certificate_pem: certificate_pem.to_owned(),
        })
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Issues a leaf for `service` usable as both TLS server and client, valid
    /// for `localhost`, 127.0.0.1, ::1 and the extra DNS names given.
    pub fn issue(&self, service: &str, extra_dns_names: &[String]) -> Result<PemPair, PkiError> {
        let valid_name = !service.is_empty()
            && service.chars().all(|character| {
                character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
            });
        if !valid_name {
            return Err(PkiError::InvalidName(service.to_owned()));
        }
        let mut dns_names = vec!["localhost".to_owned()];
        dns_names.extend(extra_dns_names.iter().cloned());
        let mut params = CertificateParams::new(dns_names)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, format!("galsync {service}"));
        params.distinguished_name = name;
        params.subject_alt_names.push(SanType::URI(
            format!("{IDENTITY_URI_PREFIX}{service}").try_into()?,
        ));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(825);
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer, &self.key)?;
        Ok(PemPair {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem` and `ca.key` (0600) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), PkiError> {
        write_file(&dir.join("ca.pem"), self.certificate_pem.as_bytes(), false)?;
        write_file(
            &dir.join("ca.key"),
            self.key.serialize_pem().as_bytes(),
            true,
        )
    }
}

/// Files of one service's TLS identity inside a PKI directory.
#[derive(Debug, Clone)]
pub struct ServiceTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl ServiceTlsFiles {
    pub fn in_dir(dir: &Path, service: &str) -> Self {
        Self {
            cert: dir.join(format!("{service}.pem")),
            key: dir.join(format!("{service}.key")),
            ca: dir.join("ca.pem"),
        }
    }
}

/// Makes (or completes) a PKI directory: the CA and a leaf per service in
/// [`SERVICE_NAMES`]. Existing files are kept, so running it twice is harmless.
pub fn init_dir(dir: &Path, extra_dns_names: &[String]) -> Result<(), PkiError> {
    crate::private_files::create_private_dir(dir).map_err(|source| PkiError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let ca_cert_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca.key");
    let all_issued = SERVICE_NAMES.iter().all(|service| {
        let files = ServiceTlsFiles::in_dir(dir, service);
        files.cert.exists() && files.key.exists()
    });
    let ca = match (ca_cert_path.exists(), ca_key_path.exists()) {
        (true, true) => {
            CertificateAuthority::load(&read_file(&ca_cert_path)?, &read_file(&ca_key_path)?)?
        }
        (false, false) => {
            let ca = CertificateAuthority::generate()?;
            ca.write(dir)?;
            ca
        }
        // The CA key kept offline, nothing to issue: nothing to do.
        (true, false) if all_issued => return Ok(()),
        // Never a new CA over half of an old one: the certificates already
        // issued would stop verifying.
        (cert, _) => {
            return Err(PkiError::IncompleteCa {
                dir: dir.to_owned(),
                present: if cert { "ca.pem" } else { "ca.key" },
                missing: if cert { "ca.key" } else { "ca.pem" },
            })
        }
    };
    for service in SERVICE_NAMES {
        issue_missing(&ca, dir, service, extra_dns_names)?;
    }
    Ok(())
}

/// Issues a certificate for another identity (e.g. `monitoring`) from the CA
/// in `dir`, writing `{identity}.pem` and `{identity}.key` beside the others.
/// Existing files are kept. Such an identity is trusted by TLS but allowed
/// nothing until a service's identity flags name it.
pub fn issue_identity(
    dir: &Path,
    identity: &str,
    extra_dns_names: &[String],
) -> Result<ServiceTlsFiles, PkiError> {
    let ca = CertificateAuthority::load(
        &read_file(&dir.join("ca.pem"))?,
        &read_file(&dir.join("ca.key"))?,
    )?;
    issue_missing(&ca, dir, identity, extra_dns_names)
}

fn issue_missing(
    ca: &CertificateAuthority,
    dir: &Path,
    identity: &str,
    extra_dns_names: &[String],
) -> Result<ServiceTlsFiles, PkiError> {
    let files = ServiceTlsFiles::in_dir(dir, identity);
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let pair = ca.issue(identity, extra_dns_names)?;
    write_file(&files.cert, pair.certificate_pem.as_bytes(), false)?;
    write_file(&files.key, pair.private_key_pem.as_bytes(), true)?;
    Ok(files)
}

fn read_file(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file; secret ones are created with mode 0600 before any byte lands.
pub fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let to_error = |source| PkiError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(to_error)?;
    file.write_all(contents).map_err(to_error)?;
    Ok(())
}

/// The galsync service named by a DER certificate's SAN URI, if any.
pub fn identity_from_certificate(der: &[u8]) -> Option<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let alt_names = certificate.subject_alternative_name().ok()??;
    for name in &alt_names.value.general_names {
        if let x509_parser::extensions::GeneralName::URI(uri) = name {
            if let Some(service) = uri.strip_prefix(IDENTITY_URI_PREFIX) {
                return Some(service.to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_carries_its_service_identity() {
        let ca = CertificateAuthority::generate().unwrap();
        let leaf = ca.issue("directory-reader", &[]).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(leaf.certificate_pem.as_bytes()).unwrap();
        assert_eq!(
            identity_from_certificate(&pem.contents).as_deref(),
            Some("directory-reader")
        );
    }

    #[test]
    fn invalid_service_name_is_refused() {
        let ca = CertificateAuthority::generate().unwrap();
        assert!(matches!(
            ca.issue("Bad Name", &[]),
            Err(PkiError::InvalidName(_))
        ));
    }

    #[test]
    fn a_directory_without_its_ca_key_is_never_given_a_new_ca() {
        let dir = tempfile::tempdir().unwrap();
        init_dir(dir.path(), &[]).unwrap();
        let ca_pem = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        std::fs::remove_file(dir.path().join("ca.key")).unwrap();
        // The CA key offline and nothing to issue: fine, nothing changes.
        init_dir(dir.path(), &[]).unwrap();
        // A certificate to issue without the key: refused, naming the file.
        std::fs::remove_file(dir.path().join("contact-writer.pem")).unwrap();
        let error = init_dir(dir.path(), &[]).unwrap_err().to_string();
        assert!(
            error.contains("not ca.key") && error.contains("Put ca.key back"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
            ca_pem,
            "ca.pem is untouched"
        );
        assert!(!dir.path().join("ca.key").exists());
    }

    #[test]
    fn init_dir_keeps_existing_material_and_protects_keys() {
        let dir = tempfile::tempdir().unwrap();
        init_dir(dir.path(), &[]).unwrap();
        let first = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        init_dir(dir.path(), &[]).unwrap();
        let second = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("scheduler.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
