//! Configuration shared by every service: flags with `GALSYNC_…` environment
//! variables, an optional TOML file, and validation errors that name the flag.
//!
//! Precedence, highest first: command line, environment, config file, default.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};

pub use crate::config_error::ConfigError;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags every gRPC service has.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "GALSYNC_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// PEM certificate this service presents (mTLS); needs --tls-key and --tls-ca.
    #[arg(long, env = "GALSYNC_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "GALSYNC_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate that signs every galsync service certificate.
    #[arg(long, env = "GALSYNC_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// Allow serving without TLS on a non-loopback address (demo networks only).
    #[arg(long, env = "GALSYNC_INSECURE_PLAINTEXT", default_value_t = false)]
    pub insecure_plaintext: bool,

    /// Address for Prometheus metrics (`/metrics`); off when absent.
    #[arg(long, env = "GALSYNC_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Seconds a unary call may take before it is answered DEADLINE_EXCEEDED.
    #[arg(long, env = "GALSYNC_REQUEST_TIMEOUT_SECS", default_value_t = 300)]
    pub request_timeout_secs: u64,

    /// Calls served at once per connection; more wait.
    #[arg(long, env = "GALSYNC_MAX_CONCURRENT_CALLS", default_value_t = 256)]
    pub max_concurrent_calls: usize,

    /// Seconds in-flight calls get to finish after SIGTERM.
    #[arg(long, env = "GALSYNC_SHUTDOWN_GRACE_SECS", default_value_t = 4)]
    pub shutdown_grace_secs: u64,

    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Logging and tracing flags.
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format.
    #[arg(long, env = "GALSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `galsync=debug,info`.
    #[arg(long, env = "GALSYNC_LOG", default_value = "info")]
    pub log: String,

    /// OTLP/gRPC endpoint for traces, e.g. http://127.0.0.1:4317; off when absent.
    #[arg(long, env = "GALSYNC_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl ServerArgs {
    /// The service's own TLS material when `--tls-cert`, `--tls-key` and
    /// `--tls-ca` are given (it serves and calls its peers with it); `None`
    /// for plaintext. Errors name the flag of the file that failed.
    pub fn tls_material(&self) -> Result<Option<crate::tls::TlsMaterial>, ConfigError> {
        match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (Some(cert), Some(key), Some(ca)) => {
                crate::tls::TlsMaterial::load(cert, key, ca).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The defaults every flag has (plus whatever `GALSYNC_…` variables set).
    pub fn defaults() -> Self {
        #[derive(Parser)]
        struct DefaultsOnly {
            #[command(flatten)]
            server: ServerArgs,
        }
        DefaultsOnly::parse_from(["galsync"]).server
    }

    /// The address to bind: `--listen` or the service's default.
    pub fn listen_or(&self, default: SocketAddr) -> SocketAddr {
        self.listen.unwrap_or(default)
    }

    /// Checks TLS flags come together, exist, and that plaintext stays on loopback.
    pub fn validate(&self, listen: SocketAddr) -> Result<(), ConfigError> {
        let given = [
            ("tls-cert", &self.tls_cert),
            ("tls-key", &self.tls_key),
            ("tls-ca", &self.tls_ca),
        ];
        let present = given.iter().filter(|(_, path)| path.is_some()).count();
        if present != 0 && present != given.len() {
            let (missing_flag, _) = given
                .iter()
                .find(|(_, path)| path.is_none())
                .expect("some flag is missing");
            return Err(ConfigError::new(
                *missing_flag,
                "--tls-cert, --tls-key and --tls-ca go together; give all three (galsync pki init makes them)",
            ));
        }
        for (flag, path) in given {
            if let Some(path) = path {
                readable_file(flag, path)?;
            }
        }
        // Reads and checks the PEM contents, naming the flag of a damaged file.
        self.tls_material()?;
        if present == 0 && !listen.ip().is_loopback() && !self.insecure_plaintext {
            return Err(ConfigError::new(
                "listen",
                format!(
                    "{listen} is not a loopback address and no TLS material is configured; \
                     give --tls-cert/--tls-key/--tls-ca, or --insecure-plaintext for a demo network"
                ),
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::new(
                "request-timeout-secs",
                "must be at least 1",
            ));
        }
        if self.max_concurrent_calls == 0 {
            return Err(ConfigError::new(
                "max-concurrent-calls",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Whether mTLS material is configured.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// A peer service's URL: `explicit` (its flag) when given, else the
    /// peer's default `port` on loopback — https when this service has TLS
    /// material, http otherwise — as on a single host after `galsync up`.
    pub fn peer_url_or_loopback(&self, explicit: Option<&str>, port: u16) -> String {
        match explicit {
            Some(url) => url.to_owned(),
            None if self.tls_enabled() => format!("https://127.0.0.1:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        }
    }
}

/// Fails with a message naming `flag` unless `path` is a readable file.
pub fn readable_file(flag: &str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(error) => Err(ConfigError::new(
            flag,
            format!("cannot read {}: {error}", path.display()),
        )),
    }
}

/// Parses `T` from the process's arguments and environment, with defaults from
/// the TOML file named by `--config` (or `GALSYNC_CONFIG`).
pub fn parse<T: Parser>() -> Result<T, clap::Error> {
    parse_from(std::env::args_os())
}

/// As [`parse`], from the given arguments (the first is the program name).
pub fn parse_from<T, I>(args: I) -> Result<T, clap::Error>
where
    T: Parser,
    I: IntoIterator<Item = OsString>,
{
    let args: Vec<OsString> = args.into_iter().collect();
    let mut command = T::command().args_override_self(true).arg(
        clap::Arg::new("config")
            .long("config")
            .env("GALSYNC_CONFIG")
            .value_name("FILE")
            .help("TOML file with defaults for any flag (keys are flag names)"),
    );
    let mut effective_args = args.clone();
    if let Some(config_path) = config_path_from(&args) {
        // A raw error: one line (no usage text after it), exit code 2, as
        // every other configuration error (docs/configuration.md#errors).
        let injected = file_args(&command, &config_path).map_err(|message| {
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{message}\n"))
        })?;
        // File values go before the command line so the command line wins.
        let program = args.first().cloned().unwrap_or_default();
        effective_args = std::iter::once(program)
            .chain(injected)
            .chain(args.into_iter().skip(1))
            .collect();
    }
    let matches = command.try_get_matches_from_mut(effective_args)?;
    T::from_arg_matches(&matches)
}

fn config_path_from(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os("GALSYNC_CONFIG").map(PathBuf::from)
}

/// Turns a flat TOML table into `--flag=value` arguments, skipping flags whose
/// environment variable is set (the environment outranks the file).
fn file_args(command: &clap::Command, path: &Path) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("invalid --config: cannot read {}: {error}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        format!(
            "invalid --config: {} is not valid TOML: {}",
            path.display(),
            toml_error_on_one_line(&text, &error)
        )
    })?;
    let mut injected = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        let Some(arg) = command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(flag.as_str()))
        else {
            return Err(format!(
                "invalid --config: {} has unknown key `{key}`; keys are flag names such as `store-url`",
                path.display()
            ));
        };
        if let Some(env_name) = arg.get_env() {
            if std::env::var_os(env_name).is_some() {
                continue;
            }
        }
        let values = match value {
            toml::Value::Array(items) => items,
            other => vec![other],
        };
        for item in values {
            match item {
                toml::Value::Boolean(true) => injected.push(format!("--{flag}").into()),
                toml::Value::Boolean(false) => {}
                toml::Value::String(text) => injected.push(format!("--{flag}={text}").into()),
                toml::Value::Integer(number) => injected.push(format!("--{flag}={number}").into()),
                toml::Value::Float(number) => injected.push(format!("--{flag}={number}").into()),
                other => {
                    return Err(format!(
                        "invalid --config: key `{key}` in {} has an unsupported value {other}",
                        path.display()
                    ))
                }
            }
        }
    }
    Ok(injected)
}

/// `line L, column C: MESSAGE` without the multi-line source excerpt
/// `toml` shows by default.
fn toml_error_on_one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    let Some(span) = error.span() else {
        return message;
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    format!("line {line}, column {column}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct TestConfig {
        #[arg(
            long,
            env = "GALSYNC_TEST_STORE_URL_UNSET",
            default_value = "sqlite://x.db"
        )]
        store_url: String,
        #[arg(long, env = "GALSYNC_TEST_WORKERS_UNSET", default_value_t = 1)]
        workers: u32,
        #[arg(long, env = "GALSYNC_TEST_VERBOSE_UNSET", default_value_t = false)]
        verbose: bool,
    }

    fn args(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_supplies_defaults_and_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("galsync.toml");
        std::fs::write(
            &path,
            "store-url = \"postgres://db/x\"\nworkers = 4\nverbose = true\n",
        )
        .unwrap();
        let path_text = path.to_str().unwrap();

        let from_file: TestConfig = parse_from(args(&["svc", "--config", path_text])).unwrap();
        assert_eq!(from_file.store_url, "postgres://db/x");
        assert_eq!(from_file.workers, 4);
        assert!(from_file.verbose);

        let overridden: TestConfig =
            parse_from(args(&["svc", "--config", path_text, "--workers", "9"])).unwrap();
        assert_eq!(overridden.workers, 9);
    }

    #[test]
    fn unknown_file_key_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("galsync.toml");
        std::fs::write(&path, "stor-url = \"x\"\n").unwrap();
        let error = parse_from::<TestConfig, _>(args(&["svc", "--config", path.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown key `stor-url`"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused_on_one_line_naming_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("galsync.toml");
        std::fs::write(&path, "workers = 4\nstore-url = \n").unwrap();
        let error = parse_from::<TestConfig, _>(args(&["svc", "--config", path.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert_eq!(error.trim_end().lines().count(), 1, "{error}");
        assert!(error.starts_with("error: invalid --config: "), "{error}");
        assert!(
            error.contains("is not valid TOML: line 2, column 13: "),
            "{error}"
        );
    }

    #[test]
    fn partial_tls_flags_name_the_missing_one() {
        let server = ServerArgs::try_parse_from_for_test(&["--tls-cert", "/etc/hosts"]);
        let error = server.validate("127.0.0.1:1".parse().unwrap()).unwrap_err();
        assert_eq!(error.flag, "tls-key");
    }

    #[test]
    fn plaintext_off_loopback_is_refused() {
        let server = ServerArgs::try_parse_from_for_test(&[]);
        let error = server
            .validate("0.0.0.0:50050".parse().unwrap())
            .unwrap_err();
        assert_eq!(error.flag, "listen");
        assert!(error.to_string().contains("--insecure-plaintext"));
    }

    impl ServerArgs {
        fn try_parse_from_for_test(extra: &[&str]) -> ServerArgs {
            #[derive(Parser)]
            struct Wrapper {
                #[command(flatten)]
                server: ServerArgs,
            }
            let mut all = vec!["svc"];
            all.extend_from_slice(extra);
            Wrapper::try_parse_from(all).unwrap().server
        }
    }
}
