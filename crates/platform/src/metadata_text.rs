//! Text of any script in a gRPC metadata value, which carries visible ASCII
//! only: bytes outside it (and `%`) are percent-encoded by the sender and
//! decoded by the receiver. The console names a signed-in person this way
//! (`ada@contoso.example`, `zoë@contoso.example`, `山田@contoso.example`).

/// Percent-encodes every byte of `text` that is not visible ASCII, and `%`.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The text [`encode`] made; `None` for a malformed escape, bytes that are
/// not UTF-8, or a control character.
pub fn decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = encoded.get(at + 1..at + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_script_survives_the_round_trip_as_visible_ascii() {
        for text in [
            "ada@contoso.example",
            "zoë@contoso.example",
            "山田@例え.jp",
            "100%",
        ] {
            let encoded = encode(text);
            assert!(
                encoded.bytes().all(|byte| byte.is_ascii_graphic()),
                "{encoded}"
            );
            assert_eq!(decode(&encoded).as_deref(), Some(text));
        }
        assert_eq!(encode("zoë"), "zo%C3%AB");
    }

    #[test]
    fn malformed_escapes_invalid_utf8_and_control_characters_are_refused() {
        for encoded in ["%", "%4", "%ZZ", "%FF", "a%0Ab", "%C3"] {
            assert_eq!(decode(encoded), None, "{encoded}");
        }
    }
}
