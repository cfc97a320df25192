//! `GET /v1.0/groups` (`$filter`, `$select`, paging), `/groups/{id}`,
//! `/groups/{id}/members[/microsoft.graph.user]` and
//! `/groups/{id}/transitiveMembers[/microsoft.graph.user]` (nested groups
//! resolved breadth-first, each member once, cycle-safe, paged by offset).

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::filter_eval::{evaluate, FieldValue, FilterSubject};
use super::group_properties::{group_property, render_group};
use super::http::{
    authorize, bind_group_filter, bind_user_filter, collection_response, next_link,
    resource_not_found, GroupFilterField, PageToken, GROUP_READ, METADATA,
};
use super::model::{Group, MemberRef, User};
use super::properties::SelectedUserProperty;
use super::properties::{render_user, select_user_property};
use super::query::{parse_group_select, parse_user_select, request_bad_request, GraphQuery};

impl FilterSubject<GroupFilterField> for Group {
    fn field_value(&self, field: &GroupFilterField) -> FieldValue<'_> {
        match field.0 {
            "id" => FieldValue::Id(self.id),
            "displayName" => FieldValue::Text(Some(&self.display_name)),
            "description" => FieldValue::Text(self.description.as_deref()),
            "mail" => FieldValue::Text(self.mail.as_deref()),
            "mailNickname" => FieldValue::Text(Some(&self.mail_nickname)),
            "mailEnabled" => FieldValue::Bool(self.mail_enabled),
            "securityEnabled" => FieldValue::Bool(self.security_enabled),
            _ => FieldValue::Text(None),
        }
    }
}

pub async fn list_groups(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, GROUP_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    query.reject_unsupported()?;
    let page_size = query.page_size()?;
    let wants_count = query.wants_count(&headers)?;
    let selection = parse_group_select(query.select.as_deref())?;
    let filter = match &query.filter {
        Some(text) => Some(bind_group_filter(text, query.is_advanced(&headers))?),
        None => None,
    };
    let fingerprint = query.fingerprint(&headers);
    let after = match &query.skiptoken {
        Some(token) => {
            PageToken::open(&state, token, "groups", caller.tenant_id, &fingerprint)?.after
        }
        None => None,
    };
    let (page, has_more, count) = state.directory.read(caller.tenant_id, |directory| {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let matches = |group: &Group| filter.as_ref().is_none_or(|expr| evaluate(expr, group));
        let mut page: Vec<Arc<Group>> = Vec::new();
        let mut has_more = false;
        for (_, group) in directory.groups.range((lower, Bound::Unbounded)) {
            if !matches(group) {
                continue;
            }
            if page.len() == page_size {
                has_more = true;
                break;
            }
            page.push(group.clone());
        }
        let count = wants_count.then(|| {
            directory
                .groups
                .values()
                .filter(|group| matches(group))
                .count()
        });
        (page, has_more, count)
    });
    let items: Vec<Value> = page
        .iter()
        .map(|group| Value::Object(render_group(group, selection.as_deref())))
        .collect();
    let next = match (has_more, page.last()) {
        (true, Some(last)) => {
            let token = state.directory.seal.seal(&PageToken {
                kind: "groups".to_owned(),
                tenant: caller.tenant_id,
                query: fingerprint,
                after: Some(last.id),
                offset: 0,
            });
            Some(next_link(
                &state,
                "/v1.0/groups",
                &query.link_query(),
                &token,
            ))
        }
        _ => None,
    };
    Ok(collection_response("groups", count, items, next))
}

pub async fn get_group(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, GROUP_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let selection = parse_group_select(query.select.as_deref())?;
    let Some(group) = state.directory.read(caller.tenant_id, |directory| {
        directory.find_group(&id).cloned()
    }) else {
        return Err(resource_not_found(&id));
    };
    let mut object = render_group(&group, selection.as_deref());
    object.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{METADATA}groups/$entity")),
    );
    Ok(axum::Json(Value::Object(object)).into_response())
}

/// A `$select` on a mixed member collection: each name must be a user or group property.
struct MemberSelection {
    users: Option<Vec<SelectedUserProperty>>,
    groups: Option<Vec<&'static str>>,
}

fn parse_member_select(select: Option<&str>) -> Result<MemberSelection, GraphError> {
    let Some(list) = select else {
        return Ok(MemberSelection {
            users: None,
            groups: None,
        });
    };
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for name in list.split(',').map(str::trim) {
        let as_user = select_user_property(name);
        let as_group = group_property(name);
        if as_user.is_none() && as_group.is_none() {
            return Err(request_bad_request(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.directoryObject'."
            )));
        }
        users.extend(as_user);
        groups.extend(as_group);
    }
    Ok(MemberSelection {
        users: Some(users),
        groups: Some(groups),
    })
}

enum Member {
    User(Arc<User>),
    Group(Arc<Group>),
}

