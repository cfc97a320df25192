//! What one `/users/delta` page holds: the phases of a round, the entries of
//! the initial round (every user) and of a change round (each changed user),
//! with Graph's documented irregularities produced by default — an updated
//! user carries only its changed properties, a round repeats a user, and a
//! round replays the previous round's changes.

use std::ops::Bound;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::model::User;
use super::properties::{
    all_fields_mask, render_user, SelectedUserProperty, UserField, DEFAULT_USER_SELECT,
};
use super::store::{NetChange, TenantDirectory};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Phase {
    /// Initial round: users after `after` in id order; the next round starts
    /// at `start`. `repeated` once the round's first user was sent again.
    Initial {
        start: u64,
        after: Option<Uuid>,
        repeated: bool,
    },
    /// A round of the changes in `(from, to]`, `offset` entries already sent;
    /// `(from, since]` were the previous round's (replayed).
    Changes {
        from: u64,
        since: u64,
        to: u64,
        offset: usize,
    },
    /// A deltaLink: the next round reports changes after `replay_from`, which
    /// is where the previous round started (its changes come again).
    Link { position: u64, replay_from: u64 },
}

/// What the client asked for in the first request of the round (kept in the token).
pub struct RoundQuery<'a> {
    pub filter_ids: Option<&'a [Uuid]>,
    pub selection: Option<&'a [SelectedUserProperty]>,
    /// `$select` named `manager`: entries carry `manager@delta`.
    pub select_manager: bool,
    pub page_size: usize,
}

impl RoundQuery<'_> {
    fn wanted(&self, id: &Uuid) -> bool {
        self.filter_ids.is_none_or(|ids| ids.contains(id))
    }
}

/// One page of entries and the phase the next link continues with.
pub fn collect_page(
    directory: &TenantDirectory,
    query: &RoundQuery<'_>,
    phase: &Phase,
) -> (Vec<Value>, Phase) {
    match phase {
        Phase::Initial {
            start,
            after,
            repeated,
        } => initial_page(directory, query, *start, *after, *repeated),
        Phase::Changes {
            from,
            since,
            to,
            offset,
        } => changes_page(directory, query, (*from, *since, *to), *offset),
        Phase::Link {
            position,
            replay_from,
        } => (
            Vec::new(),
            Phase::Link {
                position: *position,
                replay_from: *replay_from,
            },
        ),
    }
}

fn initial_page(
    directory: &TenantDirectory,
    query: &RoundQuery<'_>,
    start: u64,
    after: Option<Uuid>,
    repeated: bool,
) -> (Vec<Value>, Phase) {
    let mut items = Vec::new();
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut last = after;
    for (id, user) in directory.users.range((lower, Bound::Unbounded)) {
        if !query.wanted(id) {
            continue;
        }
        if items.len() == query.page_size {
            let next = Phase::Initial {
                start,
                after: last,
                repeated,
            };
            return (items, next);
        }
        items.push(render_entry(user, query, u64::MAX));
        last = Some(*id);
    }
    // delta-query-overview: "the same resource might be returned more than
    // once" — the round's first user comes again at its end (strictest reading).
    let first = directory.users.iter().find(|(id, _)| query.wanted(id));
    if let (false, Some((_, first_user))) = (repeated, first) {
        if items.len() == query.page_size {
            let next = Phase::Initial {
                start,
                after: last,
                repeated: false,
            };
            return (items, next);
        }
        items.push(render_entry(first_user, query, u64::MAX));
    }
    let link = Phase::Link {
        position: start,
        replay_from: start,
    };
    (items, link)
}

fn changes_page(
    directory: &TenantDirectory,
    query: &RoundQuery<'_>,
    (from, since, to): (u64, u64, u64),
    offset: usize,
) -> (Vec<Value>, Phase) {
    let mut changes: Vec<NetChange> = directory
        .net_changes(from, to)
        .into_iter()
        .filter(|change| query.wanted(&change.user))
        .collect();
    // delta-query-overview: the same resource may appear more than once in a
    // round; the round's first changed user is sent again at its end.
    if let Some(first) = changes.first().cloned() {
        changes.push(first);
    }
    let mut items = Vec::new();
    for change in changes.iter().skip(offset).take(query.page_size) {
        items.push(render_net_change(directory, change, query));
    }
    let sent = offset + items.len();
    if sent < changes.len() {
        return (
            items,
            Phase::Changes {
                from,
                since,
                to,
                offset: sent,
            },
        );
    }
    // The next round starts where this round's new changes started: they are
    // replayed once more (delta-query-overview: replays), then never again.
    let link = Phase::Link {
        position: to,
        replay_from: since,
    };
    (items, link)
}

fn render_net_change(
    directory: &TenantDirectory,
    change: &NetChange,
    query: &RoundQuery<'_>,
) -> Value {
    if let Some(user) = directory.users.get(&change.user) {
        return render_entry(user, query, change.fields);
    }
    let reason = if directory.deleted.contains_key(&change.user) {
        "changed"
    } else {
        "deleted"
    };
    json!({"id": change.user.to_string(), "@removed": {"reason": reason}})
}

/// A user as delta shows it: `id` always, and of the selected properties only
/// the ones in `changed` — user-delta: an updated user carries "at least the
/// properties that have been updated"; the strictest reading sends exactly
/// those, whatever `Prefer: return=minimal` says. A created or restored user
/// has every bit set, so it comes whole. `manager@delta` holds the manager's
/// id when `manager` is selected and changed (`[]` when the manager was removed).
fn render_entry(user: &User, query: &RoundQuery<'_>, changed: u64) -> Value {
    let selected: Vec<SelectedUserProperty> = match query.selection {
        Some(list) => list.to_vec(),
        None => DEFAULT_USER_SELECT
            .iter()
            .map(|field| SelectedUserProperty::Field(*field))
            .collect(),
    };
    let whole = changed & all_fields_mask() == all_fields_mask();
    let changed_only: Vec<SelectedUserProperty> = selected
        .into_iter()
        .filter(|property| match property {
            SelectedUserProperty::Field(field) => changed & field.bit() != 0,
            SelectedUserProperty::Unmodelled(..) => whole,
        })
        .collect();
    let mut object: Map<String, Value> = render_user(user, Some(&changed_only));
    object.insert("id".to_owned(), Value::String(user.id.to_string()));
    let manager_changed = changed & UserField::Manager.bit() != 0;
    if query.select_manager && manager_changed {
        match user.manager_id {
            Some(manager) => {
                let reference =
                    json!([{"@odata.type": "#microsoft.graph.user", "id": manager.to_string()}]);
                object.insert("manager@delta".to_owned(), reference);
            }
            // A whole user (initial round, created) without a manager carries no link.
            None if whole => {}
            None => {
                object.insert("manager@delta".to_owned(), json!([]));
            }
        }
    }
    Value::Object(object)
}
