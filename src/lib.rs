//! credcheck: which AWS credentials is this process really using, where did they come from,
//! do they work, and who am I? Without ever printing a secret.
//!
//! The flow: `cli` → `settings` → `run` (the `chain` walk, `sts`, `ecs_metadata`) →
//! `report` → `render` → exit code (or `health`'s verdict, or `wrap`'s exec).
#![forbid(unsafe_code)]

pub mod chain;
pub mod cli;
pub mod ecs_metadata;
pub mod env;
pub mod error;
pub mod health;
pub mod http;
pub mod jwt;
pub mod log;
pub mod notes;
pub mod render;
pub mod report;
pub mod run;
pub mod sdk;
pub mod secret;
pub mod settings;
pub mod sts;
pub mod tls;
pub mod warning;
pub mod wrap;

use clap::Parser;
use error::exit;
use settings::{Mode, Settings};
use std::io::Write;

/// The whole program; returns the exit code (wrapper mode does not return on success).
pub fn main_entry() -> i32 {
    log::init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let is_health = args.get(1).is_some_and(|a| a == "health");
    let settings = match parse(args) {
        Ok(settings) => settings,
        Err(code) => {
            return if is_health && code != exit::OK {
                health::UNHEALTHY
            } else {
                code
            }
        }
    };
    let env = env::Env::from_process();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credcheck: cannot start the async runtime: {e}");
            return exit::PROBLEM;
        }
    };
    let report = runtime.block_on(run::run(&settings, &env));
    finish(&settings, &report)
}

fn parse(args: Vec<std::ffi::OsString>) -> Result<Settings, i32> {
    let cli = cli::Cli::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            exit::CONFIG
        } else {
            exit::OK
        }
    })?;
    Settings::from_cli(cli).map_err(|e| {
        eprintln!(
            "credcheck: error: {} [{}]\n  hint: {}",
            e.message, e.code, e.hint
        );
        e.exit_code()
    })
}

fn finish(settings: &Settings, report: &report::Report) -> i32 {
    match &settings.mode {
        Mode::Report => {
            write_quietly(
                &mut std::io::stdout(),
                &render::render(report, settings.format),
            );
            report.exit_code
        }
        Mode::Health { min_ttl } => {
            let (line, code) = health::verdict(report, *min_ttl);
            let out = match settings.format {
                cli::Format::Text => format!("{line}\n"),
                cli::Format::Json => render::json::render(report),
            };
            write_quietly(&mut std::io::stdout(), &out);
            code
        }
        Mode::Wrap { cmd, require } => {
            write_quietly(
                &mut std::io::stderr(),
                &render::render(report, settings.format),
            );
            if *require && !report.ok {
                eprintln!("credcheck: not starting the command: the report is not ok (--require)");
                return report.exit_code;
            }
            let (code, line) = wrap::exec(cmd);
            eprintln!("{line}");
            code
        }
    }
}

/// A closed pipe (`credcheck | head -1`) ends the output quietly, as ripgrep does.
fn write_quietly(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