/// Which member listing a route serves.
#[derive(Clone, Copy, PartialEq)]
enum Listing {
    Direct,
    DirectUsers,
    Transitive,
    TransitiveUsers,
}

async fn list_members(
    state: AppState,
    caller: GraphCaller,
    headers: HeaderMap,
    id: String,
    raw_query: Option<String>,
    listing: Listing,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, GROUP_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    query.reject_unsupported()?;
    let page_size = query.page_size()?;
    let users_only = matches!(listing, Listing::DirectUsers | Listing::TransitiveUsers);
    // Graph filters member listings only as advanced queries, and only cast to users here.
    let user_filter = match &query.filter {
        None => None,
        Some(_) if !users_only => {
            return Err(request_bad_request(
                "Filter on a mixed member collection is not supported; cast to microsoft.graph.user.",
            ))
        }
        Some(_) if !query.is_advanced(&headers) => {
            return Err(GraphError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Filter on group members requires ConsistencyLevel header with a value of 'eventual' and $count=true.",
            ))
        }
        Some(text) => Some(bind_user_filter(text, true)?),
    };
    let keep_user = |user: &User| {
        user_filter
            .as_ref()
            .is_none_or(|expression| evaluate(expression, user))
    };
    let selection = if users_only {
        MemberSelection {
            users: parse_user_select(query.select.as_deref())?,
            groups: None,
        }
    } else {
        parse_member_select(query.select.as_deref())?
    };
    let fingerprint = query.fingerprint(&headers);
    let kind = format!("members:{id}");
    let offset = match &query.skiptoken {
        Some(token) => {
            PageToken::open(&state, token, &kind, caller.tenant_id, &fingerprint)?.offset
        }
        None => 0,
    };
    let members = state.directory.read(caller.tenant_id, |directory| {
        let group = directory.find_group(&id)?;
        let mut members: Vec<Member> = Vec::new();
        match listing {
            Listing::Direct | Listing::DirectUsers => {
                for member in &group.members {
                    match member {
                        MemberRef::User(user_id) => {
                            if let Some(user) = directory.users.get(user_id) {
                                if keep_user(user) {
                                    members.push(Member::User(user.clone()));
                                }
                            }
                        }
                        MemberRef::Group(group_id) if !users_only => {
                            if let Some(nested) = directory.groups.get(group_id) {
                                members.push(Member::Group(nested.clone()));
                            }
                        }
                        MemberRef::Group(_) => {}
                    }
                }
            }
            Listing::Transitive | Listing::TransitiveUsers => {
                if !users_only {
                    members.extend(
                        directory
                            .transitive_groups(group)
                            .into_iter()
                            .map(Member::Group),
                    );
                }
                members.extend(
                    directory
                        .transitive_users(group)
                        .into_iter()
                        .filter(|user| keep_user(user))
                        .map(Member::User),
                );
            }
        }
        Some(members)
    });
    let Some(members) = members else {
        return Err(resource_not_found(&id));
    };
    let mut items = Vec::new();
    for member in members.iter().skip(offset).take(page_size) {
        let mut object = serde_json::Map::new();
        match member {
            Member::User(user) => {
                object.insert(
                    "@odata.type".to_owned(),
                    Value::String("#microsoft.graph.user".to_owned()),
                );
                object.extend(render_user(user, selection.users.as_deref()));
            }
            Member::Group(group) => {
                object.insert(
                    "@odata.type".to_owned(),
                    Value::String("#microsoft.graph.group".to_owned()),
                );
                object.extend(render_group(group, selection.groups.as_deref()));
            }
        }
        items.push(Value::Object(object));
    }
    let sent = offset + items.len();
    let next = if sent < members.len() {
        let token = state.directory.seal.seal(&PageToken {
            kind,
            tenant: caller.tenant_id,
            query: fingerprint,
            after: None,
            offset: sent,
        });
        let path = match listing {
            Listing::Direct => format!("/v1.0/groups/{id}/members"),
            Listing::DirectUsers => format!("/v1.0/groups/{id}/members/microsoft.graph.user"),
            Listing::Transitive => format!("/v1.0/groups/{id}/transitiveMembers"),
            Listing::TransitiveUsers => {
                format!("/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user")
            }
        };
        Some(next_link(&state, &path, &query.link_query(), &token))
    } else {
        None
    };
    let context = if users_only {
        "users"
    } else {
        "directoryObjects"
    };
    Ok(collection_response(context, None, items, next))
}

pub async fn members(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    list_members(state, caller, headers, id, raw_query, Listing::Direct).await
}

pub async fn member_users(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    list_members(state, caller, headers, id, raw_query, Listing::DirectUsers).await
}

pub async fn transitive_members(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    list_members(state, caller, headers, id, raw_query, Listing::Transitive).await
}

pub async fn transitive_member_users(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    list_members(
        state,
        caller,
        headers,
        id,
        raw_query,
        Listing::TransitiveUsers,
    )
    .await
}
