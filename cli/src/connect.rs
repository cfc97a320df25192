//! The flags every command shares, and gRPC clients for the auth-broker and
//! the scheduler built from them (mTLS with the `cli` certificate by default).

use std::path::PathBuf;

use clap::Args;
use galsync_platform::TlsMaterial;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

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
        let channel = self.channel(&target)?;
        Ok((AuthBrokerClient::new(channel), target))
    }

    /// A client for the scheduler, sending the API key when one is set.
    pub fn scheduler(&self) -> CliResult<(SchedulerApi, Target)> {
        let target = self.scheduler_target();
        let channel = self.channel(&target)?;
        let authorization = match &self.api_key {
            Some(key) if !key.trim().is_empty() => {
                let value =
                    MetadataValue::try_from(format!("Bearer {}", key.trim())).map_err(|_| {
                        CliError::usage(
                            "invalid --api-key: it may only contain printable ASCII characters",
                        )
                    })?;
                Some(value)
            }
            _ => None,
        };
        let client =
            SchedulerClient::with_interceptor(channel, ApiKeyInterceptor { authorization });
        Ok((client, target))
    }

    fn channel(&self, target: &Target) -> CliResult<Channel> {
        let tls = if self.plaintext {
            None
        } else {
            Some(self.tls_material()?)
        };
        let server_name = tls_server_name(&target.url);
        galsync_platform::tls::channel(&target.url, tls.as_ref(), &server_name).map_err(|error| {
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

    fn tls_material(&self) -> CliResult<TlsMaterial> {
        let dir = &self.pki_dir;
        if !dir.join("cli.pem").exists() || !dir.join("cli.key").exists() {
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

/// The name the service certificate must carry: the URL's host when it is a
/// DNS name, else `localhost` (the internal PKI's certificates name it and the
/// loopback addresses).
fn tls_server_name(url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|parsed| parsed.host_str().map(str::to_owned))
        .unwrap_or_default();
    let is_ip = host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok();
    if host.is_empty() || is_ip {
        return "localhost".to_owned();
    }
    host
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

    #[test]
    fn server_name_is_the_dns_host_or_localhost() {
        assert_eq!(tls_server_name("https://127.0.0.1:50050"), "localhost");
        assert_eq!(
            tls_server_name("https://scheduler.galsync.svc:50050"),
            "scheduler.galsync.svc"
        );
    }
}
