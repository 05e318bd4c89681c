//! `credcheck processes` gathered (issue 23): every process of a PID namespace (credcheck's,
//! or the one `--pid` names), as whom it reaches AWS, and whether its SDK accepts that
//! endpoint.
//!
//! Owns: grouping processes by their chain inputs (the mount namespace and the chain's
//! variables), one walk per distinct environment (as `--pid` walks it, with the network
//! sources asked once per run: `chain::shared`), one STS call per distinct set of
//! credentials, and the per-process rows the renderers show. The flags are
//! `process_flags`'s, SDK detection is `processes::detect`'s, the cited minimum versions
//! `processes::minimums`'s, reading `/proc` is `processes::list`'s. Nothing here prints.
//! Reads: `/proc/self/ns/pid`, `/proc/PID/ns/pid`; `/proc/PID/root/etc/passwd` for user
//! names; no env vars of credcheck's own (AWS_EC2_METADATA_DISABLED through `process`).

use super::process_flags as flags;
use crate::chain::{self, Creds};
use crate::env::Env;
use crate::error::Error;
use crate::http::Budget;
use crate::process::{self, Subject};
use crate::processes::{detect, list, Processes, Row, SdkRow};
use crate::report::Report;
use crate::settings::Settings;
use crate::sts::Identity;
use std::collections::HashMap;
use std::time::{Instant, SystemTime};

/// One distinct environment's walk, and the identity of its credentials.
struct Walked {
    report: Report,
    creds: Option<Creds>,
    identity: Option<Result<Identity, Error>>,
}

/// Lists, walks and flags; returns the main process's report with `processes` attached.
pub async fn run(settings: &Settings, own: &Env, budget: Budget) -> Result<Report, Error> {
    chain::shared::enable();
    let started = Instant::now();
    let (ns, main) = namespace(settings)?;
    // Reading /proc gets 60 % of the time left, SDK detection stops at 85 %: the walks, STS
    // and the output get the rest, so no count of processes can take the run past its deadline.
    let left = budget.remaining();
    let listing =
        list::list(ns.clone(), started + left.mul_f32(0.6)).map_err(|e| listing_error(&e))?;
    let detect_until = started + left.mul_f32(0.85);
    let (keys, envs) = group(&listing.procs);
    let mut walked = Vec::with_capacity(envs.len());
    for (env, subject) in &envs {
        let late = Instant::now() >= detect_until;
        walked.push(walk(settings, own, env, subject, budget, late).await);
    }
    let sts_calls = identities(settings, &envs, &mut walked, budget).await;
    let main_env = main
        .as_ref()
        .and_then(|m| listing.procs.iter().find(|p| p.pid == m.pid))
        .map(|p| p.env.clone());
    let mut detector = detect::Detector::new();
    let mut users = Users::default();
    let ctx = flags::Ctx {
        main: main.as_ref().zip(main_env.as_ref()),
        container_key: container_key(&walked),
        now: SystemTime::now(),
    };
    let mut sdk_not_read = 0;
    let rows = listing
        .procs
        .iter()
        .zip(&keys)
        .map(|(p, k)| {
            let found = match Instant::now() < detect_until {
                true => detector.detect(&view(p)),
                false => {
                    sdk_not_read += 1;
                    Vec::new()
                }
            };
            row(p, *k, &walked[*k], &ctx, &found, &mut users)
        })
        .collect();
    let section = Processes {
        namespace: ns,
        main_pid: main.as_ref().map(|m| m.pid),
        read: listing.procs.len(),
        exited: listing.exited,
        unreadable: listing.unreadable,
        kernel_threads: listing.kernel_threads,
        not_read: listing.not_read,
        sdk_not_read,
        environments: envs.len(),
        network_fetches: chain::shared::fetches(),
        sts_calls,
        rows,
    };
    let main_walk = main
        .as_ref()
        .and_then(|m| listing.procs.iter().position(|p| p.pid == m.pid))
        .map(|i| keys[i]);
    let mut report = match main_walk {
        Some(k) => walked.swap_remove(k).report,
        None => super::walk_only(settings, own, budget).await.0,
    };
    report.process = main;
    report.attach_processes(section);
    Ok(report)
}

