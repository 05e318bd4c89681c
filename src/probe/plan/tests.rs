use super::*;

fn target(plugin: Plugin, auto: bool) -> Target {
    Target {
        from: "--logs-to".into(),
        plugin,
        region: "ap-northeast-1".into(),
        endpoint: None,
        group: "/ecs/logs/sample-test".into(),
        stream: "webapp".into(),
        auto_create_group: auto,
        auto_create_stream: true,
        retention_days: 0,
        tags: false,
        names: Names::literal(),
        counters: None,
        role: None,
    }
}

fn ok() -> Answer {
    Answer::Ok {
        stream_listed: false,
        too_old: true,
    }
}

/// Runs `next_call` to its end against a fake account: `answer(call)` is its reply.
fn run(checks: &[Check], answer: impl Fn(Call) -> Answer) -> Vec<(Call, Answer)> {
    let mut answers = Vec::new();
    while let Some(call) = next_call(checks, &answers) {
        answers.push((call, answer(call)));
        assert!(answers.len() <= 4, "a call was repeated: {answers:?}");
    }
    answers
}

fn verdicts(checks: &[Check], answers: &[(Call, Answer)]) -> Vec<(String, Verdict)> {
    let e = Existence::from_answers(answers);
    checks
        .iter()
        .map(|c| (c.action.clone(), judge(c, e, answers).verdict))
        .collect()
}

#[test]
fn arns_follow_the_partition() {
    assert_eq!(
        stream_arn("ap-northeast-1", "123456789012", "/ecs/logs/sample-test", "webapp"),
        "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp"
    );
    assert!(group_arn("cn-north-1", "1", "g").starts_with("arn:aws-cn:logs:"));
    assert!(group_arn("us-gov-west-1", "1", "g").starts_with("arn:aws-us-gov:logs:"));
    assert_eq!(
        covering_resource("arn:aws:logs:r:1:log-group:g:log-stream:s").as_deref(),
        Some("arn:aws:logs:r:1:log-group:g:*")
    );
}

#[test]
fn logs_arns_parse_at_both_levels() {
    let s = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:log-stream:x:y").unwrap();
    assert_eq!(
        (s.group.as_str(), s.stream.as_deref()),
        ("/a/b", Some("x:y"))
    );
    let g = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:log-stream:").unwrap();
    assert_eq!(g.stream, None);
    let star = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:*").unwrap();
    assert_eq!(star.group, "/a/b");
    assert!(parse_logs_arn("arn:aws:s3:::bucket").is_none());
    assert!(parse_logs_arn("logs:PutLogEvents").is_none());
}

#[test]
fn the_c_plugin_needs_create_stream_and_put_only_when_everything_exists() {
    let c = checks(&target(Plugin::CloudwatchLogs, true), "1");
    let answers = run(&c, |call| match call {
        Call::PutTooOld => ok(),
        Call::CreateStream => Answer::AlreadyExists,
        other => panic!("{other:?} is never sent when the group and stream exist"),
    });
    assert_eq!(
        answers.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        [Call::PutTooOld, Call::CreateStream]
    );
    let v = verdicts(&c, &answers);
    assert!(
        v.iter().all(|(a, v)| match a.as_str() {
            CREATE_GROUP | RETENTION => *v == Verdict::NotNeeded,
            _ => *v == Verdict::Allowed,
        }),
        "{v:?}"
    );
}

#[test]
fn a_tight_policy_without_describe_or_create_group_is_not_a_false_alarm() {
    let c = checks(&target(Plugin::CloudwatchLogs, true), "1");
    assert!(!c.iter().any(|k| k.action == DESCRIBE));
    let answers = run(&c, |call| match call {
        Call::PutTooOld => ok(),
        Call::CreateStream => Answer::AlreadyExists,
        _ => Answer::Denied(DenyReason::Implicit),
    });
    let e = Existence::from_answers(&answers);
    let needed: Vec<_> = c
        .iter()
        .map(|k| judge(k, e, &answers))
        .filter(|p| p.verdict != Verdict::NotNeeded)
        .collect();
    assert!(needed.iter().all(|p| p.verdict == Verdict::Allowed));
}

