use super::*;

const EVERY: Duration = Duration::from_secs(600);

fn key() -> Key {
    Key {
        role: "arn:aws:iam::123456789012:role/firelens".into(),
        region: "ap-northeast-1".into(),
        group: "/ecs/logs/sample-test".into(),
        stream: "webapp".into(),
        plugin: "cloudwatch_logs".into(),
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn ok() -> Verdict {
    Verdict {
        healthy: true,
        line: "logs ok".into(),
    }
}

fn seen(s: &str) -> Answer {
    Answer::Seen(s.into())
}

#[test]
fn jitter_is_pinned_by_key_and_time_and_below_a_fifth() {
    let k = key();
    assert_eq!(jitter(&k, at(0), EVERY), jitter(&k, at(0), EVERY));
    let draws: Vec<Duration> = (0..1000).map(|i| jitter(&k, at(i), EVERY)).collect();
    assert!(draws.iter().all(|j| *j < EVERY / 5));
    let spread = draws.iter().max().unwrap().as_secs() - draws.iter().min().unwrap().as_secs();
    assert!(spread > 100, "jitter spreads a fleet: {spread}s");
    assert_eq!(jitter(&k, at(0), Duration::ZERO), Duration::ZERO);
}

#[test]
fn steady_state_reuses_then_refreshes_with_one_call() {
    let k = key();
    assert_eq!(next_step(None, at(0)), Step::Probe);
    let e = after_probe(&k, None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    assert_eq!(next_step(Some(&e), at(30)), Step::Reuse);
    assert_eq!(next_step(Some(&e), at(599)), Step::Reuse);
    let due = Duration::from_millis(e.due_at_ms - millis(at(0)));
    assert!(due >= EVERY && due < EVERY * 6 / 5);
    assert_eq!(next_step(Some(&e), at(0) + due), Step::Refresh);
    let AfterRefresh::Keep(kept) = after_refresh(&e, &seen("ok too-old"), at(720), EVERY) else {
        panic!("same answer keeps the verdict");
    };
    assert_eq!(kept.verdict, ok());
    assert_eq!(kept.probed_at_ms, e.probed_at_ms);
    assert!(kept.due_at_ms >= millis(at(720)) + 600_000);
}

#[test]
fn a_changed_answer_probes_again() {
    let e = after_probe(&key(), None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    let r = after_refresh(&e, &seen("denied implicit"), at(700), EVERY);
    assert_eq!(r, AfterRefresh::Probe);
}

#[test]
fn throttling_keeps_the_last_verdict_and_waits_a_whole_interval() {
    let e = after_probe(&key(), None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    let AfterRefresh::Keep(kept) = after_refresh(&e, &Answer::Throttled, at(700), EVERY) else {
        panic!("throttling is never a reason to probe more");
    };
    assert!(kept.throttled && kept.verdict.healthy);
    assert_eq!(next_step(Some(&kept), at(730)), Step::Reuse);
    assert!(age_note(&kept, at(730)).contains(THROTTLED));
    // A throttled full probe keeps the verdict before it, and probes fully next time.
    let bad = Verdict {
        healthy: false,
        line: "x".into(),
    };
    let t = after_probe(
        &key(),
        Some(&e),
        bad,
        Some(&Answer::Throttled),
        at(800),
        EVERY,
    );
    assert!(t.verdict.healthy && t.fingerprint.is_none());
    assert_eq!(next_step(Some(&t), at(830)), Step::Reuse);
    assert_eq!(next_step(Some(&t), at(800 + 720)), Step::Probe);
}

#[test]
fn every_zero_refreshes_on_each_run() {
    let e = after_probe(
        &key(),
        None,
        ok(),
        Some(&seen("ok too-old")),
        at(0),
        Duration::ZERO,
    );
    assert_eq!(next_step(Some(&e), at(0)), Step::Refresh);
    assert_eq!(parse_every("0s"), Ok(Duration::ZERO));
    assert!(parse_every("8days").is_err() && parse_every("ten").is_err());
}

#[test]
fn state_round_trips_and_refuses_what_it_cannot_trust() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("credcheck");
    let uid = euid().unwrap();
    let k = key();
    let open = || StateDir::open(&state, uid).unwrap();
    assert_eq!(open().load(&k, at(0), EVERY), Loaded::Missing);
    let e = after_probe(&k, None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    open().save(&e).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    let file = state.join(k.file_name());
    assert_eq!(mode(&file), 0o600);
    assert_eq!(open().load(&k, at(30), EVERY), Loaded::Found(e.clone()));
    let why = |l: Loaded| match l {
        Loaded::Distrusted(d) => d.to_string(),
        other => panic!("trusted: {other:?}"),
    };
    let other_user = StateDir::open(&state, uid + 1).unwrap_err();
    assert!(
        other_user.to_string().contains("belongs to uid"),
        "{other_user}"
    );
    std::fs::write(&file, b"{not json").unwrap();
    assert!(why(open().load(&k, at(30), EVERY)).contains("corrupt"));
    std::fs::write(&file, vec![b' '; 9000]).unwrap();
    assert!(why(open().load(&k, at(30), EVERY)).contains("more than"));
    open().save(&e).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(why(open().load(&k, at(30), EVERY)).contains("mode 0644"));
    let mut forged = e.clone();
    forged.due_at_ms += 365 * 24 * 3600 * 1000;
    std::fs::remove_file(&file).unwrap();
    open().save(&forged).unwrap();
    assert!(why(open().load(&k, at(30), EVERY)).contains("impossible times"));
    let mut other = k.clone();
    other.stream = "other".into();
    assert_eq!(open().load(&other, at(30), EVERY), Loaded::Missing);
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &file).unwrap();
    assert!(why(open().load(&k, at(30), EVERY)).contains("symbolic link"));
}

#[test]
fn a_directory_swapped_for_a_link_after_opening_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (state, moved, victim) = (
        dir.path().join("credcheck"),
        dir.path().join("moved"),
        dir.path().join("victim"),
    );
    std::fs::create_dir(&victim).unwrap();
    let uid = euid().unwrap();
    let opened = StateDir::open(&state, uid).unwrap();
    // The swap between the check and the write (the network call sits there).
    std::fs::rename(&state, &moved).unwrap();
    std::os::unix::fs::symlink(&victim, &state).unwrap();
    let e = after_probe(&key(), None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    opened.save(&e).unwrap();
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    assert!(moved.join(key().file_name()).is_file());
    // Opened again, the link is refused.
    let why = StateDir::open(&state, uid).unwrap_err().to_string();
    assert!(why.contains("symbolic link"), "{why}");
}

#[test]
fn names_holding_a_registered_secret_are_stored_as_they_would_be_printed() {
    let secret = "Zq7Stat3FileSecretXv9Lm2Np4";
    crate::secret::register_secret(secret);
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(&dir.path().join("s"), euid().unwrap()).unwrap();
    let mut k = key();
    k.group = format!("/ecs/{secret}");
    k.stream = "AKIAIOSFODNN7EXAMPLE".into();
    let e = after_probe(&k, None, ok(), Some(&seen("ok too-old")), at(0), EVERY);
    state.save(&e).unwrap();
    let text = std::fs::read_to_string(state.path().join(k.file_name())).unwrap();
    for window in secret.as_bytes().windows(8) {
        let window = std::str::from_utf8(window).unwrap();
        assert!(!text.contains(window), "{window} in {text}");
    }
    assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
    assert_eq!(state.load(&k, at(30), EVERY), Loaded::Found(e));
}

#[test]
fn the_default_dir_follows_xdg_runtime_dir() {
    let env = Env::from_pairs([("XDG_RUNTIME_DIR", "/run/user/1000")], at(0));
    assert_eq!(
        state_dir(None, &env, Some(1000)),
        Path::new("/run/user/1000/credcheck")
    );
    let env = Env::from_pairs([], at(0));
    assert_eq!(
        state_dir(None, &env, Some(1000)),
        Path::new("/tmp/credcheck-1000")
    );
    assert_eq!(
        state_dir(Some(Path::new("/s")), &env, Some(0)),
        Path::new("/s")
    );
}
