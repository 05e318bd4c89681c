//! `credcheck processes` (issue 23), the domain part: every process of a PID namespace read
//! through `/proc` (`list`), the SDK each one carries (`detect`, against the cited minimum
//! versions of `minimums`), and the report's `processes` section as data ([`Processes`],
//! [`Row`]) with the flag codes. `run::processes` gathers it (one walk per distinct
//! environment, one STS call per distinct set of credentials); `run::process_flags` words
//! the flags. Nothing here prints.
//! Reads: `/proc/PID/*` (through `list` and `detect`); no env vars of credcheck's own.

pub mod detect;
pub mod list;
pub mod minimums;

use crate::warning::Warning;
use serde::Serialize;

pub const DIFFERS: &str = "environment-differs";
pub const STATIC_KEYS: &str = "static-temporary-keys";
pub const STATIC_KEYS_EXPIRED: &str = "static-temporary-keys-expired";
pub const SDK_REJECTS: &str = "sdk-rejects-endpoint";

/// Whether a flag is a problem (the run exits 1).
pub fn is_problem(w: &Warning) -> bool {
    w.code == SDK_REJECTS || w.code == STATIC_KEYS_EXPIRED
}

/// The `processes` section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Processes {
    /// The PID namespace listed (`pid:[…]`).
    pub namespace: String,
    /// The process the others are compared with: PID 1, or the app under an init.
    pub main_pid: Option<u32>,
    pub read: usize,
    /// Skipped: exited mid-read.
    pub exited: usize,
    /// Skipped: their environment could not be read (another user's, without root).
    pub unreadable: usize,
    pub kernel_threads: usize,
    /// Not read: past the cap of processes or the deadline.
    pub not_read: usize,
    /// Read, but SDK detection did not run: the deadline came first ("unknown").
    pub sdk_not_read: usize,
    /// Distinct chain inputs: one walk each.
    pub environments: usize,
    /// Distinct network fetches (container endpoint, IMDS) across every walk.
    pub network_fetches: usize,
    /// STS calls: one per distinct set of credentials.
    pub sts_calls: usize,
    pub rows: Vec<Row>,
}

/// One process.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub comm: String,
    pub command: String,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub age_secs: Option<u64>,
    /// Which distinct environment (walk) it belongs to, from 1.
    pub environment: usize,
    pub source: Option<&'static str>,
    pub location: Option<String>,
    pub role_arn: Option<String>,
    pub access_key_id: Option<String>,
    /// STS's caller ARN for its credentials.
    pub identity: Option<String>,
    /// Why it has no credentials, or why STS refused them (a code).
    pub error: Option<String>,
    pub sdk: Vec<SdkRow>,
    pub flags: Vec<Warning>,
}

/// An SDK found in the process, with the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct SdkRow {
    pub sdk: &'static str,
    pub version: String,
    pub exactness: &'static str,
    pub evidence: String,
}
