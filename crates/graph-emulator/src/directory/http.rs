//! What every directory handler shares: permission sets, the throttle check,
//! Graph's not-found errors, page tokens and collection responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::odata_filter::expression::{parse, Expr};
use crate::AppState;

use super::filter_eval::{bind, BoundProperty, ValueKind};
use super::group_properties::GROUP_PROPERTIES;
use super::model::User;
use super::properties::{render_user, user_field, Filterable, SelectedUserProperty, UserField};
use super::store::UserFilterField;

/// App roles that may read users.
pub const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// App roles that may read groups and their members.
pub const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "GroupMember.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// App roles that may read profile photos.
pub const PHOTO_READ: &[&str] = &[
    "ProfilePhoto.Read.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Graph's OData context prefix.
pub const METADATA: &str = "https://graph.microsoft.com/v1.0/$metadata#";

/// Permission first, then the directory budget of (tenant, app).
pub fn authorize(
    state: &AppState,
    caller: &GraphCaller,
    permissions: &[&str],
) -> Result<(), GraphError> {
    caller.require_directory(permissions)?;
    state
        .directory
        .throttle
        .charge(&state.config, caller.tenant_id, &caller.claims.appid)
}

pub fn resource_not_found(resource: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{resource}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

pub fn expired_page_token() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
    )
}

/// State behind a collection's `$skiptoken`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PageToken {
    /// Which collection, e.g. `users` or `members:{group id}`.
    pub kind: String,
    pub tenant: Uuid,
    /// Fingerprint of the query options the token must be replayed with.
    pub query: String,
    /// Last object id of the previous page (ordered collections).
    pub after: Option<Uuid>,
    /// Items already returned (computed collections).
    pub offset: usize,
}

impl PageToken {
    /// Opens a client's `$skiptoken` for this collection and query, or 400.
    pub fn open(
        state: &AppState,
        token: &str,
        kind: &str,
        tenant: Uuid,
        query: &str,
    ) -> Result<PageToken, GraphError> {
        let page: PageToken = state
            .directory
            .seal
            .open(token)
            .ok_or_else(expired_page_token)?;
        if page.kind != kind || page.tenant != tenant || page.query != query {
            return Err(expired_page_token());
        }
        Ok(page)
    }
}

/// The nextLink for `path` (e.g. `/v1.0/users`) with the query options and a token.
pub fn next_link(state: &AppState, path: &str, link_query: &str, token: &str) -> String {
    let separator = if link_query.is_empty() { "" } else { "&" };
    format!(
        "{}{path}?{link_query}{separator}$skiptoken={token}",
        state.base_url()
    )
}

/// A collection page as Graph shapes it.
pub fn collection_response(
    context: &str,
    count: Option<usize>,
    items: Vec<Value>,
    next_link: Option<String>,
) -> Response {
    let mut body = Map::new();
    body.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{METADATA}{context}")),
    );
    if let Some(count) = count {
        body.insert("@odata.count".to_owned(), Value::from(count));
    }
    if let Some(link) = next_link {
        body.insert("@odata.nextLink".to_owned(), Value::String(link));
    }
    body.insert("value".to_owned(), Value::Array(items));
    axum::Json(Value::Object(body)).into_response()
}

/// One user as a typed entity (`@odata.context`, `@odata.type`, then its
/// properties), as Graph answers for a deleted item or a manager.
pub fn user_entity_response(
    context: &str,
    user: &User,
    selection: Option<&[SelectedUserProperty]>,
) -> Response {
    let mut object = Map::new();
    object.insert(
        "@odata.context".to_owned(),
        Value::String(format!("{METADATA}{context}")),
    );
    object.insert(
        "@odata.type".to_owned(),
        Value::String("#microsoft.graph.user".to_owned()),
    );
    object.extend(render_user(user, selection));
    axum::Json(Value::Object(object)).into_response()
}

/// Binds a user `$filter`.
pub fn bind_user_filter(filter: &str, advanced: bool) -> Result<Expr<UserFilterField>, GraphError> {
    let expression = parse(filter)?;
    bind(expression, "User", advanced, &|path| {
        if let Some(number) = path
            .strip_prefix("onPremisesExtensionAttributes/extensionAttribute")
            .and_then(|number| number.parse::<usize>().ok())
            .filter(|number| (1..=15).contains(number))
        {
            return Some(BoundProperty {
                field: UserFilterField::ExtensionAttribute(number - 1),
                filterable: Filterable::AdvancedOnly,
                kind: ValueKind::Text,
            });
        }
        let info = user_field(path)?;
        let kind = if info.field == UserField::AccountEnabled {
            ValueKind::Bool
        } else {
            ValueKind::Text
        };
        Some(BoundProperty {
            field: UserFilterField::Field(info.field),
            filterable: info.filter,
            kind,
        })
    })
}

/// Group fields a filter can reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupFilterField(pub &'static str);

pub fn bind_group_filter(
    filter: &str,
    advanced: bool,
) -> Result<Expr<GroupFilterField>, GraphError> {
    let expression = parse(filter)?;
    bind(expression, "Group", advanced, &|path| {
        let (name, filterable) = GROUP_PROPERTIES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(path))?;
        let kind = if matches!(*name, "mailEnabled" | "securityEnabled") {
            ValueKind::Bool
        } else {
            ValueKind::Text
        };
        Some(BoundProperty {
            field: GroupFilterField(name),
            filterable: *filterable,
            kind,
        })
    })
}
