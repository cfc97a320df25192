//! Target lists: which mailboxes receive the contacts. A target is an enabled
//! member with mail, an enabled Exchange Online plan and a mailbox Graph calls
//! `user` or `linked` (`mailboxSettings.userPurpose`), or a `shared` mailbox
//! the selector names; everything a selector names that is not one comes
//! back as unresolved, with the reason. The selector's attribute rules then
//! narrow the list; how many mailboxes each rule dropped comes back with it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use galsync_graph::RequestStats;
use galsync_proto::v1;

use crate::error::Result;
use crate::filter::{compile_rules, validate_object_id};
use crate::service::Reader;
use crate::source::SourceUser;

/// Why `user` cannot receive the directory, if it cannot. A shared mailbox
/// can when the selector names it (as a user or a group member): application
/// permissions reach it, and it needs neither a licence nor an enabled
/// sign-in. "Every mailbox" means the personal ones.
fn mailbox_problem(user: &SourceUser, named: bool) -> Option<&'static str> {
    if user.is_guest {
        return Some("is a guest, guests have no mailbox in this tenant");
    }
    if user.is_shared_mailbox() {
        return (!named).then_some(
            "is a shared mailbox: every-mailbox selects personal ones; name it (or a group holding it) to send it the directory",
        );
    }
    if !user.account_enabled {
        return Some("account is disabled");
    }
    if user.has_user_mailbox() {
        return None;
    }
    if user.is_resource_mailbox() {
        return Some("is a room or equipment mailbox (mailboxSettings.userPurpose)");
    }
    if !user.licensed {
        return Some(
            "has no mailbox galsync may use: no enabled Exchange Online plan in assignedPlans",
        );
    }
    Some("has no mailbox (no mail, or graph reports no Exchange Online mailbox)")
}

impl Reader {
    pub async fn resolve_targets(
        &self,
        tenant_id: &str,
        selector: &v1::TargetSelector,
    ) -> Result<v1::TargetList> {
        let rules = compile_rules(&selector.rules, "selector.rules")?;
        let mut group_ids = Vec::with_capacity(selector.group_ids.len());
        for group_id in &selector.group_ids {
            group_ids.push(validate_object_id(group_id, "selector.group_ids")?);
        }
        let stats = Arc::new(RequestStats::new());
        // The whole directory (no pre-filter): the round the run's snapshot
        // just made when there is one, else a delta round of its own.
        let reuse = self.settings.target_round_reuse;
        let (state, _) = self.reads.read_recent(tenant_id, "", reuse, &stats).await?;
        let users = state.users;
        let mut by_upn: HashMap<String, &SourceUser> = HashMap::with_capacity(users.len());
        for user in users.values() {
            if let Some(upn) = &user.user_principal_name {
                by_upn.insert(upn.to_lowercase(), user);
            }
        }

        let mut candidates: BTreeSet<String> = BTreeSet::new();
        let mut unresolved = Vec::new();
        // Who the selector names as a user, so that a rule dropping them is
        // said by name, not only counted.
        let mut named: HashMap<String, &str> = HashMap::new();
        for wanted in &selector.users {
            let key = wanted.trim().to_lowercase();
            let found = users.get(&key).or_else(|| by_upn.get(&key).copied());
            let Some(user) = found else {
                unresolved.push(format!("user {wanted}: not found in the directory"));
                continue;
            };
            match mailbox_problem(user, true) {
                Some(problem) => unresolved.push(format!("user {wanted}: {problem}")),
                None => {
                    candidates.insert(user.id.clone());
                    named.insert(user.id.clone(), wanted.as_str());
                }
            }
        }

        let client = self
            .reads
            .graph()
            .client(tenant_id)
            .await?
            .with_stats(stats.clone());
        for group_id in &group_ids {
            let Some(members) =
                crate::groups::transitive_user_ids(&client, tenant_id, group_id).await?
            else {
                unresolved.push(format!("group {group_id}: not found in the directory"));
                continue;
            };
            let mut with_mailbox = 0;
            for member_id in members {
                let Some(user) = users.get(&member_id) else {
                    continue;
                };
                if mailbox_problem(user, true).is_none() {
                    candidates.insert(member_id);
                    with_mailbox += 1;
                }
            }
            if with_mailbox == 0 {
                unresolved.push(format!("group {group_id}: no member has a mailbox"));
            }
        }

        // Rules alone narrow every mailbox.
        let only_rules = selector.users.is_empty() && group_ids.is_empty() && !rules.is_empty();
        if selector.all_mailboxes || only_rules {
            for user in users.values() {
                if mailbox_problem(user, false).is_none() {
                    candidates.insert(user.id.clone());
                }
            }
        }

        let mut mailbox_ids = Vec::with_capacity(candidates.len());
        let mut dropped_by_rule = vec![0u64; rules.len()];
        for candidate in candidates {
            let Some(user) = users.get(&candidate) else {
                continue;
            };
            let Some(rule_index) = rules.iter().position(|rule| rule.drops(user)) else {
                mailbox_ids.push(candidate);
                continue;
            };
            dropped_by_rule[rule_index] += 1;
            if let Some(wanted) = named.get(&candidate) {
                unresolved.push(format!(
                    "user {wanted}: dropped by the targets' rule {}",
                    rules[rule_index].description()
                ));
            }
        }
        let mut rule_counts = Vec::with_capacity(rules.len());
        for (rule, dropped) in rules.iter().zip(dropped_by_rule) {
            rule_counts.push(v1::FilterRuleCount {
                rule: rule.description().to_owned(),
                dropped,
            });
        }
        Ok(v1::TargetList {
            mailbox_ids,
            unresolved,
            rules: rule_counts,
        })
    }
}
