//! Wrapper mode: after the report, replace this process with the application (execvp), so the
//! app keeps the PID (PID 1 in a container), receives signals directly, and its exit code is
//! the container's. Argv and the environment pass through unchanged. Returns only on failure,
//! and then says which of the classic causes it is: not found on PATH, a script whose
//! interpreter is missing or has a CR from CRLF line endings, a binary whose dynamic loader is
//! missing (an image without its libraries), or a file that is not executable.
//! Reads: PATH (through execvp, and to explain a failure).

use crate::error::exit;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Enough of a file's head to read a shebang line or an ELF magic.
const HEAD: u64 = 256;

/// Execs `cmd`; on failure returns the exit code and the one line to print.
pub fn exec(cmd: &[OsString]) -> (i32, String) {
    let Some((program, args)) = cmd.split_first() else {
        return (exit::CONFIG, "credcheck: no command given after --".into());
    };
    let err = Command::new(program).args(args).exec();
    explain(program, &err)
}

fn explain(program: &OsStr, err: &io::Error) -> (i32, String) {
    let shown = crate::secret::printable(&program.to_string_lossy(), 200);
    if err.kind() != io::ErrorKind::NotFound {
        return (
            exit::CANNOT_EXECUTE,
            format!(
                "credcheck: {shown}: cannot execute: {} (check the file's mode and architecture)",
                crate::http::last_cause(err)
            ),
        );
    }
    let Some(path) = locate(program) else {
        return (
            exit::NOT_FOUND,
            format!("credcheck: {shown}: command not found (check the image's CMD and PATH)"),
        );
    };
    // The file exists, yet exec said "not found": what is missing is its interpreter.
    let line = match crate::file::read_head(&path, HEAD) {
        Ok(head) => why_interpreter(&head),
        Err(e) => format!("it exists but cannot be read ({e})"),
    };
    (
        exit::CANNOT_EXECUTE,
        format!("credcheck: {shown}: cannot execute: {line}"),
    )
}

/// The program's file: as given when it names a path, else the first match on PATH.
fn locate(program: &OsStr) -> Option<PathBuf> {
    let as_path = Path::new(program);
    if program.to_string_lossy().contains('/') {
        return as_path.exists().then(|| as_path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Why the kernel could not start a file that exists, from its first bytes.
fn why_interpreter(head: &[u8]) -> String {
    if head.starts_with(b"\x7fELF") {
        return "its dynamic loader (ELF interpreter) is missing: a dynamically linked binary in an image without its libraries; build it static or use a base image with its libc".into();
    }
    let Some(line) = head.strip_prefix(b"#!") else {
        return "it is neither a script with #! nor a binary for this system".into();
    };
    let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let interpreter = text.split_whitespace().next().unwrap_or("");
    if text.ends_with('\r') {
        let shown = crate::secret::printable(interpreter.trim_end_matches('\r'), 120);
        return format!("the script has CRLF line endings, so the kernel looks for the interpreter \"{shown}\\r\"; convert it to LF (dos2unix, or .gitattributes eol=lf)");
    }
    let shown = crate::secret::printable(interpreter, 120);
    format!("its interpreter {shown} (from the #! line) does not exist in this image; install it, or change the #! line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_a_crlf_shebang_and_a_missing_interpreter() {
        assert!(why_interpreter(b"#!/bin/sh\r\necho hi\r\n").contains("CRLF"));
        assert!(why_interpreter(b"#!/bin/bash -e\necho").contains("/bin/bash"));
        assert!(why_interpreter(b"\x7fELF\x02\x01").contains("dynamic loader"));
    }
}
