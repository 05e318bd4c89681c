//! credcheck: which AWS credentials is this process really using, where did they come from,
//! do they work, and who am I? Without ever printing a secret.
//!
//! The flow: `cli` → `settings` → `run` (the `chain` walk, `sts`, `ecs_metadata`) →
//! `report` → `finish` (`render`, or `health`'s verdict, or `wrap`'s exec) → exit code.
//! The layers, and the test that keeps imports running down them: docs/architecture.md.
//! Reads: the process's environment, once (`env::Env::from_process`); every module below
//! reads its variables through that `Env`.
#![forbid(unsafe_code)]

pub mod chain;
pub mod cli;
pub mod creds;
pub mod duration;
pub mod ecs_metadata;
pub mod env;
pub mod error;
pub mod file;
pub mod finish;
pub mod health;
pub mod http;
pub mod jwt;
pub mod log;
pub mod notes;
pub mod output;
pub mod probe;
pub mod process;
pub mod processes;
pub mod region;
pub mod render;
pub mod report;
pub mod run;
pub mod sdk;
pub mod secret;
pub mod settings;
pub mod sts;
pub mod tls;
pub mod warning;
pub mod watchdog;
pub mod wrap;

use clap::Parser;
use error::exit;
use output::Stream;
use settings::Settings;
use std::time::Instant;

/// The whole program; returns the exit code (wrapper mode does not return on success).
pub fn main_entry() -> i32 {
    log::init();
    let started = Instant::now();
    let env = env::Env::from_process();
    // Before anything can echo a value (clap's errors, usage errors): register the secrets.
    chain::env_vars::register_secrets(&env);
    let args = cli::normalize(std::env::args_os().collect());
    let settings = match parse(&args) {
        Ok(settings) => settings,
        Err(code) if args.is_health && code != exit::OK => return health::UNHEALTHY,
        Err(code) => return code,
    };
    file::set_deadline(started + settings.deadline);
    watchdog::start(&settings, &env, started);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::line(
                Stream::Stderr,
                &format!("credcheck: cannot start the async runtime: {e}"),
            );
            return exit::PROBLEM;
        }
    };
    let report = runtime.block_on(run::run(&settings, &env, &health::logs::Check));
    let code = finish::finish(&settings, &report);
    // Never wait for a blocking thread (a resolver that gets no answer, a stuck read).
    runtime.shutdown_background();
    code
}

fn parse(args: &cli::Argv) -> Result<Settings, i32> {
    if args.empty_command {
        let e = error::Error::usage(
            "no-command",
            "credcheck -- needs a command after the --",
            "write the application's command after it, e.g. credcheck -- /app/server --port 8080",
        );
        usage_error(&e);
        return Err(e.exit_code());
    }
    let cli = cli::Cli::try_parse_from(&args.args).map_err(|e| {
        let stream = if e.use_stderr() {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        output::block(stream, &e.render().to_string());
        if e.use_stderr() {
            exit::CONFIG
        } else {
            exit::OK
        }
    })?;
    cli::settings(cli).map_err(|e| {
        usage_error(&e);
        e.exit_code()
    })
}

fn usage_error(e: &error::Error) {
    output::lines(
        Stream::Stderr,
        &[
            format!("credcheck: error: {} [{}]", e.message, e.code),
            format!("  hint: {}", e.hint),
        ],
    );
}
