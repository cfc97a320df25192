//! The stand-in directory behind [`super::MtlsScheduler`]: a fixed list of
//! target mailboxes and ten users whose only attribute is a department, so
//! that a client's attribute rules show in `ExplainProfile`.

use std::sync::Arc;

use futures::future::BoxFuture;
use galsync_proto::v1;
use galsync_scheduler::directory::DirectorySource;
use galsync_scheduler::SchedulerError;
use v1::attribute_rule::Operator;

/// The departments of the stand-in directory's ten users, one a user.
pub const STAND_IN_DEPARTMENTS: [&str; 10] = [
    "Sales", "Sales", "Sales", "Sales", "Support", "Support", "Support", "Interns", "Interns",
    "Finance",
];

/// A directory whose target list is `mailbox-000` … and whose snapshot has
/// ten entries, the users of [`STAND_IN_DEPARTMENTS`].
pub struct StandInDirectory {
    mailboxes: Vec<String>,
}

impl StandInDirectory {
    pub fn with_mailboxes(count: usize) -> Arc<Self> {
        let mailboxes = (0..count)
            .map(|index| format!("mailbox-{index:03}"))
            .collect();
        Arc::new(Self { mailboxes })
    }
}

/// Whether `rule` drops a user of `department` (an attribute other than
/// department is missing, so it never matches), as the directory-reader
/// decides it.
fn drops(rule: &v1::AttributeRule, department: &str) -> bool {
    let value = department.to_lowercase();
    let matches = rule.attribute == "department"
        && rule.values.iter().any(|wanted| {
            let wanted = wanted.trim().to_lowercase();
            match Operator::try_from(rule.operator) {
                Ok(Operator::StartsWith) => value.starts_with(&wanted),
                _ => value == wanted,
            }
        });
    matches == rule.exclude
}

/// The rule as the directory-reader names it in its counts.
fn description(rule: &v1::AttributeRule) -> String {
    let prefix = if rule.exclude { "exclude " } else { "" };
    let (operator, values) = match Operator::try_from(rule.operator) {
        Ok(Operator::StartsWith) => ("starts with", format!("'{}'", rule.values.join(""))),
        Ok(Operator::Equals) => ("eq", format!("'{}'", rule.values.join(""))),
        _ => ("in", format!("({})", rule.values.join(", "))),
    };
    format!("{prefix}{} {operator} {values}", rule.attribute)
}

impl DirectorySource for StandInDirectory {
    fn take_snapshot(
        &self,
        request: v1::TakeSnapshotRequest,
    ) -> BoxFuture<'_, Result<v1::Snapshot, SchedulerError>> {
        Box::pin(async move {
            Ok(v1::Snapshot {
                snapshot_id: "snapshot-1".to_owned(),
                tenant_id: request.tenant_id,
                entry_count: STAND_IN_DEPARTMENTS.len() as u64,
                created_at: None,
                read_stats: None,
            })
        })
    }

    fn resolve_targets(
        &self,
        _tenant_id: &str,
        _selector: v1::TargetSelector,
    ) -> BoxFuture<'_, Result<v1::TargetList, SchedulerError>> {
        let mailbox_ids = self.mailboxes.clone();
        Box::pin(async move {
            Ok(v1::TargetList {
                mailbox_ids,
                unresolved: Vec::new(),
                rules: Vec::new(),
            })
        })
    }

    /// Counts, rule by rule, the users each attribute rule drops first
    /// (the other parts of the filter drop no stand-in user).
    fn explain_filter(
        &self,
        _tenant_id: &str,
        filter: v1::SourceFilter,
    ) -> BoxFuture<'_, Result<v1::FilterExplanation, SchedulerError>> {
        let mut dropped = vec![0u64; filter.rules.len()];
        let mut kept = 0;
        for department in STAND_IN_DEPARTMENTS {
            match filter.rules.iter().position(|rule| drops(rule, department)) {
                Some(index) => dropped[index] += 1,
                None => kept += 1,
            }
        }
        let rules = filter
            .rules
            .iter()
            .zip(dropped)
            .map(|(rule, dropped)| v1::FilterRuleCount {
                rule: description(rule),
                dropped,
            })
            .collect();
        Box::pin(async move {
            Ok(v1::FilterExplanation {
                users_read: STAND_IN_DEPARTMENTS.len() as u64,
                users_kept: kept,
                rules,
            })
        })
    }
}
