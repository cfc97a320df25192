//! `GET /v1.0/places/microsoft.graph.room`: the tenant's room mailboxes as
//! places (needs Place.Read.All). A client matches them to users by
//! `emailAddress`, which is how it can drop rooms without one request per user.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::http::{authorize, collection_response, next_link, PageToken};
use super::model::{MailboxKind, User};
use super::query::GraphQuery;

const PLACE_READ: &[&str] = &["Place.Read.All", "Place.ReadWrite.All"];

fn render_room(user: &User) -> Value {
    json!({
        "id": user.id.to_string(),
        "displayName": user.display_name,
        "emailAddress": user.mail,
        "nickname": user.display_name,
        "building": user.office_location,
        "capacity": user
            .display_name
            .rsplit_once('(')
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|seats| seats.parse::<u32>().ok()),
        "bookingType": "standard",
        "isWheelChairAccessible": false,
        "phone": null,
        "tags": [],
        "address": {
            "street": user.street_address,
            "city": user.city,
            "state": user.state,
            "postalCode": user.postal_code,
            "countryOrRegion": user.country,
        },
    })
}

pub async fn list_rooms(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, PLACE_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let page_size = query.page_size()?;
    let fingerprint = query.fingerprint(&headers);
    let offset = match &query.skiptoken {
        Some(token) => {
            PageToken::open(&state, token, "rooms", caller.tenant_id, &fingerprint)?.offset
        }
        None => 0,
    };
    let rooms: Vec<Value> = state.directory.read(caller.tenant_id, |directory| {
        directory
            .users
            .values()
            .filter(|user| user.mailbox == MailboxKind::Room)
            .map(|user| render_room(user))
            .collect()
    });
    let page: Vec<Value> = rooms.iter().skip(offset).take(page_size).cloned().collect();
    let sent = offset + page.len();
    let next = if sent < rooms.len() {
        let token = state.directory.seal.seal(&PageToken {
            kind: "rooms".to_owned(),
            tenant: caller.tenant_id,
            query: fingerprint,
            after: None,
            offset: sent,
        });
        Some(next_link(
            &state,
            "/v1.0/places/microsoft.graph.room",
            &query.link_query(),
            &token,
        ))
    } else {
        None
    };
    Ok(collection_response(
        "places/microsoft.graph.room",
        None,
        page,
        next,
    ))
}
