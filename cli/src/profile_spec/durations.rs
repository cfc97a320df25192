//! Durations as people write them: `90s`, `15m`, `1h30m`, `2d`.

use crate::error::{CliError, CliResult};

/// `90s`, `15m`, `1h`, `1h30m`, `2d` or plain seconds.
pub fn parse_duration(flag: &str, text: &str) -> CliResult<u32> {
    let invalid = || {
        CliError::usage(format!(
            "invalid --{flag} `{text}`: use e.g. 30m, 1h, 1h30m or 1d"
        ))
    };
    let trimmed = text.trim();
    if let Ok(seconds) = trimmed.parse::<u32>() {
        return if seconds == 0 {
            Err(invalid())
        } else {
            Ok(seconds)
        };
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for character in trimmed.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        let unit: u64 = match character {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let value: u64 = number.parse().map_err(|_| invalid())?;
        total += value * unit;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(invalid());
    }
    u32::try_from(total).map_err(|_| invalid())
}

/// The shortest way people write `seconds`: `1h30m`, `1d`, `45s`.
pub fn format_duration(seconds: u32) -> String {
    let mut rest = seconds;
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        assert_eq!(parse_duration("interval", "1h").unwrap(), 3600);
        assert_eq!(parse_duration("interval", "1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("interval", "900").unwrap(), 900);
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(86_400), "1d");
        for bad in ["", "0", "1x", "h", "1h30"] {
            let error = parse_duration("interval", bad).unwrap_err();
            assert!(
                error.message.contains("invalid --interval"),
                "{bad}: {}",
                error.message
            );
        }
    }
}
