//! `test_app`: the tiny static application that the Docker tests (`tests/docker.rs`) and
//! `bench/docker.sh` run behind `ENTRYPOINT ["/credcheck", "--"]`, `FROM scratch`.
//!
//! It prints `app-started pid=<pid>` and `app-args: <args>` on stdout, then:
//! - with `--exit CODE`, exits with CODE at once;
//! - with `--env-clear` first, execs itself with an empty environment and the other
//!   arguments (what `env -i` does; a `FROM scratch` image has no `env`), as a worker that
//!   php-fpm's `clear_env` or cron starts (`credcheck processes`, issue 23);
//! - with `--exec-env PROGRAM [--argv0 NAME] [--cwd DIR] [--stdin FILE] [--arg WORD]… KEY=VALUE…`
//!   first, execs PROGRAM with exactly those variables (what `env -i KEY=VALUE… PROGRAM`
//!   does), `argv[0]` NAME, in DIR, with FILE open as its stdin and WORDs as its arguments:
//!   the hostile processes of `credcheck processes`'s sweep (issue 23);
//! - otherwise waits for SIGTERM, prints `app-got-sigterm` and exits with 42
//!   ([`EXIT_ON_SIGTERM`]): a code that only this handler produces, so a container that
//!   exits 42 after `docker stop` proves the signal reached the app itself.
//!
//! Why a handler at all: PID 1 of a PID namespace gets no default-action signals, so an app
//! that is PID 1 (credcheck exec'd it) and has no SIGTERM handler ignores `docker stop`
//! until the SIGKILL. Why raw `signal(2)`: the package enables no signal support (tokio's
//! `signal` feature is off; `cargo tree -e features -i tokio` shows only
//! `signal-hook-registry`, pulled in by `process`), and a test helper is no reason to change
//! `Cargo.toml`. std already links libc; the handler calls only async-signal-safe functions.

use std::io::Write;
use std::os::raw::c_int;

/// Exit code after SIGTERM.
const EXIT_ON_SIGTERM: c_int = 42;
const SIGTERM: c_int = 15;
/// `SIG_ERR`, the `(sighandler_t) -1` that `signal` returns on failure.
const SIG_ERR: usize = usize::MAX;

extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn write(fd: c_int, buf: *const u8, count: usize) -> isize;
    fn _exit(status: c_int) -> !;
}

extern "C" fn on_sigterm(_signum: c_int) {
    const LINE: &[u8] = b"app-got-sigterm\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; LINE is a valid static buffer.
    unsafe {
        write(1, LINE.as_ptr(), LINE.len());
        _exit(EXIT_ON_SIGTERM)
    }
}

fn main() {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if raw.first().is_some_and(|a| a == "--exec-env") && raw.len() > 1 {
        exec_env(&raw[1], &raw[2..]);
    }
    let args: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().map(String::as_str) == Some("--env-clear") {
        use std::os::unix::process::CommandExt;
        let me = std::env::current_exe().unwrap_or_else(|_| "/app/server".into());
        let err = std::process::Command::new(me)
            .args(&args[1..])
            .env_clear()
            .exec();
        eprintln!("test_app: cannot exec itself: {err}");
        std::process::exit(1);
    }
    let exit_now = exit_code_arg(&args);
    // Installed before the first line: whoever waits for that line may send SIGTERM at once.
    // SAFETY: the handler only calls async-signal-safe functions.
    if exit_now.is_none() && unsafe { signal(SIGTERM, on_sigterm) } == SIG_ERR {
        eprintln!("test_app: cannot install the SIGTERM handler");
        std::process::exit(1);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "app-started pid={}", std::process::id());
    let _ = writeln!(out, "app-args: {}", args.join(" "));
    let _ = out.flush();
    drop(out);
    if let Some(code) = exit_now {
        std::process::exit(code);
    }
    loop {
        std::thread::park();
    }
}

/// `--exec-env`: never returns. Values are taken as raw bytes (a hostile one may be invalid UTF-8).
fn exec_env(program: &std::ffi::OsStr, rest: &[std::ffi::OsString]) -> ! {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear();
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        let flag = word.as_bytes();
        if matches!(flag, b"--argv0" | b"--cwd" | b"--stdin" | b"--arg") {
            let value = words.next().cloned().unwrap_or_default();
            match flag {
                b"--argv0" => {
                    cmd.arg0(value);
                }
                b"--cwd" => {
                    cmd.current_dir(value);
                }
                b"--stdin" => match std::fs::File::open(&value) {
                    Ok(f) => {
                        cmd.stdin(f);
                    }
                    Err(e) => {
                        eprintln!("test_app: --stdin: {e}");
                        std::process::exit(1)
                    }
                },
                _ => {
                    cmd.arg(value);
                }
            }
            continue;
        }
        if let Some(eq) = flag.iter().position(|b| *b == b'=') {
            let key = std::ffi::OsStr::from_bytes(&flag[..eq]);
            let value = std::ffi::OsStr::from_bytes(&flag[eq + 1..]);
            cmd.env(key, value);
        }
    }
    let err = cmd.exec();
    eprintln!("test_app: cannot exec {}: {err}", program.to_string_lossy());
    std::process::exit(1)
}

/// The value of `--exit CODE`, if given.
fn exit_code_arg(args: &[String]) -> Option<c_int> {
    let at = args.iter().position(|a| a == "--exit")?;
    let code = args.get(at + 1).and_then(|c| c.parse().ok());
    Some(code.unwrap_or_else(|| {
        eprintln!("test_app: --exit needs a number");
        std::process::exit(2)
    }))
}
