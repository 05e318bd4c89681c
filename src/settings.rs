//! Resolved settings as plain data: the mode, the output format, every bound and the probe's
//! validated request. `cli` builds them from the command line; nothing here knows clap.
//! Reads no env vars itself (clap already folded in CREDCHECK_*).

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

const REPORT_DEADLINE: Duration = Duration::from_secs(10);
const WRAP_DEADLINE: Duration = Duration::from_secs(3);
/// Fits inside ECS's default 5 s health-check timeout, with room for process start.
const HEALTH_DEADLINE: Duration = Duration::from_secs(4);
/// The SDKs' container provider connects within 2 s; a healthy local endpoint answers in ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the report is printed (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// The Fluent Bit CloudWatch Logs plugin a target stands for (`--plugin`, a config's `Name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Plugin {
    /// The C plugin (`cloudwatch_logs`), Fluent Bit's own.
    #[serde(rename = "cloudwatch_logs")]
    CloudwatchLogs,
    /// The Go plugin (`cloudwatch`) of aws-for-fluent-bit.
    #[serde(rename = "cloudwatch")]
    Cloudwatch,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::CloudwatchLogs => "cloudwatch_logs",
            Plugin::Cloudwatch => "cloudwatch",
        }
    }

    pub fn parse(name: &str) -> Option<Plugin> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cloudwatch_logs" => Some(Plugin::CloudwatchLogs),
            "cloudwatch" => Some(Plugin::Cloudwatch),
            _ => None,
        }
    }
}

/// The permission probe's request, validated (`probe::request` checks it; `probe` runs it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRequest {
    pub can: Vec<(String, String)>,
    pub logs_to: Vec<(String, String)>,
    pub logs_region: Option<String>,
    pub plugin: Option<Plugin>,
    pub auto_create_group: bool,
    pub configs: Vec<PathBuf>,
    pub firelens: bool,
    pub simulate: bool,
    /// `--fluent-bit-metrics`: a validated http(s) URL.
    pub metrics: Option<String>,
}

impl ProbeRequest {
    /// Whether any probe was asked for (they never run by default).
    pub fn is_active(&self) -> bool {
        !self.can.is_empty()
            || !self.logs_to.is_empty()
            || !self.configs.is_empty()
            || self.firelens
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Report,
    Wrap {
        cmd: Vec<OsString>,
        require: bool,
    },
    Health {
        min_ttl: Duration,
    },
    /// `credcheck processes`: every process of the namespace (`processes`).
    Processes,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub format: Format,
    pub timeout: Duration,
    pub deadline: Duration,
    /// Contact network sources below the winner.
    pub all: bool,
    pub sts: bool,
    pub expect_role: Option<String>,
    pub expect_account: Option<String>,
    /// `--pid`: whose environment and files the chain is evaluated with (`process`).
    pub pid: Option<u32>,
    /// Report mode in a container: compare with the app's environment (`process`).
    pub compare: bool,
    /// The permission probe (`--can`, `--logs-to`, …); inactive unless asked.
    pub probe: ProbeRequest,
    /// Health: how long a logs verdict is reused, and where it is kept (`health::cache`).
    pub probe_every: Duration,
    pub state_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// The deadline a mode has when `--deadline` is not given.
    pub fn default_deadline(mode: &Mode) -> Duration {
        match mode {
            Mode::Report | Mode::Processes => REPORT_DEADLINE,
            Mode::Wrap { .. } => WRAP_DEADLINE,
            Mode::Health { .. } => HEALTH_DEADLINE,
        }
    }

    /// Checks that need several settings at once; `cli` calls it after building them.
    pub fn ensure_valid(&self) -> Result<(), Error> {
        self.ensure_pid()?;
        if self.mode == Mode::Processes && self.probe.is_active() {
            return Err(Error::usage(
                "processes-with-probe",
                "credcheck processes walks every process's chain; it runs no permission probe (--can, --logs-to, --fluent-bit-config, --firelens, --simulate, --fluent-bit-metrics)",
                "run the probe on its own (credcheck --pid N --can …), or drop its flags",
            ));
        }
        if let Some(account) = &self.expect_account {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::usage(
                    "invalid-expect-account",
                    format!("--expect-account {account:?} is not a 12-digit AWS account ID"),
                    "pass the account ID as 12 digits, e.g. --expect-account 123456789012",
                ));
            }
        }
        Ok(())
    }

    fn ensure_pid(&self) -> Result<(), Error> {
        match (self.pid, &self.mode) {
            (Some(0), _) => Err(Error::usage(
                "invalid-pid",
                "--pid 0 names no process",
                "pass the app's PID, e.g. --pid 1 inside its container",
            )),
            (Some(_), Mode::Wrap { .. }) => Err(Error::usage(
                "pid-with-command",
                "--pid cannot be combined with a command to run (wrapper mode checks the command's own environment)",
                "drop --pid, or drop the command",
            )),
            _ => Ok(()),
        }
    }

    pub fn is_health(&self) -> bool {
        matches!(self.mode, Mode::Health { .. })
    }
}

/// A flag's value with the blanks trimmed; a blank one is no value.
pub fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}
