//! Exchange Online mailboxes as Graph exposes them: contact folders, contacts
//! with extended properties, photos, contacts delta, `$batch`, and the
//! per-app-per-mailbox throttling limits.

use axum::Router;

use crate::AppState;

#[derive(Debug, Default)]
pub struct MailboxStore {}

pub fn routes() -> Router<AppState> {
    Router::new()
}
