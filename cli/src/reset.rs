//! `galsync reset-credentials`: the way out when the master key is lost. It
//! works on the auth-broker's store directly (the broker refuses to start
//! without its key), deletes every sealed secret and keeps tenants and apps,
//! so an administrator enrols the credentials again: a new certificate (or
//! client secret).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use galsync_auth_broker::master_key::{inventory, reset_credentials};
use galsync_platform::store::PoolSettings;

use crate::error::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ResetCredentialsArgs {
    /// The data directory of `galsync up` or of the auth-broker; its store is
    /// `auth-broker.db` there unless --store-url names another.
    #[arg(long, env = "GALSYNC_DATA_DIR", default_value = "galsync-data")]
    pub data_dir: PathBuf,

    /// The auth-broker's store, e.g. postgres://galsync@db/galsync_broker.
    #[arg(long, env = "GALSYNC_AUTH_BROKER_STORE_URL")]
    pub store_url: Option<String>,

    /// Really delete every certificate and client secret.
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(args: ResetCredentialsArgs) -> CliResult {
    let mut config = galsync_auth_broker::Config::local(String::new());
    config.store_url = args.store_url.clone();
    config.data_dir = args.data_dir.clone();
    let store_url = config.store_url();
    let opened = async {
        let pool = galsync_platform::store::connect(
            "store-url",
            &store_url,
            galsync_auth_broker::MIGRATIONS,
            PoolSettings::default(),
        )
        .await
        .context("failed to open the auth-broker store")?;
        Ok::<_, anyhow::Error>(galsync_auth_broker::store::BrokerStore::new(pool))
    }
    .await;
    let store = opened.map_err(CliError::from_anyhow)?;
    let sealed = inventory(&store).await.map_err(|error| {
        CliError::failed(format!("failed to read the auth-broker store: {error}"))
    })?;
    if !args.yes {
        store.pool().close().await;
        return Err(CliError::usage(format!(
            "this deletes {} from the auth-broker store; tenants and apps stay; \
             stop the broker, then run again with --yes",
            sealed.describe()
        )));
    }
    let deleted = reset_credentials(&store)
        .await
        .map_err(|error| CliError::failed(format!("failed to reset the credentials: {error}")));
    store.pool().close().await;
    let deleted = deleted?;
    println!("deleted {}; tenants and apps are kept", deleted.describe());
    println!(
        "next: start the broker (it seals under its current master key, made anew if missing), then per app \
         `galsync cert generate` and upload the .cer, or `galsync secret set`, and `galsync consent url` again"
    );
    Ok(())
}
