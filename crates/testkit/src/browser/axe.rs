//! axe-core, run inside the page a [`Browser`] shows: an accessibility
//! check of what the browser actually rendered.
//!
//! axe-core comes from npm (`axe-core@4`), installed once into
//! `target/axe` (by `.ci/run`, or here on first use); without npm the check
//! cannot run and [`Axe::load`] says why.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use super::{target_dir, Browser};

/// Impacts a page may not have any violation of.
const BLOCKING_IMPACTS: [&str; 2] = ["serious", "critical"];

/// axe-core's script, ready to inject.
pub struct Axe {
    source: String,
}

/// One rule a page breaks, as axe reports it.
#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: String,
    pub impact: String,
    pub help: String,
    /// The offending elements' CSS selectors.
    pub targets: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} ({}): {} at {}",
            self.rule,
            self.impact,
            self.help,
            self.targets.join(", ")
        )
    }
}

fn cache_dir() -> PathBuf {
    target_dir().join("axe")
}

impl Axe {
    /// Reads `target/axe/node_modules/axe-core/axe.min.js`, installing it
    /// with npm first when it is missing. `Err` says why it is not there.
    pub fn load() -> Result<Axe, String> {
        let script = cache_dir().join("node_modules/axe-core/axe.min.js");
        if !script.exists() {
            let installed = Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(cache_dir())
                .args(["--no-audit", "--no-fund", "axe-core@4"])
                .output()
                .map_err(|error| format!("npm cannot be run: {error}"))?;
            if !installed.status.success() {
                return Err(format!(
                    "npm install axe-core@4 failed: {}",
                    String::from_utf8_lossy(&installed.stderr).trim()
                ));
            }
        }
        let source = std::fs::read_to_string(&script)
            .map_err(|error| format!("failed to read {}: {error}", script.display()))?;
        Ok(Axe { source })
    }

    /// Runs axe on the page `browser` shows; returns every violation.
    pub async fn violations(&self, browser: &Browser) -> Vec<Violation> {
        // Injected through WebDriver, which the page's CSP does not govern.
        let script = format!(
            "{}\n;var done = arguments[arguments.length - 1];\
             axe.run(document, {{resultTypes: ['violations']}})\
             .then(function (result) {{ done({{violations: result.violations}}); }})\
             .catch(function (error) {{ done({{error: String(error)}}); }});",
            self.source
        );
        let answer = browser.execute_async(&script, json!([])).await;
        if let Some(error) = answer.get("error") {
            panic!("axe could not check the page: {error}");
        }
        let mut violations = Vec::new();
        for violation in answer["violations"].as_array().cloned().unwrap_or_default() {
            violations.push(violation_of(&violation));
        }
        violations
    }

    /// Panics on any serious or critical violation of the page `browser`
    /// shows (`page` names it); prints the milder ones.
    pub async fn assert_no_serious_violations(&self, browser: &Browser, page: &str) {
        let violations = self.violations(browser).await;
        let mut blocking = Vec::new();
        for violation in &violations {
            if BLOCKING_IMPACTS.contains(&violation.impact.as_str()) {
                blocking.push(violation.to_string());
            } else {
                eprintln!("accessibility note on {page}: {violation}");
            }
        }
        assert!(
            blocking.is_empty(),
            "serious accessibility violations on {page}:\n{}",
            blocking.join("\n")
        );
    }
}

fn violation_of(violation: &Value) -> Violation {
    let text = |key: &str| violation[key].as_str().unwrap_or_default().to_owned();
    let mut targets = Vec::new();
    for node in violation["nodes"].as_array().cloned().unwrap_or_default() {
        targets.push(node["target"].to_string());
    }
    Violation {
        rule: text("id"),
        impact: text("impact"),
        help: text("help"),
        targets,
    }
}
