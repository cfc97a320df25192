//! Human output (aligned tables, key/value blocks) and JSON for scripts.
//! JSON field names are part of the CLI's contract: snake_case, stable.

use std::io::Write;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document on stdout, with stable field names.
    Json,
}

impl OutputFormat {
    pub fn is_json(self) -> bool {
        self == OutputFormat::Json
    }
}

/// Columns aligned with two spaces between them; the last column is not padded.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|header| header.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; every cell is made [`printable`].
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|cell| printable(cell)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|header| header.chars().count())
            .collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(index) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let mut text = String::new();
        let mut lines = vec![&self.headers];
        lines.extend(self.rows.iter());
        for line in lines {
            let mut rendered = String::new();
            for (index, cell) in line.iter().enumerate() {
                let width = widths.get(index).copied().unwrap_or(0);
                if index + 1 == line.len() {
                    rendered.push_str(cell);
                } else {
                    rendered.push_str(cell);
                    let padding = width.saturating_sub(cell.chars().count()) + 2;
                    rendered.push_str(&" ".repeat(padding));
                }
            }
            text.push_str(rendered.trim_end());
            text.push('\n');
        }
        text
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// Text from outside galsync (a consent callback's `error_description`, a
/// name in Entra, a service's error message) made safe for a terminal:
/// control characters, including ESC and the C1 set that start escape
/// sequences and hyperlinks, are shown escaped (`\x1b`, `\u{9b}`) instead
/// of being interpreted. Every human-readable line the CLI prints with
/// outside text goes through here; JSON output is escaped by the encoder.
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for character in text.chars() {
        let code = character as u32;
        if character.is_control() {
            shown.push_str(&format!("\\x{code:02x}"));
        } else if is_bidi_control(code) {
            shown.push_str(&format!("\\u{{{code:x}}}"));
        } else {
            shown.push(character);
        }
    }
    shown
}

/// Bidirectional overrides and isolates, which reorder what a terminal shows.
fn is_bidi_control(code: u32) -> bool {
    matches!(code, 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
}

/// `label: value` lines with the values aligned (values made [`printable`]).
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in fields {
        let padding = width - label.chars().count();
        let line = format!("{label}:{}  {}", " ".repeat(padding), printable(value));
        println!("{}", line.trim_end());
    }
}

/// Prints a JSON document (pretty, one trailing newline).
pub fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

/// `2025-03-01 06:00 UTC` for people; empty when absent.
pub fn human_time(timestamp: Option<&prost_types::Timestamp>) -> String {
    match to_datetime(timestamp) {
        Some(at) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => String::new(),
    }
}

/// RFC 3339 for scripts; null when absent.
pub fn json_time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    match to_datetime(timestamp) {
        Some(at) => Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => Value::Null,
    }
}

pub fn to_datetime(
    timestamp: Option<&prost_types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let timestamp = timestamp?;
    if timestamp.seconds == 0 && timestamp.nanos == 0 {
        return None;
    }
    let nanos = u32::try_from(timestamp.nanos).unwrap_or(0);
    chrono::DateTime::from_timestamp(timestamp.seconds, nanos)
}

/// `1h 5m`, `42s`: a duration for people.
pub fn human_duration(seconds: u64) -> String {
    let days = seconds / 86_400;
    let hours = (seconds % 86_400) / 3600;
    let minutes = (seconds % 3600) / 60;
    let rest = seconds % 60;
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if rest > 0 || parts.is_empty() {
        parts.push(format!("{rest}s"));
    }
    parts.join(" ")
}

pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["a".to_owned(), "Contoso".to_owned()]);
        table.row(vec!["longer-id".to_owned(), String::new()]);
        assert_eq!(
            table.render(),
            "ID         NAME\na          Contoso\nlonger-id\n"
        );
    }

    #[test]
    fn escape_sequences_and_hyperlinks_are_shown_not_interpreted() {
        let hostile = "denied\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}\u{9b}31m\r\u{202e}";
        assert_eq!(
            printable(hostile),
            "denied\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\x9b31m\\x0d\\u{202e}"
        );
        assert_eq!(
            printable("Zoë Müller-Łukasz 山田"),
            "Zoë Müller-Łukasz 山田"
        );
        let mut table = Table::new(&["NAME"]);
        table.row(vec!["a\u{1b}[31mb".to_owned()]);
        assert_eq!(table.render(), "NAME\na\\x1b[31mb\n");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(3900), "1h 5m");
        assert_eq!(human_duration(90_061), "1d 1h 1m 1s");
    }
}
