//! The command line, as clap sees it: raw arguments only, no defaults that depend on the mode
//! (those are resolved in `settings`).
//! Reads (through clap's `env`): CREDCHECK_FORMAT, CREDCHECK_TIMEOUT, CREDCHECK_DEADLINE,
//! CREDCHECK_ALL, CREDCHECK_NO_STS, CREDCHECK_REQUIRE, CREDCHECK_EXPECT_ROLE,
//! CREDCHECK_EXPECT_ACCOUNT, CREDCHECK_MIN_TTL, CREDCHECK_STS, CREDCHECK_PID, CREDCHECK_NO_COMPARE. Boolean variables read like
//! the SDKs' (`1`, `true`, `yes`, `on` are true; `0`, `false`, `no`, `off` and empty are false).

use crate::error::Error;
use crate::probe::request as checked;
use crate::settings::{self, Mode, ProbeRequest, Settings};
use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Which AWS credentials is this process really using, where did they come from, do they
/// work, and who am I? Never prints a secret.
#[derive(Debug, Parser)]
#[command(
    name = "credcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 ok, 1 problem found (log delivery blocked), 2 usage or configuration error, 3 endpoint unreachable or timed out, 4 log delivery unverified (nothing found wrong, nothing proven). health: 0 or 1.\n\
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

    /// Report mode: do not compare this environment with the app's (PID 1, or its child under
    /// an init) when credcheck runs in a container's PID namespace.
    #[arg(long, env = "CREDCHECK_NO_COMPARE", value_parser = FalseyValueParser::new())]
    pub no_compare: bool,

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
    /// Every process in this PID namespace (or --pid's): its credential source, identity and
    /// SDK, with flags (environment-differs, static-temporary-keys, sdk-rejects-endpoint).
    Processes(ProcessesArgs),
}

#[derive(Debug, Args)]
pub struct ProcessesArgs {
    #[command(flatten)]
    pub common: Common,

    /// Do not call STS GetCallerIdentity (otherwise once per distinct set of credentials).
    #[arg(long, env = "CREDCHECK_NO_STS", value_parser = FalseyValueParser::new())]
    pub no_sts: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub common: Common,

    /// Unhealthy when the credentials expire within this long.
    #[arg(long, env = "CREDCHECK_MIN_TTL", value_parser = parse_ttl, default_value = "5m")]
    pub min_ttl: Duration,

    /// Also confirm the credentials with STS GetCallerIdentity.
    #[arg(long, env = "CREDCHECK_STS", value_parser = FalseyValueParser::new())]
    pub sts: bool,

    /// --logs-to: reuse the logs verdict this long (plus up to 20 % jitter); 0s refreshes it
    /// on every run with one PutLogEvents.
    #[arg(long, value_name = "DURATION", value_parser = crate::health::cache::parse_every, default_value = "10m")]
    pub probe_every: Duration,

    /// Where the logs verdict is kept (default: $XDG_RUNTIME_DIR/credcheck, else /tmp/credcheck-<uid>).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
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

    /// Evaluate the chain as process PID would: its environment (/proc/PID/environ) and its
    /// files (through /proc/PID/root). An init at PID (docker-init, tini) means its child.
    #[arg(long, env = "CREDCHECK_PID", value_name = "PID")]
    pub pid: Option<u32>,

    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The probe's command-line flags (flattened into the report, wrapper and health flags).
#[derive(Debug, Clone, Default, Args)]
pub struct ProbeArgs {
    /// Check that the credentials may do ACTION on RESOURCE (repeatable), e.g.
    /// logs:PutLogEvents=arn:aws:logs:REGION:ACCOUNT:log-group:G:log-stream:S
    #[arg(long, value_name = "ACTION=RESOURCE")]
    pub can: Vec<String>,

    /// Check that logs can be delivered to this CloudWatch Logs group and stream (repeatable).
    #[arg(long, value_name = "GROUP[:STREAM]")]
    pub logs_to: Vec<String>,

    /// The region of --logs-to (default: the configured region).
    #[arg(long, value_name = "REGION")]
    pub logs_region: Option<String>,

    /// The Fluent Bit plugin --logs-to stands for: cloudwatch_logs (C) or cloudwatch (Go).
    #[arg(long, value_name = "PLUGIN", default_value = "cloudwatch_logs")]
    pub plugin: String,

    /// --logs-to: the plugin creates the group when it is missing (auto_create_group true).
    #[arg(long)]
    pub auto_create_group: bool,

    /// Check every CloudWatch output of this Fluent Bit config, classic or YAML (with its includes).
    #[arg(long, value_name = "PATH")]
    pub fluent_bit_config: Vec<PathBuf>,

    /// Check the awsfirelens log options of the task's containers (ECS task metadata v4).
    #[arg(long)]
    pub firelens: bool,

    /// Ask IAM's policy simulator first (exact verdicts); fall back to the probes if refused.
    #[arg(long)]
    pub simulate: bool,

    /// Read the log router's own counters here (Fluent Bit's /api/v1/metrics), e.g.
    /// http://127.0.0.1:2020/api/v1/metrics; a config's HTTP_Server settings name it otherwise.
    #[arg(long, value_name = "URL")]
    pub fluent_bit_metrics: Option<String>,
}

/// `--format`, as clap parses it; `settings::Format` is what the rest of credcheck reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl From<Format> for settings::Format {
    fn from(f: Format) -> settings::Format {
        match f {
            Format::Text => settings::Format::Text,
            Format::Json => settings::Format::Json,
        }
    }
}

