//! Wrapper mode: after the report, replace this process with the application (execvp), so the
//! app keeps the PID (PID 1 in a container), receives signals directly, and its exit code is
//! the container's. Argv and the environment pass through unchanged. Returns only on failure.
//! Reads: PATH (through execvp).

use crate::error::exit;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Execs `cmd`; on failure returns the exit code and the one line to print.
pub fn exec(cmd: &[OsString]) -> (i32, String) {
    let Some((program, args)) = cmd.split_first() else {
        return (exit::CONFIG, "credcheck: no command given after --".into());
    };
    let err = Command::new(program).args(args).exec();
    let shown = program.to_string_lossy();
    match err.kind() {
        io::ErrorKind::NotFound => (exit::NOT_FOUND, format!("credcheck: {shown}: command not found (check the image's CMD and PATH)")),
        _ => (exit::CANNOT_EXECUTE, format!("credcheck: {shown}: cannot execute: {err} (check the file's mode and architecture)")),
    }
}
