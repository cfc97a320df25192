//! Checks on flag values every binary shares, so a bad value stops the binary
//! before it serves, with exit code 2 and one line naming the flag and the fix:
//! clap value parsers (URLs, counts and durations that must not be zero), the
//! data directory check, and the one place that decides an error is a
//! configuration error.

use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::config_error::ConfigError;

/// Value parser for the URL of a galsync service or another HTTP endpoint:
/// absolute, `http://` or `https://`, with a host.
pub fn http_url(text: &str) -> Result<String, String> {
    let fix = "give an absolute http:// or https:// URL, e.g. https://host:50051";
    let parsed = match url::Url::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => return Err(format!("not a URL ({error}); {fix}")),
    };
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(format!(
            "the scheme must be http or https, not `{}`; {fix}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL has no host; {fix}"));
    }
    Ok(text.to_owned())
}

/// Value parser for a count or a number of seconds that must be at least 1.
pub fn at_least_one<T>(text: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + From<u8>,
    T::Err: Display,
{
    let value: T = text
        .trim()
        .parse()
        .map_err(|error: T::Err| format!("not a whole number ({error})"))?;
    if value < T::from(1) {
        return Err("must be at least 1".to_owned());
    }
    Ok(value)
}

/// Makes sure `dir` (the value of `flag`) is a directory galsync can write
/// in: creates it (mode 0700) when missing, then writes and removes a probe
/// file. Catches a path under a regular file or a read-only directory before
/// any store or key is made.
pub fn usable_data_dir(flag: &str, dir: &Path) -> Result<(), ConfigError> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(ConfigError::new(
            flag,
            format!("{shown} is not a directory; give a directory galsync may create files in"),
        ));
    }
    crate::private_files::create_private_dir(dir).map_err(|error| {
        ConfigError::new(
            flag,
            format!("cannot create {shown}: {error}; give a directory galsync may create files in"),
        )
    })?;
    let probe = dir.join(format!(".galsync-write-check-{}", std::process::id()));
    let written = std::fs::write(&probe, b"");
    let _ = std::fs::remove_file(&probe);
    written.map_err(|error| {
        ConfigError::new(
            flag,
            format!("cannot write in {shown}: {error}; give a directory galsync may write to"),
        )
    })
}

/// Whether `error` is bad configuration (exit code 2) rather than a failure
/// while running (exit code 1).
pub fn is_config_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<ConfigError>().is_some()
            || cause.downcast_ref::<clap::Error>().is_some()
            || matches!(
                cause.downcast_ref::<crate::store::StoreError>(),
                Some(crate::store::StoreError::Config(_))
            )
            || matches!(
                cause.downcast_ref::<crate::grpc::ServeError>(),
                Some(crate::grpc::ServeError::Config { .. })
            )
    })
}

/// Exits after a command line that clap refused. A bad flag value becomes one
/// line naming the flag, as other configuration errors do, with exit code 2;
/// `--help`, `--version` and other usage errors keep clap's own output.
pub fn exit_on_clap_error(error: clap::Error) -> ! {
    match one_line_value_error(&error) {
        Some(line) => {
            eprintln!("error: {line}");
            std::process::exit(2);
        }
        None => error.exit(),
    }
}

/// `invalid --FLAG: PROBLEM (got `VALUE`)` for a value clap refused.
fn one_line_value_error(error: &clap::Error) -> Option<String> {
    if !matches!(
        error.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let Some(ContextValue::String(argument)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    // clap names the argument as `--lease-secs <LEASE_SECS>`.
    let flag = argument.split_whitespace().next().unwrap_or(argument);
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.clone(),
        _ => String::new(),
    };
    let problem = match (
        error.kind(),
        std::error::Error::source(error),
        error.get(ContextKind::ValidValue),
    ) {
        (ErrorKind::ValueValidation, Some(source), _) => source.to_string(),
        (ErrorKind::InvalidValue, _, Some(ContextValue::Strings(valid))) => {
            format!("use one of {}", valid.join(", "))
        }
        _ => return None,
    };
    Some(format!("invalid {flag}: {problem} (got `{value}`)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, env = "GALSYNC_TEST_FLAGS_URL_UNSET", value_parser = http_url)]
        url: Option<String>,
        #[arg(long, env = "GALSYNC_TEST_FLAGS_SECS_UNSET", default_value_t = 5, value_parser = at_least_one::<u32>)]
        secs: u32,
    }

    fn refusal(args: &[&str]) -> String {
        let mut all = vec!["svc"];
        all.extend_from_slice(args);
        let error = Flags::try_parse_from(all).unwrap_err();
        one_line_value_error(&error).unwrap_or_else(|| panic!("not a value error: {error}"))
    }

    #[test]
    fn a_zero_count_is_refused_naming_the_flag_and_the_value() {
        assert_eq!(
            refusal(&["--secs", "0"]),
            "invalid --secs: must be at least 1 (got `0`)"
        );
        assert!(refusal(&["--secs", "soon"]).starts_with("invalid --secs: not a whole number"));
    }

    #[test]
    fn only_absolute_http_urls_with_a_host_pass() {
        for good in [
            "http://127.0.0.1:50050",
            "https://scheduler.internal:50050/",
        ] {
            assert_eq!(http_url(good).as_deref(), Ok(good));
        }
        for bad in ["notaurl", "not a url", "ftp://host/x", "127.0.0.1:50050"] {
            assert!(http_url(bad).is_err(), "{bad} passed");
        }
        let line = refusal(&["--url", "notaurl"]);
        assert!(line.starts_with("invalid --url: not a URL"), "{line}");
        assert!(line.ends_with("(got `notaurl`)"), "{line}");
    }

    #[test]
    fn a_path_under_a_regular_file_is_not_a_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let error = usable_data_dir("data-dir", &file.join("sub")).unwrap_err();
        assert_eq!(error.flag, "data-dir");
        let error = usable_data_dir("data-dir", &file).unwrap_err();
        assert!(error.problem.contains("not a directory"), "{error}");
        assert!(usable_data_dir("data-dir", &dir.path().join("new")).is_ok());
    }
}
