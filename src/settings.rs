//! Resolved settings: the mode and every bound, derived from the parsed CLI without I/O.
//! Reads no env vars itself (clap already folded in CREDCHECK_*).

use crate::cli::{Cli, Command, Format};
use crate::error::Error;
use std::ffi::OsString;
use std::time::Duration;

const REPORT_DEADLINE: Duration = Duration::from_secs(10);
const WRAP_DEADLINE: Duration = Duration::from_secs(3);
/// Fits inside ECS's default 5 s health-check timeout, with room for process start.
const HEALTH_DEADLINE: Duration = Duration::from_secs(4);
/// The SDKs' container provider connects within 2 s; a healthy local endpoint answers in ms.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

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
    pub probe: crate::probe::Request,
    /// Health: how long a logs verdict is reused, and where it is kept (`verdict_cache`).
    pub probe_every: Duration,
    pub state_dir: Option<std::path::PathBuf>,
}

impl Settings {
    pub fn from_cli(cli: Cli) -> Result<Settings, Error> {
        let mut cache = (crate::verdict_cache::DEFAULT_EVERY, None);
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
        let deadline = common.deadline.unwrap_or(match mode {
            Mode::Report | Mode::Processes => REPORT_DEADLINE,
            Mode::Wrap { .. } => WRAP_DEADLINE,
            Mode::Health { .. } => HEALTH_DEADLINE,
        });
        let settings = Settings {
            timeout: common.timeout.unwrap_or(DEFAULT_TIMEOUT).min(deadline),
            deadline,
            format: common.format,
            all: cli.all,
            sts,
            expect_role: non_blank(common.expect_role),
            expect_account: non_blank(common.expect_account),
            pid: common.pid,
            compare: !cli.no_compare,
            probe: crate::probe::Request::from_args(common.probe)?,
            probe_every: cache.0,
            state_dir: cache.1,
            mode,
        };
        settings.ensure_valid()?;
        Ok(settings)
    }

    fn ensure_valid(&self) -> Result<(), Error> {
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

fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}