#[test]
fn nothing_is_created_on_a_missing_name() {
    for plugin in [Plugin::CloudwatchLogs, Plugin::Cloudwatch] {
        let c = checks(&target(plugin, true), "1");
        // The stream is missing in an existing group: CreateLogStream would create it.
        let answers = run(&c, |call| match call {
            Call::PutTooOld => Answer::NotFound(Missing::Stream),
            Call::Describe => Answer::Ok {
                stream_listed: false,
                too_old: false,
            },
            Call::CreateGroup => Answer::AlreadyExists,
            Call::CreateStream => panic!("CreateLogStream on a missing stream creates it"),
        });
        let v = verdicts(&c, &answers);
        assert!(
            v.contains(&(CREATE_STREAM.into(), Verdict::Unverified)),
            "{v:?}"
        );
        // The group is missing: CreateLogStream cannot create anything, CreateLogGroup would.
        let answers = run(&c, |call| match call {
            Call::PutTooOld | Call::Describe | Call::CreateStream => {
                Answer::NotFound(Missing::Group)
            }
            Call::CreateGroup => panic!("CreateLogGroup on a missing group creates it"),
        });
        let v = verdicts(&c, &answers);
        assert!(
            v.contains(&(CREATE_STREAM.into(), Verdict::Allowed)),
            "{v:?}"
        );
        assert!(
            v.contains(&(CREATE_GROUP.into(), Verdict::Unverified)),
            "{v:?}"
        );
    }
}

#[test]
fn one_action_is_never_judged_by_another() {
    let c = checks(&target(Plugin::CloudwatchLogs, true), "1");
    let denied = Answer::Denied(DenyReason::Implicit);
    let answers = run(&c, |_| denied.clone());
    let v = verdicts(&c, &answers);
    // Put refused: nothing is known of the stream, so CreateLogStream stays unverified.
    assert!(v.contains(&(PUT.into(), Verdict::Denied)), "{v:?}");
    assert!(
        v.contains(&(CREATE_STREAM.into(), Verdict::Unverified)),
        "{v:?}"
    );
    let p = judge(&c[c.len() - 1], Existence::from_answers(&answers), &answers);
    assert_eq!(p.reason.as_deref(), Some("implicit"));
}

#[test]
fn the_go_plugin_describes_and_creates_the_group_at_each_start() {
    let c = checks(&target(Plugin::Cloudwatch, true), "1");
    let answers = run(&c, |call| match call {
        Call::PutTooOld => ok(),
        Call::Describe => Answer::Ok {
            stream_listed: true,
            too_old: false,
        },
        Call::CreateGroup => Answer::AlreadyExists,
        Call::CreateStream => panic!("the stream exists: the Go plugin does not create it"),
    });
    let v = verdicts(&c, &answers);
    assert!(v.contains(&(DESCRIBE.into(), Verdict::Allowed)), "{v:?}");
    assert!(
        v.contains(&(CREATE_GROUP.into(), Verdict::Allowed)),
        "{v:?}"
    );
    assert!(
        v.contains(&(CREATE_STREAM.into(), Verdict::NotNeeded)),
        "{v:?}"
    );
    let off = checks(&target(Plugin::Cloudwatch, false), "1");
    assert!(!off.iter().any(|k| k.action == CREATE_GROUP));
}

#[test]
fn retention_is_never_probed() {
    let mut t = target(Plugin::CloudwatchLogs, true);
    t.retention_days = 7;
    let c = checks(&t, "1");
    let r = c.iter().find(|k| k.action == RETENTION).unwrap();
    let gone = [(Call::PutTooOld, Answer::NotFound(Missing::Group))];
    let e = Existence::from_answers(&gone);
    assert_eq!(judge(r, e, &gone).verdict, Verdict::Unverified);
    let there = [(Call::PutTooOld, ok())];
    let e = Existence::from_answers(&there);
    assert_eq!(judge(r, e, &there).verdict, Verdict::NotNeeded);
}

#[test]
fn not_found_messages_name_what_is_missing() {
    assert_eq!(
        Missing::from_message("The specified log group does not exist."),
        Missing::Group
    );
    assert_eq!(
        Missing::from_message("The specified log stream does not exist."),
        Missing::Stream
    );
    assert_eq!(Missing::from_message("gone"), Missing::Unstated);
}