/// The settings this command line asks for: the mode's defaults filled in, every value
/// checked (a bad one is a usage error, exit 2).
pub fn settings(cli: Cli) -> Result<Settings, Error> {
    let mut cache = (crate::health::cache::DEFAULT_EVERY, None);
    let (mode, common, sts) = match cli.command {
        Some(Command::Health(h)) => {
            cache = (h.probe_every, h.state_dir);
            (Mode::Health { min_ttl: h.min_ttl }, h.common, h.sts)
        }
        Some(Command::Processes(p)) => (Mode::Processes, p.common, !p.no_sts),
        None if !cli.cmd.is_empty() => (
            Mode::Wrap {
                cmd: cli.cmd,
                require: cli.require,
            },
            cli.common,
            !cli.no_sts,
        ),
        None => (Mode::Report, cli.common, !cli.no_sts),
    };
    let deadline = common
        .deadline
        .unwrap_or_else(|| Settings::default_deadline(&mode));
    let settings = Settings {
        timeout: common
            .timeout
            .unwrap_or(settings::DEFAULT_TIMEOUT)
            .min(deadline),
        deadline,
        format: common.format.into(),
        all: cli.all,
        sts,
        expect_role: settings::non_blank(common.expect_role),
        expect_account: settings::non_blank(common.expect_account),
        pid: common.pid,
        compare: !cli.no_compare,
        probe: probe_request(common.probe)?,
        probe_every: cache.0,
        state_dir: cache.1,
        mode,
    };
    settings.ensure_valid()?;
    Ok(settings)
}

/// The probe's flags, each checked by `probe::request`.
fn probe_request(a: ProbeArgs) -> Result<ProbeRequest, Error> {
    let plugin = checked::parse_plugin(&a.plugin)?;
    let can = a.can.iter().map(|c| checked::parse_can(c));
    let logs_to = a.logs_to.iter().map(|l| checked::parse_logs_to(l));
    let metrics = a.fluent_bit_metrics.as_deref();
    checked::validate(ProbeRequest {
        can: can.collect::<Result<_, _>>()?,
        logs_to: logs_to.collect::<Result<_, _>>()?,
        logs_region: a.logs_region,
        plugin: Some(plugin),
        auto_create_group: a.auto_create_group,
        configs: a.fluent_bit_config,
        firelens: a.firelens,
        simulate: a.simulate,
        metrics: metrics.map(checked::parse_metrics).transpose()?,
    })
}

/// `500ms`, `3s`, `5m`: never zero, at most a day (a wait; see `duration::MAX_WAIT`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    crate::duration::parse(raw, crate::duration::MAX_WAIT)
}

/// A credential lifetime: never zero, at most ten years.
pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    crate::duration::parse(raw, crate::duration::MAX_TTL)
}

/// Options that take a value: the word after one is its value, never a subcommand.
const VALUE_FLAGS: [&str; 14] = [
    "--probe-every",
    "--state-dir",
    "--can",
    "--logs-to",
    "--logs-region",
    "--plugin",
    "--fluent-bit-config",
    "--format",
    "--timeout",
    "--deadline",
    "--expect-role",
    "--expect-account",
    "--min-ttl",
    "--pid",
];

/// The command line, before clap: `health` or `processes` moved first wherever it stands (so
/// global flags may come before it, and any command line with `health` exits 0 or 1), and a
/// `--` with nothing after it noticed (a usage error, not a report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv {
    pub args: Vec<OsString>,
    pub is_health: bool,
    pub empty_command: bool,
}

pub fn normalize(mut args: Vec<OsString>) -> Argv {
    let dashdash = args.iter().skip(1).position(|a| a == "--").map(|i| i + 1);
    let end = dashdash.unwrap_or(args.len());
    // `health` wins wherever it stands, so any command line with it exits 0 or 1.
    let words = &args[..end.min(args.len())];
    let found = subcommand_position(words, "health").or(subcommand_position(words, "processes"));
    let is_health = found.is_some_and(|at| args[at] == "health");
    if let Some(at) = found {
        let word = args.remove(at);
        args.insert(1, word);
    }
    Argv {
        empty_command: dashdash.is_some_and(|d| d + 1 == args.len()) && found.is_none(),
        is_health,
        args,
    }
}

fn subcommand_position(args: &[OsString], subcommand: &str) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let word = args[i].to_string_lossy();
        if VALUE_FLAGS.contains(&word.as_ref()) {
            i += 2;
            continue;
        }
        if word == subcommand {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Argv {
        normalize(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn health_moves_first_wherever_it_stands() {
        let a = argv(&["credcheck", "--format", "json", "health", "--sts"]);
        assert!(a.is_health);
        assert_eq!(a.args, ["credcheck", "health", "--format", "json", "--sts"]);
        let b = argv(&["credcheck", "--expect-role", "health"]);
        assert!(!b.is_health);
        let c = argv(&["credcheck", "--", "health"]);
        assert!(!c.is_health && !c.empty_command);
        let d = argv(&["credcheck", "--format", "json", "processes"]);
        assert!(!d.is_health);
        assert_eq!(d.args, ["credcheck", "processes", "--format", "json"]);
        let e = argv(&["credcheck", "processes", "health"]);
        assert!(e.is_health, "health wins wherever it stands");
    }

    #[test]
    fn a_bare_double_dash_is_noticed() {
        assert!(argv(&["credcheck", "--"]).empty_command);
        assert!(argv(&["credcheck", "--format", "json", "--"]).empty_command);
        assert!(!argv(&["credcheck", "--", "/app"]).empty_command);
    }
}
