//! App credentials: a certificate with its private key (signing the JWT client
//! assertion Entra expects) or a client secret.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use secrecy::SecretString;
use serde::Serialize;
use sha1::Digest;

use super::IdentityError;

/// Lifetime of a client assertion; Entra accepts at most 10 minutes.
const ASSERTION_LIFETIME_SECS: i64 = 600;

/// An RSA private key ready for signing. Never prints.
#[derive(Clone)]
pub struct PrivateKey {
    encoding_key: EncodingKey,
    public_key_pkcs1_der: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PrivateKey([redacted])")
    }
}

impl PrivateKey {
    /// From PKCS#8 DER (`PrivateKeyInfo`).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, IdentityError> {
        let private_key =
            rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| IdentityError::InvalidKey {
                reason: "not an RSA private key in PKCS#8 DER".to_owned(),
            })?;
        Self::from_rsa(&private_key)
    }

    /// From PEM: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        let parsed = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem));
        let private_key = parsed.map_err(|_| IdentityError::InvalidKey {
            reason: "not an RSA private key in PKCS#8 or PKCS#1 PEM".to_owned(),
        })?;
        Self::from_rsa(&private_key)
    }

    fn from_rsa(private_key: &rsa::RsaPrivateKey) -> Result<Self, IdentityError> {
        let invalid = |_| IdentityError::InvalidKey {
            reason: "failed to encode the RSA key".to_owned(),
        };
        let pkcs1_der = private_key.to_pkcs1_der().map_err(invalid)?;
        let public_key_pkcs1_der = private_key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(invalid)?
            .into_vec();
        Ok(Self {
            encoding_key: EncodingKey::from_rsa_der(pkcs1_der.as_bytes()),
            public_key_pkcs1_der,
        })
    }
}

/// Which JWT algorithm signs the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// RS256 with the `x5t` (SHA-1 thumbprint) header.
    #[default]
    Rs256,
    /// PS256 with the `x5t#S256` (SHA-256 thumbprint) header.
    Ps256,
}

/// A certificate registered on the app registration, with its private key.
#[derive(Clone)]
pub struct CertificateCredential {
    certificate_der: Vec<u8>,
    private_key: PrivateKey,
    algorithm: AssertionAlgorithm,
    sha1_thumbprint: [u8; 20],
    sha256_thumbprint: [u8; 32],
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CertificateCredential")
            .field("thumbprint_sha1", &self.thumbprint_sha1_hex())
            .field("algorithm", &self.algorithm)
            .field("private_key", &self.private_key)
            .finish()
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl CertificateCredential {
    /// Fails when the private key does not belong to the certificate, which
    /// Entra would otherwise report only as a bad signature (AADSTS700027).
    pub fn new(
        certificate_der: Vec<u8>,
        private_key: PrivateKey,
        algorithm: AssertionAlgorithm,
    ) -> Result<Self, IdentityError> {
        // The certificate's SubjectPublicKeyInfo holds the PKCS#1 public key
        // verbatim in its BIT STRING, so a byte search proves the pairing.
        let public_key = private_key.public_key_pkcs1_der.as_slice();
        let pairs = certificate_der
            .windows(public_key.len())
            .any(|window| window == public_key);
        if !pairs {
            return Err(IdentityError::InvalidKey {
                reason: "the private key does not belong to the certificate".to_owned(),
            });
        }
        Ok(Self {
            sha1_thumbprint: sha1::Sha1::digest(&certificate_der).into(),
            sha256_thumbprint: sha2::Sha256::digest(&certificate_der).into(),
            certificate_der,
            private_key,
            algorithm,
        })
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub fn algorithm(&self) -> AssertionAlgorithm {
        self.algorithm
    }

    /// The SHA-1 thumbprint in uppercase hex, as the Entra portal shows it.
    pub fn thumbprint_sha1_hex(&self) -> String {
        upper_hex(&self.sha1_thumbprint)
    }

    pub fn thumbprint_sha256_hex(&self) -> String {
        upper_hex(&self.sha256_thumbprint)
    }

    /// base64url of the SHA-1 thumbprint (the `x5t` header).
    pub fn x5t(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.sha1_thumbprint)
    }

    /// base64url of the SHA-256 thumbprint (the `x5t#S256` header).
    pub fn x5t_s256(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.sha256_thumbprint)
    }

    /// A signed client assertion for `token_url`, valid for 10 minutes from now.
    pub fn client_assertion(
        &self,
        client_id: &str,
        token_url: &str,
    ) -> Result<SecretString, IdentityError> {
        let mut header = match self.algorithm {
            AssertionAlgorithm::Rs256 => Header::new(Algorithm::RS256),
            AssertionAlgorithm::Ps256 => Header::new(Algorithm::PS256),
        };
        header.typ = Some("JWT".to_owned());
        match self.algorithm {
            AssertionAlgorithm::Rs256 => header.x5t = Some(self.x5t()),
            AssertionAlgorithm::Ps256 => header.x5t_s256 = Some(self.x5t_s256()),
        }
        let now = chrono::Utc::now().timestamp();
        let claims = AssertionClaims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let assertion = jsonwebtoken::encode(&header, &claims, &self.private_key.encoding_key)
            .map_err(|source| IdentityError::Signing { source })?;
        Ok(SecretString::from(assertion))
    }
}

/// The `aud` of a proof of possession for `addKey` / `removeKey`.
pub const PROOF_OF_POSSESSION_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

#[derive(Serialize)]
struct ProofClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    nbf: i64,
    exp: i64,
}

impl CertificateCredential {
    /// A proof of possession of this certificate's key for Graph's
    /// `addKey` / `removeKey` on the application whose object id is
    /// `application_object_id`: `aud` 00000002-0000-0000-c000-000000000000,
    /// `iss` the object id, valid 10 minutes from now
    /// (https://learn.microsoft.com/graph/application-rollkey-prooftoken).
    /// Base64url without padding, as the page requires.
    pub fn proof_of_possession(
        &self,
        application_object_id: &str,
    ) -> Result<SecretString, IdentityError> {
        let mut header = match self.algorithm {
            AssertionAlgorithm::Rs256 => Header::new(Algorithm::RS256),
            AssertionAlgorithm::Ps256 => Header::new(Algorithm::PS256),
        };
        header.typ = Some("JWT".to_owned());
        match self.algorithm {
            AssertionAlgorithm::Rs256 => header.x5t = Some(self.x5t()),
            AssertionAlgorithm::Ps256 => header.x5t_s256 = Some(self.x5t_s256()),
        }
        let now = chrono::Utc::now().timestamp();
        let claims = ProofClaims {
            aud: PROOF_OF_POSSESSION_AUDIENCE,
            iss: application_object_id,
            nbf: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let proof = jsonwebtoken::encode(&header, &claims, &self.private_key.encoding_key)
            .map_err(|source| IdentityError::Signing { source })?;
        Ok(SecretString::from(proof))
    }
}

fn upper_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push_str(&format!("{byte:02X}"));
    }
    hex
}

/// How an app authenticates to the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    Certificate(CertificateCredential),
    Secret(SecretString),
}

impl ClientCredential {
    /// The certificate's SHA-1 thumbprint, for error hints.
    pub fn certificate_thumbprint(&self) -> Option<String> {
        match self {
            ClientCredential::Certificate(certificate) => Some(certificate.thumbprint_sha1_hex()),
            ClientCredential::Secret(_) => None,
        }
    }
}
