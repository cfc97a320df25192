//! The flags every command shares, and gRPC clients for the auth-broker and
//! the scheduler built from them (mTLS with the `cli` certificate by default).

use std::path::PathBuf;

use clap::Args;
use galsync_platform::tls::server_name;
use galsync_platform::TlsMaterial;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig};

use crate::error::{CliError, CliResult, ServiceName, Target};
use crate::output::OutputFormat;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Scheduler (public API) URL.
    #[arg(
        long,
        env = "GALSYNC_SCHEDULER_URL",
        default_value = "https://127.0.0.1:50050",
        global = true
    )]
    pub scheduler_url: String,

    /// Auth-broker URL (tenants, certificates, consent, test-connection, audit).
    #[arg(
        long,
        env = "GALSYNC_BROKER_URL",
        default_value = "https://127.0.0.1:50051",
        global = true
    )]
    pub broker_url: String,

    /// Directory with the internal PKI; the CLI presents cli.pem / cli.key from it
    /// and trusts ca.pem.
    #[arg(
        long,
        env = "GALSYNC_PKI_DIR",
        default_value = "galsync-data/pki",
        global = true
    )]
    pub pki_dir: PathBuf,

    /// Talk plaintext gRPC, to services started with `galsync up --plaintext`.
    #[arg(long, env = "GALSYNC_PLAINTEXT", global = true)]
    pub plaintext: bool,

    /// Output format: human tables, or JSON for scripts.
    #[arg(
        long,
        env = "GALSYNC_OUTPUT",
        value_enum,
        default_value_t = OutputFormat::Table,
        global = true
    )]
    pub output: OutputFormat,

    /// API key for the scheduler, sent as `authorization: Bearer …` (never printed).
    #[arg(long, env = "GALSYNC_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,

    /// With --api-key and no client certificate: the CA certificate that
    /// signed the scheduler's (default: ca.pem in --pki-dir). An integrator
    /// needs only this file and a key, no certificate of galsync's CA.
    #[arg(long, env = "GALSYNC_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
}

pub type BrokerClient = AuthBrokerClient<Channel>;
pub type SchedulerApi = SchedulerClient<InterceptedService<Channel, ApiKeyInterceptor>>;

/// Adds the API key (when set) to every scheduler call.
#[derive(Clone)]
pub struct ApiKeyInterceptor {
    authorization: Option<MetadataValue<Ascii>>,
}

impl tonic::service::Interceptor for ApiKeyInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl GlobalArgs {
    pub fn broker_target(&self) -> Target {
        Target {
            service: ServiceName::Broker,
            url: normalised_url(&self.broker_url, self.plaintext),
        }
    }

    pub fn scheduler_target(&self) -> Target {
        Target {
            service: ServiceName::Scheduler,
            url: normalised_url(&self.scheduler_url, self.plaintext),
        }
    }

    /// A client for the auth-broker. Connects lazily: an unreachable broker
    /// shows up as the first call's error.
    pub fn broker(&self) -> CliResult<(BrokerClient, Target)> {
        let target = self.broker_target();
        let tls = self.mutual_tls(&target)?;
        let channel = self.channel(&target, tls)?;
        Ok((AuthBrokerClient::new(channel), target))
    }

    /// A client for the scheduler, sending the API key when one is set. With
    /// a key and no client certificate in --pki-dir, over TLS that checks
    /// the scheduler against --ca-file and presents no certificate.
    pub fn scheduler(&self) -> CliResult<(SchedulerApi, Target)> {
        let target = self.scheduler_target();
        let api_key = self
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|key| !key.is_empty());
        let tls = match api_key {
            Some(_) if !self.plaintext && !self.has_client_certificate() => {
                Some(self.server_only_tls(&target)?)
            }
            _ => self.mutual_tls(&target)?,
        };
        let channel = self.channel(&target, tls)?;
        let authorization = match api_key {
            Some(key) => {
                let value = MetadataValue::try_from(format!("Bearer {key}")).map_err(|_| {
                    CliError::usage(
                        "invalid --api-key: it may only contain printable ASCII characters",
                    )
                })?;
                Some(value)
            }
            None => None,
        };
        let client =
            SchedulerClient::with_interceptor(channel, ApiKeyInterceptor { authorization });
        Ok((client, target))
    }

    fn channel(&self, target: &Target, tls: Option<ClientTlsConfig>) -> CliResult<Channel> {
        galsync_platform::tls::channel_with(&target.url, tls).map_err(|error| {
            let flag = match target.service {
                ServiceName::Broker => "--broker-url",
                ServiceName::Scheduler => "--scheduler-url",
            };
            CliError::usage(format!(
                "invalid {flag} `{}`: {error}; use e.g. https://127.0.0.1:50050",
                target.url
            ))
        })
    }

    /// mTLS with the `cli` certificate, unless --plaintext.
    fn mutual_tls(&self, target: &Target) -> CliResult<Option<ClientTlsConfig>> {
        if self.plaintext {
            return Ok(None);
        }
        let material = self.tls_material()?;
        Ok(Some(material.client_config(&server_name(&target.url))))
    }

    fn has_client_certificate(&self) -> bool {
        self.pki_dir.join("cli.pem").exists() && self.pki_dir.join("cli.key").exists()
    }

    /// TLS that trusts --ca-file (else ca.pem in --pki-dir) and presents no
    /// certificate: an API-key caller's.
    fn server_only_tls(&self, target: &Target) -> CliResult<ClientTlsConfig> {
        let (path, flag) = match &self.ca_file {
            Some(path) => (path.clone(), "--ca-file"),
            None => (self.pki_dir.join("ca.pem"), "--pki-dir"),
        };
        let ca_pem = std::fs::read(&path).map_err(|error| {
            CliError::usage(format!(
                "cannot read the CA certificate {} ({flag}): {error}; with --api-key and no client \
                 certificate, give the CA that signed the scheduler's certificate with --ca-file \
                 (ca.pem of the deployment's PKI)",
                path.display()
            ))
        })?;
        Ok(galsync_platform::tls::server_only_client_config(
            &ca_pem,
            &server_name(&target.url),
        ))
    }

    fn tls_material(&self) -> CliResult<TlsMaterial> {
        let dir = &self.pki_dir;
        if !self.has_client_certificate() {
            return Err(CliError::usage(format!(
                "no client certificate in {}: run `galsync pki init` or `galsync up` first \
                 (or point --pki-dir at the deployment's PKI; --plaintext for `galsync up --plaintext`)",
                dir.display()
            )));
        }
        TlsMaterial::from_pki_dir(dir, "cli").map_err(|error| {
            CliError::usage(format!(
                "cannot use the client certificate in {}: {error}",
                dir.display()
            ))
        })
    }
}

/// The scheme follows the transport: `http://` for --plaintext, `https://`
/// otherwise, so `--plaintext` alone is enough with the default URLs.
fn normalised_url(url: &str, plaintext: bool) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let without_scheme = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    let scheme = if plaintext { "http" } else { "https" };
    format!("{scheme}://{without_scheme}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_switches_the_scheme() {
        assert_eq!(
            normalised_url("https://127.0.0.1:50050", true),
            "http://127.0.0.1:50050"
        );
        assert_eq!(
            normalised_url("127.0.0.1:50051/", false),
            "https://127.0.0.1:50051"
        );
    }
}
