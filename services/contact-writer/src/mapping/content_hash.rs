//! The content hash change detection compares: SHA-256 of the enforced
//! fields in canonical JSON, fed straight into the hasher.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{FieldRules, Fields, Rule};

/// The hash change detection compares: the contact's values of the fields
/// the rules enforce. Equal to [`Desired::content_hash`] when they match.
pub fn enforced_hash(current: &Fields, rules: &FieldRules) -> String {
    let mut enforced = Fields::new();
    for (name, value) in current {
        if rules.rule(name) == Rule::Overwrite {
            enforced.insert(name, value.clone());
        }
    }
    hash_fields(&enforced)
}

/// Hex SHA-256 of the fields in canonical JSON (keys sorted at every level).
pub fn hash_fields(fields: &Fields) -> String {
    let mut hasher = HashWriter(Sha256::new());
    for (name, value) in fields {
        hasher.0.update(name.as_bytes());
        hasher.0.update([0u8]);
        write_canonical(&mut hasher, value);
        hasher.0.update([0u8]);
    }
    hex::encode(hasher.0.finalize())
}

/// Feeds what is written into the hash, so nothing is built in between.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value` as JSON with object keys sorted at every level.
fn write_canonical(out: &mut HashWriter, value: &Value) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.0.update(b"{");
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_scalar(out, key);
                out.0.update(b":");
                write_canonical(out, &object[key]);
            }
            out.0.update(b"}");
        }
        Value::Array(items) => {
            out.0.update(b"[");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_canonical(out, item);
            }
            out.0.update(b"]");
        }
        scalar => write_scalar(out, scalar),
    }
}

/// A string or scalar as JSON (writing into a hash cannot fail).
fn write_scalar<T: serde::Serialize + ?Sized>(out: &mut HashWriter, value: &T) {
    let _ = serde_json::to_writer(out, value);
}
