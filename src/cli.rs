//! The command line, as clap sees it: raw arguments only, no defaults that depend on the mode
//! (those are resolved in `settings`).
//! Reads (through clap's `env`): CREDCHECK_FORMAT, CREDCHECK_TIMEOUT, CREDCHECK_DEADLINE,
//! CREDCHECK_ALL, CREDCHECK_NO_STS, CREDCHECK_REQUIRE, CREDCHECK_EXPECT_ROLE,
//! CREDCHECK_EXPECT_ACCOUNT, CREDCHECK_MIN_TTL, CREDCHECK_STS. Boolean variables read like
//! the SDKs' (`1`, `true`, `yes`, `on` are true; `0`, `false`, `no`, `off` and empty are false).

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::time::Duration;

/// Which AWS credentials is this process really using, where did they come from, do they
/// work, and who am I? Never prints a secret.
#[derive(Debug, Parser)]
#[command(
    name = "credcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 ok, 1 problem found, 2 usage or configuration error, 3 endpoint unreachable or timed out.\n\
                  Wrapper mode: credcheck [FLAGS] -- CMD [ARGS...] logs the report to stderr, then execs CMD (127: not found, 126: cannot execute)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: Common,

    /// Also contact network sources below the winner (container endpoint, IMDS).
    #[arg(long, env = "CREDCHECK_ALL", value_parser = FalseyValueParser::new())]
    pub all: bool,

    /// Do not call STS GetCallerIdentity.
    #[arg(long, env = "CREDCHECK_NO_STS", value_parser = FalseyValueParser::new())]
    pub no_sts: bool,

    /// Wrapper mode: do not start CMD unless the report is ok (fail closed).
    #[arg(long, env = "CREDCHECK_REQUIRE", value_parser = FalseyValueParser::new())]
    pub require: bool,

    /// Wrapper mode: the command to exec after the report, e.g. `credcheck -- /app/server`.
    #[arg(last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Health check: exits 0 (healthy) or 1 (unhealthy) and prints one line.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub common: Common,

    /// Unhealthy when the credentials expire within this long.
    #[arg(long, env = "CREDCHECK_MIN_TTL", value_parser = parse_duration, default_value = "5m")]
    pub min_ttl: Duration,

    /// Also confirm the credentials with STS GetCallerIdentity.
    #[arg(long, env = "CREDCHECK_STS", value_parser = FalseyValueParser::new())]
    pub sts: bool,
}

/// Flags shared by the report, the wrapper and the health check.
#[derive(Debug, Args)]
pub struct Common {
    /// Output format.
    #[arg(long, env = "CREDCHECK_FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Timeout for each network request, e.g. 500ms, 2s.
    #[arg(long, env = "CREDCHECK_TIMEOUT", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Upper bound for the whole run, e.g. 3s (default: 10s report, 3s wrapper, 4s health).
    #[arg(long, env = "CREDCHECK_DEADLINE", value_parser = parse_duration)]
    pub deadline: Option<Duration>,

    /// Fail unless the role is this name or ARN.
    #[arg(long, env = "CREDCHECK_EXPECT_ROLE", value_name = "NAME|ARN")]
    pub expect_role: Option<String>,

    /// Fail unless the account is this 12-digit ID.
    #[arg(long, env = "CREDCHECK_EXPECT_ACCOUNT", value_name = "ID")]
    pub expect_account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `500ms`, `3s`, `5m`: humantime's syntax, and never zero.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write durations like 500ms, 3s or 5m"))?;
    if d.is_zero() {
        return Err("must be greater than zero; write durations like 500ms, 3s or 5m".into());
    }
    Ok(d)
}
