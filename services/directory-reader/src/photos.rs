//! Profile photos, fetched only when they changed. Graph's user delta does not
//! report photo changes, so each kept user's photo metadata (its media ETag)
//! is read in `$batch` calls of 20 — ⌈users/20⌉ requests — and the bytes
//! (`/photo/$value`) only for users whose ETag differs from the last check.
//! Bytes are stored once per content hash.

use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use galsync_graph::{BatchRequest, GraphClient, GraphError, MAX_BATCH_REQUESTS};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{PhotoRow, Store};

/// What a photo refresh found.
#[derive(Debug, Default)]
pub struct PhotoRefresh {
    /// `user id → photo hash` of users with a photo.
    pub hashes: HashMap<String, String>,
    pub fetched: u64,
}

enum Checked {
    Unchanged(String, String),
    Changed(String, String),
    NoPhoto(String),
}

async fn check_chunk(
    client: &GraphClient,
    user_ids: &[String],
    known: &HashMap<String, (String, String)>,
) -> Result<Vec<Checked>, GraphError> {
    let mut requests = Vec::with_capacity(user_ids.len());
    for (index, user_id) in user_ids.iter().enumerate() {
        requests.push(BatchRequest::get(
            index.to_string(),
            format!("/users/{}/photo", galsync_graph::path::segment(user_id)),
        ));
    }
    let outcome = client.batch_with_retry(requests).await?;
    let mut checked = Vec::with_capacity(user_ids.len());
    for (user_id, response) in user_ids.iter().zip(outcome.responses) {
        if response.status == 404 {
            checked.push(Checked::NoPhoto(user_id.clone()));
            continue;
        }
        if let Some(api_error) = response.api_error() {
            return Err(GraphError::Api(api_error));
        }
        let metadata: serde_json::Value = response.json()?;
        let etag = metadata
            .get("@odata.mediaEtag")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match known.get(user_id) {
            Some((known_etag, known_hash)) if !etag.is_empty() && *known_etag == etag => {
                checked.push(Checked::Unchanged(user_id.clone(), known_hash.clone()));
            }
            _ => checked.push(Checked::Changed(user_id.clone(), etag)),
        }
    }
    Ok(checked)
}

/// Checks the photos of `user_ids` and fetches the changed ones.
pub async fn refresh(
    client: &GraphClient,
    store: &Store,
    tenant_id: &str,
    user_ids: &[String],
    concurrency: usize,
) -> Result<PhotoRefresh> {
    let known = store.user_photos(tenant_id).await?;
    let chunks: Vec<Vec<String>> = user_ids
        .chunks(MAX_BATCH_REQUESTS)
        .map(<[String]>::to_vec)
        .collect();
    let known_ref = &known;
    let checked: Vec<Vec<Checked>> = stream::iter(chunks)
        .map(|chunk| async move { check_chunk(client, &chunk, known_ref).await })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
        .map_err(|error| Error::graph(tenant_id, error))?;
    let mut refresh = PhotoRefresh::default();
    let mut to_fetch = Vec::new();
    for item in checked.into_iter().flatten() {
        match item {
            Checked::Unchanged(user_id, hash) => {
                refresh.hashes.insert(user_id, hash);
            }
            Checked::Changed(user_id, etag) => to_fetch.push((user_id, etag)),
            Checked::NoPhoto(user_id) => {
                if known.contains_key(&user_id) {
                    store.forget_user_photo(tenant_id, &user_id).await?;
                }
            }
        }
    }
    let fetched: Vec<Option<(String, String)>> = stream::iter(to_fetch)
        .map(|(user_id, etag)| fetch_one(client, store, tenant_id, user_id, etag))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    for (user_id, hash) in fetched.into_iter().flatten() {
        refresh.fetched += 1;
        refresh.hashes.insert(user_id, hash);
    }
    Ok(refresh)
}

async fn fetch_one(
    client: &GraphClient,
    store: &Store,
    tenant_id: &str,
    user_id: String,
    etag: String,
) -> Result<Option<(String, String)>> {
    let request = galsync_graph::GraphRequest::get(format!(
        "/users/{}/photo/$value",
        galsync_graph::path::segment(&user_id)
    ));
    let response = match client.send(request).await {
        Ok(response) => response,
        // Removed between the metadata check and now: no photo.
        Err(error) if error.is_not_found() => return Ok(None),
        Err(error) => return Err(Error::graph(tenant_id, error)),
    };
    let content_type = response
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("image/jpeg")
        .to_owned();
    let hash = hex::encode(Sha256::digest(&response.body));
    let photo = PhotoRow {
        content_type,
        data: response.body,
    };
    store
        .save_user_photo(tenant_id, &user_id, &etag, &hash, &photo)
        .await?;
    Ok(Some((user_id, hash)))
}
