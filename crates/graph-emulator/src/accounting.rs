//! Request accounting: every request (and every `$batch` sub-request) counted
//! by tenant, app, mailbox, endpoint, method and status, plus the clients that
//! retried before a `Retry-After` elapsed. Tests and benchmarks assert on these.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One counter's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RequestKey {
    /// Tenant id from the token (or the login path), empty when unknown.
    pub tenant: String,
    /// Client id from the token, empty when unknown.
    pub app: String,
    /// Target mailbox (user id or UPN as addressed), empty for non-mailbox calls.
    pub mailbox: String,
    /// Path template, e.g. `/users/{id}/contactFolders/{id}/contacts`, or `token`.
    pub endpoint: String,
    pub method: String,
    pub status: u16,
    /// True for a sub-request of a `$batch`.
    pub batched: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestCount {
    #[serde(flatten)]
    pub key: RequestKey,
    pub count: u64,
}

/// Who a throttling decision is about: an app calling one mailbox, or an app
/// reading a tenant's directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThrottleSubject {
    pub tenant: String,
    pub app: String,
    /// Mailbox, or empty for the directory.
    pub mailbox: String,
}

#[derive(Debug, Default)]
pub struct Accounting {
    counts: Mutex<HashMap<RequestKey, u64>>,
    /// When each subject was last told to wait, and until when.
    retry_not_before: Mutex<HashMap<ThrottleSubject, (Instant, Instant)>>,
    early_retries: Mutex<HashMap<ThrottleSubject, u64>>,
    /// Early retries by how long after the 429 was answered they arrived
    /// (see [`EARLY_RETRY_BUCKETS_MILLIS`]): a request arriving within a few
    /// milliseconds was most likely sent before its client read the 429.
    early_retry_delays: Mutex<[u64; EARLY_RETRY_BUCKETS_MILLIS.len() + 1]>,
}

/// Upper bounds (ms after the 429 was answered) of the early-retry buckets.
pub const EARLY_RETRY_BUCKETS_MILLIS: [u64; 4] = [10, 100, 1_000, 10_000];

impl Accounting {
    pub fn record(&self, key: RequestKey) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counts.entry(key).or_insert(0) += 1;
    }

    /// Every counter, sorted for stable output.
    pub fn snapshot(&self) -> Vec<RequestCount> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut list: Vec<RequestCount> = counts
            .iter()
            .map(|(key, count)| RequestCount {
                key: key.clone(),
                count: *count,
            })
            .collect();
        list.sort_by(|left, right| {
            (
                &left.key.tenant,
                &left.key.mailbox,
                &left.key.endpoint,
                &left.key.method,
                left.key.status,
            )
                .cmp(&(
                    &right.key.tenant,
                    &right.key.mailbox,
                    &right.key.endpoint,
                    &right.key.method,
                    right.key.status,
                ))
        });
        list
    }

    /// Sum of counters matching a filter.
    pub fn total(&self, filter: impl Fn(&RequestKey) -> bool) -> u64 {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .filter(|(key, _)| filter(key))
            .map(|(_, count)| count)
            .sum()
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.early_retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.retry_not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        *self
            .early_retry_delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Default::default();
    }

    /// Remembers that `subject` was told to wait `retry_after`.
    pub fn note_throttled(&self, subject: ThrottleSubject, retry_after: Duration) {
        let now = Instant::now();
        let until = now + retry_after;
        let mut map = self
            .retry_not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = map.entry(subject).or_insert((now, until));
        if entry.1 < until {
            *entry = (now, until);
        }
    }

    /// Counts a request from `subject` that arrived before its Retry-After elapsed.
    /// Returns true when it was early.
    pub fn check_retry(&self, subject: &ThrottleSubject) -> bool {
        let now = Instant::now();
        let told_at = {
            let map = self
                .retry_not_before
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // A little slack for clock granularity between client and server.
            map.get(subject)
                .filter(|(_, until)| now + Duration::from_millis(5) < *until)
                .map(|(told_at, _)| *told_at)
        };
        let Some(told_at) = told_at else {
            return false;
        };
        *self
            .early_retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(subject.clone())
            .or_insert(0) += 1;
        let after = now.saturating_duration_since(told_at).as_millis() as u64;
        let bucket = EARLY_RETRY_BUCKETS_MILLIS
            .iter()
            .position(|bound| after < *bound)
            .unwrap_or(EARLY_RETRY_BUCKETS_MILLIS.len());
        self.early_retry_delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())[bucket] += 1;
        true
    }

    /// Early retries by how long after their 429 they arrived: one count per
    /// bucket of [`EARLY_RETRY_BUCKETS_MILLIS`] (and one past the last).
    pub fn early_retry_delays(&self) -> Vec<u64> {
        self.early_retry_delays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .to_vec()
    }

    /// Requests that ignored a Retry-After, in all.
    pub fn early_retry_total(&self) -> u64 {
        self.early_retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .sum()
    }
}