/// The namespace to list, and its main process (`--pid`'s, else PID 1's inside a container).
fn namespace(settings: &Settings) -> Result<(String, Option<Subject>), Error> {
    let (ns_of, main) = match settings.pid {
        Some(pid) => {
            let (subject, _) = process::open(pid)?;
            (format!("/proc/{pid}/ns/pid"), Some(subject))
        }
        None => {
            let main = process::is_in_container()
                .then(|| process::open(1).ok().map(|(s, _)| s))
                .flatten();
            ("/proc/self/ns/pid".to_string(), main)
        }
    };
    let ns = std::fs::read_link(&ns_of)
        .map(|l| l.to_string_lossy().into_owned())
        .map_err(|e| {
            Error::config(
                "processes-unreadable",
                format!("{ns_of} cannot be read: {e}"),
                "run credcheck where /proc is mounted, as root or as the processes' user",
            )
        })?;
    Ok((ns, main))
}

fn listing_error(e: &crate::file::FileError) -> Error {
    Error::unreachable(
        "processes-listing-timed-out",
        format!("reading /proc did not finish before the deadline: {e}"),
        "a process's /proc files hang (a stuck mount?); raise --deadline or pass --pid",
    )
}

/// Each process's environment index, and the distinct environments (with the first process
/// that has each, whose root the walk reads files through).
fn group(procs: &[list::Proc]) -> (Vec<usize>, Vec<(Env, Subject)>) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut envs = Vec::new();
    let keys = procs
        .iter()
        .map(|p| {
            let key = chain_inputs(p);
            *index.entry(key).or_insert_with(|| {
                envs.push((p.env.clone(), subject(p)));
                envs.len() - 1
            })
        })
        .collect();
    (keys, envs)
}

/// What the walk depends on: the files it sees and the chain's variables (in memory only).
fn chain_inputs(p: &list::Proc) -> String {
    let mut key = p.mount_ns.clone();
    for (name, value) in p.env.vars() {
        key.push('\0');
        key.push_str(name);
        key.push('=');
        key.push_str(value);
    }
    key
}

fn subject(p: &list::Proc) -> Subject {
    Subject {
        pid: p.pid,
        comm: p.comm.clone(),
        uid: p.uid,
        init: None,
    }
}

/// One walk, as `--pid` walks it; credcheck's own AWS_EC2_METADATA_DISABLED=true holds.
async fn walk(
    settings: &Settings,
    own: &Env,
    env: &Env,
    subject: &Subject,
    budget: Budget,
    late: bool,
) -> Walked {
    chain::env_vars::register_secrets(env);
    let (env, _) = process::keep_imds_off(own, env, subject);
    if late || budget.is_spent() {
        let error = super::deadline_error(settings.deadline);
        let report = super::failed(settings, &env, error, budget);
        return Walked {
            report,
            creds: None,
            identity: None,
        };
    }
    let (report, creds) = super::walk_only(settings, &env, budget).await;
    Walked {
        report,
        creds,
        identity: None,
    }
}

/// STS once per distinct set of credentials (unless `--no-sts`); returns the calls made.
async fn identities(
    settings: &Settings,
    envs: &[(Env, Subject)],
    walked: &mut [Walked],
    budget: Budget,
) -> usize {
    if !settings.sts {
        return 0;
    }
    let mut asked: Vec<(Creds, Result<Identity, Error>)> = Vec::new();
    for (i, w) in walked.iter_mut().enumerate() {
        let Some(creds) = &w.creds else { continue };
        if let Some((_, answer)) = asked.iter().find(|(c, _)| same_creds(c, creds)) {
            w.identity = Some(answer.clone());
            continue;
        }
        if budget.is_spent() {
            break;
        }
        let answer = super::identity(settings, &envs[i].0, creds, &budget).await;
        asked.push((creds.clone(), answer.clone()));
        w.identity = Some(answer);
    }
    asked.len()
}

