//! Typed errors: every problem credcheck reports has a kind, a stable code, one line saying
//! what is wrong and one line saying what to do. The kind alone decides the exit code.
//! Reads no env vars.

use serde::Serialize;
use std::fmt;

/// Documented exit codes (docs/usage.md, "Exit codes").
pub mod exit {
    pub const OK: i32 = 0;
    pub const PROBLEM: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const UNREACHABLE: i32 = 3;
    /// Report mode: nothing was found wrong, but something asked for could not be proven
    /// either way (a log destination's delivery is `unverified`). Health says unhealthy.
    pub const UNVERIFIED: i32 = 4;
    /// Wrapper mode: the command exists but cannot be executed.
    pub const CANNOT_EXECUTE: i32 = 126;
    /// Wrapper mode: the command was not found.
    pub const NOT_FOUND: i32 = 127;
}

/// What class of failure this is; each maps to exactly one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Bad command line or bad `CREDCHECK_*` value.
    Usage,
    /// The environment or files configure credentials wrongly.
    Config,
    /// An endpoint could not be reached, timed out, or failed transiently (5xx, throttling).
    Unreachable,
    /// A real problem: no credentials, rejected, expired, malformed answers, mismatches.
    Problem,
    /// Something asked for could not be proven either way (log delivery `unverified`); the
    /// least severe kind: any other error decides the exit code first.
    Unverified,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Usage | Kind::Config => exit::CONFIG,
            Kind::Unreachable => exit::UNREACHABLE,
            Kind::Problem => exit::PROBLEM,
            Kind::Unverified => exit::UNVERIFIED,
        }
    }
}

/// One reported problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub hint: String,
}

impl Error {
    pub fn new(
        kind: Kind,
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error {
            kind,
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn usage(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Kind::Usage, code, message, hint)
    }

    pub fn config(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Kind::Config, code, message, hint)
    }

    pub fn unreachable(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Kind::Unreachable, code, message, hint)
    }

    pub fn unverified(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Kind::Unverified, code, message, hint)
    }

    pub fn problem(
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Kind::Problem, code, message, hint)
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for Error {}

/// An error and its sources as one line, each cause once (aws-config nests the same message).
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}
