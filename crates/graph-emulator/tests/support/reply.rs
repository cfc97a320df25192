//! A Graph answer as the tests read it.

use reqwest::StatusCode;
use serde_json::Value;

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The Graph error code, or "" for a success.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The Retry-After header in (decimal) seconds.
    pub fn retry_after_secs(&self) -> f64 {
        self.headers["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("decimal seconds")
    }

    /// The items of a collection page.
    pub fn values(&self) -> &Vec<Value> {
        self.body["value"].as_array().expect("a collection page")
    }

    /// The ids of a collection page's items.
    pub fn ids(&self) -> Vec<String> {
        self.values()
            .iter()
            .map(|item| item["id"].as_str().expect("an id").to_owned())
            .collect()
    }
}
