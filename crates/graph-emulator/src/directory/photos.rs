//! `GET /users/{id}/photo` (metadata with `@odata.mediaEtag`) and
//! `GET /users/{id}/photo/$value` (the bytes); 404 `ImageNotFound` without a photo.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::http::{authorize, resource_not_found, METADATA, PHOTO_READ};
use super::model::{Photo, User};

fn image_not_found() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ImageNotFound",
        "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
    )
}

fn user_photo(
    state: &AppState,
    caller: &GraphCaller,
    id: &str,
) -> Result<(std::sync::Arc<User>, std::sync::Arc<Photo>), GraphError> {
    authorize(state, caller, PHOTO_READ)?;
    let Some(user) = state.directory.find_user(caller.tenant_id, id) else {
        return Err(resource_not_found(id));
    };
    let Some(photo) = user.photo.clone() else {
        return Err(image_not_found());
    };
    Ok((user, photo))
}

pub async fn get_photo_metadata(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let (user, photo) = user_photo(&state, &caller, &id)?;
    Ok(axum::Json(json!({
        "@odata.context": format!("{METADATA}users('{}')/photo/$entity", user.id),
        "@odata.mediaContentType": photo.content_type,
        "@odata.mediaEtag": format!("\"{}\"", photo.etag),
        "id": format!("{}X{}", photo.width, photo.height),
        "height": photo.height,
        "width": photo.width,
    }))
    .into_response())
}

pub async fn get_photo_value(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let (_, photo) = user_photo(&state, &caller, &id)?;
    let mut response = photo.bytes.clone().into_response();
    let headers = response.headers_mut();
    if let Ok(content_type) = HeaderValue::from_str(&photo.content_type) {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", photo.etag)) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}
