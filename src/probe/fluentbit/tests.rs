use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied(), std::time::SystemTime::now())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

const SEED: &str = "[SERVICE]\n    Flush 1\n    Grace 30\n    Log_Level info\n\n[OUTPUT]\n    Name   cloudwatch_logs\n    Match  *\n    region ap-northeast-1\n    log_group_name /ecs/logs/sample-test\n    log_stream_name webapp\n    auto_create_group true\n";

#[test]
fn the_seed_config_gives_one_target() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "fluent-bit.conf",
        "[INPUT]\n  Name forward\n@INCLUDE extra.conf\n",
    );
    write(dir.path(), "extra.conf", SEED);
    let env = env(&[]);
    let found = targets(&outputs(&env, &main).unwrap(), None);
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.targets.len(), 1);
    let t = &found.targets[0];
    assert_eq!(
        (t.group.as_str(), t.stream.as_str()),
        ("/ecs/logs/sample-test", "webapp")
    );
    assert_eq!(
        (t.region.as_str(), t.plugin),
        ("ap-northeast-1", Plugin::CloudwatchLogs)
    );
    assert!(t.auto_create_group);
    assert!(t.from.ends_with("extra.conf:6"), "{}", t.from);
}

#[test]
fn set_env_and_globs_expand() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.conf",
        "@SET grp=/app/logs\n@INCLUDE conf.d/*.conf\n",
    );
    write(dir.path(), "conf.d/a.conf", "[OUTPUT]\n Name cloudwatch\n region ${REGION}\n log_group_name ${grp}\n log_stream_name s1\n");
    write(dir.path(), "conf.d/b.txt", "[OUTPUT]\n Name cloudwatch\n");
    let env = env(&[("REGION", "eu-west-1")]);
    let targets = targets(&outputs(&env, &main).unwrap(), None).targets;
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].group, "/app/logs");
    assert_eq!(targets[0].region, "eu-west-1");
}

#[test]
fn unjudgeable_outputs_are_findings_never_silence() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "f.conf", "[OUTPUT]\n Name cloudwatch\n region us-east-1\n log_group_name fluent-bit-cloudwatch\n log_stream_prefix from-fluent-bit-\n auto_create_group true\n[OUTPUT]\n Name cloudwatch_logs\n region ${AWS_REGION}\n log_group_name g\n log_stream_name s\n[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name g\n log_stream_name s\n role_arn arn:aws:iam::1:role/w\n[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name fluent-bit-cloudwatch\n log_stream_name s\n endpoint https://localhost\n port 4443\n");
    let found = targets(&outputs(&env(&[]), &main).unwrap(), None);
    let codes: Vec<_> = found
        .errors
        .iter()
        .map(|e| (e.code, e.exit_code()))
        .collect();
    assert_eq!(
        codes,
        [("logs-output-unresolved", 4); 2],
        "{:?}",
        found.errors
    );
    assert!(found.errors[0].message.contains("task metadata"));
    assert!(found.errors[1].message.contains("${AWS_REGION}"));
    assert_eq!(found.outputs, 4);
    assert_eq!(found.targets.len(), 2);
    let role = found.targets[0].role.as_ref().unwrap();
    assert_eq!(
        (role.arn.as_str(), role.account()),
        ("arn:aws:iam::1:role/w", None)
    );
    assert_eq!(
        found.targets[1].endpoint.as_deref(),
        Some("https://localhost:4443")
    );
    assert_eq!(found.warnings[0].code, "logs-image-default");
}

#[test]
fn a_prefix_resolves_with_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "f.conf", "[OUTPUT]\n Name cloudwatch_logs\n Match *\n region us-east-1\n log_group_name /ecs/app\n log_stream_prefix fb-\n");
    let task = Task {
        task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
        cluster: "c".into(),
        firelens_containers: vec!["app".into(), "worker".into()],
    };
    let found = targets(&outputs(&env(&[]), &main).unwrap(), Some(&task));
    let streams: Vec<_> = found.targets.iter().map(|t| t.stream.as_str()).collect();
    assert_eq!(streams, ["fb-app-firelens-abc", "fb-worker-firelens-abc"]);
}

#[test]
fn a_glob_beyond_the_limit_is_an_error_not_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "main.conf", "@INCLUDE conf.d/*.conf\n");
    for i in 0..=MAX_DIR_ENTRIES {
        write(dir.path(), &format!("conf.d/{i:05}.txt"), "");
    }
    let e = outputs(&env(&[]), &main).unwrap_err();
    assert!(
        e.message.contains("more than 4096 entries"),
        "{}",
        e.message
    );
}

#[test]
fn include_loops_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.conf", "@INCLUDE a.conf\n");
    let e = outputs(&env(&[]), &a).unwrap_err();
    assert_eq!(e.code, "fluent-bit-config");
    let y = write(dir.path(), "f.yaml", "pipeline:\n  outputs: []\n");
    assert_eq!(outputs(&env(&[]), &y).unwrap(), vec![]);
    let missing = outputs(&env(&[]), &dir.path().join("none.conf")).unwrap_err();
    assert!(
        missing
            .message
            .to_ascii_lowercase()
            .contains("no such file"),
        "{}",
        missing.message
    );
}

#[test]
fn yaml_env_includes_and_outputs_become_sections() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "out.yaml",
        "pipeline:\n  outputs:\n    - name: cloudwatch_logs\n      region: ${REGION}\n      log_group_name: ${GROUP}\n",
    );
    let main = write(
        dir.path(),
        "fluent-bit.yaml",
        "env:\n  GROUP: /ecs/logs/sample-test\nincludes:\n  - out.yaml\n",
    );
    let found = outputs(&env(&[("REGION", "ap-northeast-1")]), &main).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].keys["region"], "ap-northeast-1");
    assert_eq!(found[0].keys["log_group_name"], "/ecs/logs/sample-test");
    assert!(found[0].at.ends_with("out.yaml:3"), "{}", found[0].at);
    let bad = write(
        dir.path(),
        "bad.yaml",
        "pipeline:\n  outputs:\n    - name: &x cloudwatch\n",
    );
    let e = outputs(&env(&[]), &bad).unwrap_err();
    assert!(e.message.contains("line 3: an anchor"), "{}", e.message);
}

#[test]
fn set_chains_that_double_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("@SET v0=xxxxxxxx\n");
    for i in 1..29 {
        text.push_str(&format!("@SET v{i}=${{v{}}}${{v{}}}\n", i - 1, i - 1));
    }
    text.push_str("[OUTPUT]\n Name cloudwatch_logs\n log_group_name ${v28}\n");
    let main = write(dir.path(), "chain.conf", &text);
    let e = outputs(&env(&[]), &main).unwrap_err();
    assert_eq!(e.code, "fluent-bit-config");
    assert!(e.message.contains("chain.conf:17"), "{}", e.message);
    // Ten doublings (8 KiB) are an ordinary config.
    let ok: String = text.lines().take(11).map(|l| format!("{l}\n")).collect();
    let main = write(
        dir.path(),
        "ok.conf",
        &format!("{ok}[OUTPUT]\n Name x\n k ${{v10}}\n"),
    );
    assert_eq!(
        outputs(&env(&[]), &main).unwrap()[0].keys["k"].len(),
        8 << 10
    );
}

#[test]
fn globs_match_file_names() {
    assert!(glob_match("*.conf", "a.conf"));
    assert!(!glob_match("*.conf", "a.txt"));
    assert!(glob_match("out-*-x.conf", "out-1-x.conf"));
}
