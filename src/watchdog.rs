//! The process ends at `--deadline` plus a small grace, whatever is stuck: a thread that the
//! runtime cannot interrupt (a `getaddrinfo` that gets no answer, a read on a hung mount, a
//! synchronous call inside the SDK) cannot keep credcheck alive. Like curl's `--max-time`, it
//! bounds the whole process, not just the async tasks. When it fires first, it prints the
//! deadline report (through the one writer, claimed once) and exits; in wrapper mode it
//! still starts the application (unless `--require`). Reads no env vars.

use crate::env::Env;
use crate::http::Budget;
use crate::output;
use crate::settings::Settings;
use std::time::{Duration, Instant};

/// After the deadline: the run's own timeout fires at +100 ms; this is the backstop, inside
/// the promised +250 ms.
const GRACE: Duration = Duration::from_millis(200);
/// How long to let the main thread finish a report it already started writing (to a reader
/// that keeps reading, a report of any size takes milliseconds).
const WRITING_GRACE: Duration = Duration::from_secs(2);

/// Starts the watchdog thread; it does nothing if the run ends first (`main` exits).
pub fn start(settings: &Settings, env: &Env, started: Instant) {
    let (settings, env) = (settings.clone(), env.clone());
    let fire_at = started + settings.deadline + GRACE;
    let _ = std::thread::Builder::new()
        .name("credcheck-watchdog".into())
        .spawn(move || fire(&settings, &env, started, fire_at));
}

fn fire(settings: &Settings, env: &Env, started: Instant, at: Instant) {
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
    if output::take_over() == output::TakeOver::Wait {
        // Whole, or not at all: the main thread's report is on its way out.
        let code = output::wait_finished(WRITING_GRACE);
        std::process::exit(code.unwrap_or(crate::error::exit::PROBLEM));
    }
    let budget = Budget::since(started, settings.deadline, settings.timeout);
    let error = crate::run::deadline_error(settings.deadline);
    let report = crate::run::failed(settings, env, error, budget);
    let code = crate::finish::finish(settings, &report);
    std::process::exit(code);
}
