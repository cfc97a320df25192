//! A scraped Prometheus text exposition, read the way a test asks about it.

use std::collections::BTreeMap;

/// The samples of one `/metrics` answer, by series (`family{labels}` as
/// written, or `family`).
#[derive(Debug, Clone)]
pub struct Scrape {
    pub service: String,
    pub text: String,
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses `text`; panics on a line that is not a comment or a
    /// `series value` sample, or on a family with two TYPE lines.
    pub fn parse(service: &str, text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (family, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("{service}: bad TYPE line {line:?}"));
                let previous = types.insert(family.to_owned(), kind.to_owned());
                assert!(previous.is_none(), "{service}: a second TYPE for {family}");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("{service}: bad sample line {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|error| panic!("{service}: {line:?}: {error}"));
            samples.insert(series.to_owned(), value);
        }
        Scrape {
            service: service.to_owned(),
            text: text.to_owned(),
            samples,
            types,
        }
    }

    /// The value of one series, e.g. `galsync_scheduler_runs_total{state="succeeded"}`.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    /// [`Scrape::value`], panicking with the scrape when the series is absent.
    pub fn get(&self, series: &str) -> f64 {
        self.value(series).unwrap_or_else(|| {
            panic!(
                "{}: no series {series} in its metrics:\n{}",
                self.service, self.text
            )
        })
    }

    /// The series of `family` with their values.
    pub fn family(&self, family: &str) -> Vec<(&str, f64)> {
        self.samples
            .iter()
            .filter(|(series, _)| {
                series.as_str() == family || series.starts_with(&format!("{family}{{"))
            })
            .map(|(series, value)| (series.as_str(), *value))
            .collect()
    }

    /// The sum over every series of `family` (0 when it has none).
    pub fn sum(&self, family: &str) -> f64 {
        self.family(family).iter().map(|(_, value)| value).sum()
    }

    /// The declared type of `family` (`counter`, `gauge`).
    pub fn kind(&self, family: &str) -> Option<&str> {
        self.types.get(family).map(String::as_str)
    }
}