fn same_creds(a: &Creds, b: &Creds) -> bool {
    a.access_key_id.expose() == b.access_key_id.expose()
        && a.secret_access_key == b.secret_access_key
        && a.session_token == b.session_token
}

/// The key ID the container endpoint serves now (the first walk that won with it).
fn container_key(walked: &[Walked]) -> Option<String> {
    walked
        .iter()
        .find(|w| w.report.source == Some(chain::SourceType::ContainerRole))
        .and_then(|w| w.creds.as_ref())
        .map(|c| c.access_key_id.expose().to_string())
}

fn view(p: &list::Proc) -> detect::View<'_> {
    detect::View {
        proc_dir: &p.dir,
        argv: &p.argv,
        env: &p.env,
    }
}

fn row(
    p: &list::Proc,
    environment: usize,
    w: &Walked,
    ctx: &flags::Ctx<'_>,
    found: &[detect::Found],
    users: &mut Users,
) -> Row {
    let facts = flags::Facts {
        proc: p,
        report: &w.report,
        identity: w.identity.as_ref(),
        found,
    };
    let r = &w.report;
    Row {
        pid: p.pid,
        ppid: p.ppid,
        comm: p.comm.clone(),
        command: p.command.clone(),
        uid: p.uid,
        user: p.uid.and_then(|u| users.name(p, u)),
        age_secs: p
            .started
            .and_then(|s| ctx.now.duration_since(s).ok())
            .map(|d| d.as_secs()),
        environment: environment + 1,
        source: r.source.map(|s| s.name()),
        location: r.location.clone(),
        role_arn: r.role_arn.clone(),
        access_key_id: r.access_key_id.clone(),
        identity: match &w.identity {
            Some(Ok(i)) => Some(i.arn.clone()),
            _ => None,
        },
        error: match &w.identity {
            Some(Err(e)) => Some(e.code.to_string()),
            _ => r.errors.first().map(|e| e.code.to_string()),
        },
        sdk: found
            .iter()
            .map(|f| SdkRow {
                sdk: f.sdk.name(),
                version: crate::secret::printable(&f.version, 40),
                exactness: f.exactness.name(),
                evidence: crate::secret::sanitize_foreign(&f.evidence, 200),
            })
            .collect(),
        flags: flags::flags(&facts, ctx),
    }
}

/// User names from each mount namespace's `/etc/passwd` (read once per namespace, capped).
/// A list, not a map: a container has a handful of namespaces and users.
#[derive(Default)]
struct Users {
    by_ns: Vec<(String, Vec<(u32, String)>)>,
}

impl Users {
    const CAP: u64 = 1024 * 1024;

    fn name(&mut self, p: &list::Proc, uid: u32) -> Option<String> {
        let at = match self.by_ns.iter().position(|(ns, _)| *ns == p.mount_ns) {
            Some(at) => at,
            None => {
                let path = p.env.host_path(std::path::Path::new("/etc/passwd"));
                let text = crate::file::read(&path, Self::CAP).unwrap_or_default();
                let names = parse_passwd(&String::from_utf8_lossy(&text));
                self.by_ns.push((p.mount_ns.clone(), names));
                self.by_ns.len() - 1
            }
        };
        let names = &self.by_ns[at].1;
        names
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, n)| n.clone())
    }
}

fn parse_passwd(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, crate::secret::printable(name, 32)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_names_by_uid() {
        let names = parse_passwd("root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nbad line\n");
        assert_eq!(
            names,
            [(0, "root".to_string()), (33, "www-data".to_string())]
        );
    }
}
