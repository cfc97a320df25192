//! Contact photos: `…/contacts/{cid}/photo/$value` PUT/GET and the `…/photo`
//! metadata, in a folder or addressed mailbox-wide.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::model::Photo;
use super::{
    check_id, item_error, odata_context, open_mailbox, READ_PERMISSIONS, WRITE_PERMISSIONS,
};
use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

/// Graph refuses photo uploads above 4 MB.
pub const MAX_PHOTO_BYTES: usize = 4 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/contacts/{contact_id}/photo",
            get(metadata_in_folder),
        )
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/contacts/{contact_id}/photo/$value",
            get(value_in_folder).put(put_in_folder),
        )
        .route(
            "/v1.0/users/{id}/contacts/{contact_id}/photo",
            get(metadata_anywhere),
        )
        .route(
            "/v1.0/users/{id}/contacts/{contact_id}/photo/$value",
            get(value_anywhere).put(put_anywhere),
        )
        .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + 1024))
}

async fn metadata_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    photo(&state, &caller, &user, Some(&folder_id), &contact_id, false)
}

async fn metadata_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    photo(&state, &caller, &user, None, &contact_id, false)
}

async fn value_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    photo(&state, &caller, &user, Some(&folder_id), &contact_id, true)
}

async fn value_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    photo(&state, &caller, &user, None, &contact_id, true)
}

fn photo(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    contact_id: &str,
    want_bytes: bool,
) -> Result<Response, GraphError> {
    let opened = open_mailbox(state, caller, user, READ_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    check_id(contact_id)?;
    let mailbox = opened.lock();
    let contact = mailbox.contact(contact_id, folder).map_err(item_error)?;
    let Some(photo) = contact.photo.clone() else {
        return Err(GraphError::not_found(
            "The specified object was not found in the store.",
        ));
    };
    drop(mailbox);
    if want_bytes {
        return Ok((
            [(header::CONTENT_TYPE, photo.content_type.clone())],
            photo.bytes,
        )
            .into_response());
    }
    let (width, height) = image_dimensions(&photo.bytes).unwrap_or((0, 0));
    Ok(Json(json!({
        "@odata.context": odata_context(state, &format!("users('{user}')/contacts('{contact_id}')/photo/$entity")),
        "@odata.mediaContentType": photo.content_type,
        "@odata.mediaEtag": format!("\"{}\"", photo.etag),
        "id": format!("{width}X{height}"),
        "width": width,
        "height": height,
    }))
    .into_response())
}

async fn put_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, GraphError> {
    put_photo(
        &state,
        &caller,
        &user,
        Some(&folder_id),
        &contact_id,
        &headers,
        body,
    )
}

async fn put_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, GraphError> {
    put_photo(&state, &caller, &user, None, &contact_id, &headers, body)
}

fn put_photo(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    contact_id: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<StatusCode, GraphError> {
    let opened = open_mailbox(state, caller, user, WRITE_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    check_id(contact_id)?;
    if body.is_empty() || body.len() > MAX_PHOTO_BYTES {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidImage",
            "The photo is empty or larger than 4 MB.",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("image/jpeg")
        .to_owned();
    let etag = {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(&body)[..16])
    };
    let photo = Photo {
        bytes: body,
        content_type,
        etag,
    };
    let now = state.clock.now();
    opened
        .lock()
        .set_photo(contact_id, folder, photo, now)
        .map_err(item_error)?;
    Ok(StatusCode::OK)
}

/// Width and height of a PNG or JPEG image.
fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
        let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
        return Some((width, height));
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut position = 2;
    while position + 9 < bytes.len() {
        if bytes[position] != 0xFF {
            return None;
        }
        let marker = bytes[position + 1];
        let length = u16::from_be_bytes([bytes[position + 2], bytes[position + 3]]) as usize;
        let is_frame_header =
            (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame_header {
            let height = u16::from_be_bytes([bytes[position + 5], bytes[position + 6]]);
            let width = u16::from_be_bytes([bytes[position + 7], bytes[position + 8]]);
            return Some((u32::from(width), u32::from(height)));
        }
        position += 2 + length;
    }
    None
}