/// What a client cost Graph, summed from the counters: the one
/// classification the demo's table, the benchmark and the admin API share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// HTTP round trips to Graph (a `$batch` envelope is one), not the token endpoint.
    pub http_calls: u64,
    /// Steps inside `$batch` envelopes.
    pub sub_requests: u64,
    /// Contact creates, updates and deletes, batched or not.
    pub contact_writes: u64,
    /// Directory pages and reads of users and groups (not mailbox calls).
    pub directory_reads: u64,
    /// Requests and steps answered 429.
    pub throttled: u64,
    /// Requests that came back before their Retry-After had passed.
    pub early_retries: u64,
}

impl Totals {
    /// Every Graph request: round trips plus batch steps.
    pub fn graph_requests(&self) -> u64 {
        self.http_calls + self.sub_requests
    }
}

impl Accounting {
    /// The counters summed into [`Totals`].
    pub fn totals(&self) -> Totals {
        let is_graph = |endpoint: &str| {
            !endpoint.starts_with("/{tenant}/") && !endpoint.starts_with("/_admin")
        };
        Totals {
            http_calls: self.total(|key| !key.batched && is_graph(&key.endpoint)),
            sub_requests: self.total(|key| key.batched),
            contact_writes: self.total(|key| {
                key.endpoint.contains("/contacts")
                    && matches!(key.method.as_str(), "POST" | "PATCH" | "DELETE" | "PUT")
            }),
            directory_reads: self.total(|key| {
                !key.batched
                    && (key.endpoint.starts_with("/users") || key.endpoint.starts_with("/groups"))
                    && key.mailbox.is_empty()
            }),
            throttled: self.total(|key| key.status == 429),
            early_retries: self.early_retry_total(),
        }
    }
}

/// Splits a request path into an endpoint template and the mailbox it
/// addresses. Ids (GUIDs, UPNs, opaque ids) become `{id}`.
pub fn classify(path: &str) -> (String, String) {
    let trimmed = path.trim_start_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    if segments.len() >= 3 && segments[1] == "oauth2" {
        return (
            format!("/{{tenant}}/oauth2/{}", segments[2..].join("/")),
            String::new(),
        );
    }
    let mut template = String::new();
    let mut mailbox = String::new();
    let mut previous = "";
    for (index, segment) in segments.iter().enumerate() {
        if index == 0 && (*segment == "v1.0" || *segment == "beta") {
            continue;
        }
        let is_id = matches!(
            previous,
            "users" | "groups" | "contactFolders" | "contacts" | "childFolders" | "_admin_id"
        ) && !is_collection_word(segment);
        if previous == "users" && is_id && mailbox.is_empty() {
            mailbox = segment.to_string();
        }
        template.push('/');
        template.push_str(if is_id { "{id}" } else { segment });
        previous = segment;
    }
    // Directory reads of a user are not mailbox calls; its mailbox settings
    // are (Outlook's limits apply "for each app ID and mailbox combination",
    // learn.microsoft.com/graph/throttling-limits#outlook-service-limits, so a
    // 429 for one user's mailboxSettings does not hold another's).
    let mailbox_call = [
        "contactFolders",
        "contacts",
        "mailFolders",
        "mailboxSettings",
    ]
    .iter()
    .any(|word| template.contains(word));
    if !mailbox_call {
        mailbox.clear();
    }
    (template, mailbox)
}

fn is_collection_word(segment: &str) -> bool {
    matches!(segment, "delta" | "$count" | "microsoft.graph.delta()")
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn templates_hide_ids_and_find_the_mailbox() {
        assert_eq!(
            classify("/v1.0/users/ab12/contactFolders/AAMk=/contacts/XYZ"),
            (
                "/users/{id}/contactFolders/{id}/contacts/{id}".to_owned(),
                "ab12".to_owned()
            )
        );
        assert_eq!(
            classify("/v1.0/users/delta"),
            ("/users/delta".to_owned(), String::new())
        );
        assert_eq!(
            classify("/v1.0/users/ab12/photo/$value"),
            ("/users/{id}/photo/$value".to_owned(), String::new())
        );
        assert_eq!(
            classify("/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"),
            ("/{tenant}/oauth2/v2.0/token".to_owned(), String::new())
        );
    }
}
