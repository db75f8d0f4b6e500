use crate::support::*;

const DECLARED: &str = "instances:\n  - name: dcs-8b1c-000\n";

#[test]
fn requests_are_signed_and_carry_the_documented_headers() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    p.run(&["plan"]).expect(0);
    let r = &p.requests()[0];
    assert_eq!(r.status, 200, "the emulator accepted the signature");
    assert_eq!(
        r.signed_headers,
        ["content-type", "host", "x-project-id", "x-sdk-date"]
    );
}

#[test]
fn a_security_token_is_sent_and_signed() {
    let mut p = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        security_token: Some("temp-token-abc123".to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    p.env.push((
        "HUAWEICLOUD_SDK_SECURITY_TOKEN".to_owned(),
        "temp-token-abc123".to_owned(),
    ));
    p.manifest(DECLARED);
    p.run(&["apply", "--auto-approve"]).expect(0);
    for r in p.requests() {
        assert_eq!(r.status, 200);
        assert!(
            r.header_names.contains(&"x-security-token".to_owned()),
            "{r:?}"
        );
        assert!(
            r.signed_headers.contains(&"x-security-token".to_owned()),
            "{r:?}"
        );
    }
}

#[test]
fn a_wrong_sk_is_rejected_with_a_clear_message_and_nothing_is_deleted() {
    let mut p = Project::new(sample());
    p.env = vec![
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        (
            "HUAWEICLOUD_SDK_SK".to_owned(),
            "not-the-right-secret-7d1a".to_owned(),
        ),
    ];
    p.manifest(DECLARED);
    let run = p.run(&["apply", "--auto-approve"]).expect(1);
    let err = &run.stderr;
    assert!(err.contains(&format!("GET {}/v2/{PID}/instances?include_failure=true&limit=1000&offset=0: HTTP 401 APIGW.0301: Incorrect IAM authentication information", p.emulator.url())), "{err}");
    assert!(err.contains("(request id "), "{err}");
    assert!(
        err.contains(
            "hint: the signature or token was rejected: check the SK that belongs to AK AKTE…0001"
        ),
        "{err}"
    );
    assert!(
        err.contains("X-Sdk-Date must be within 15 minutes"),
        "{err}"
    );
    assert!(!err.contains("not-the-right-secret") && !run.stdout.contains("not-the-right-secret"));
    assert!(p.deletes().is_empty());
}

#[test]
fn missing_or_partial_credentials_are_named_and_nothing_is_sent() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    p.env = vec![];
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"),
        "{}",
        run.stderr
    );
    p.env = vec![("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned())];
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not"),
        "{}",
        run.stderr
    );
    assert!(p.requests().is_empty());
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_sending() {
    let p = Project::new(sample());
    p.write(
        "dcs.yaml",
        &format!("project_id: {PID}\nendpoint: http://dcs.example.invalid\n{DECLARED}"),
    );
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("refusing plain http:// to dcs.example.invalid"),
        "{}",
        run.stderr
    );
    let run = p
        .run(&["plan", "--endpoint", "http://192.0.2.1:80"])
        .expect(1);
    assert!(
        run.stderr
            .contains("--endpoint: refusing plain http:// to 192.0.2.1"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_command_line_overrides_endpoint_and_project() {
    let p = Project::new(sample());
    p.write(
        "dcs.yaml",
        &format!("project_id: wrong-project\nregion: cn-north-4\n{DECLARED}"),
    );
    let run = p
        .run(&["plan", "--endpoint", &p.emulator.url(), "--project-id", PID])
        .expect(0);
    assert!(
        run.stdout
            .contains(&format!("Project {PID} at {}", p.emulator.url())),
        "{}",
        run.stdout
    );
    assert_eq!(p.requests()[0].path, format!("/v2/{PID}/instances"));
}

#[test]
fn a_project_the_api_does_not_know_is_an_error_naming_the_url() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = p
        .run(&["plan", "--project-id", "ffffffffffffffffffffffffffffffff"])
        .expect(1);
    assert!(
        run.stderr
            .contains("/v2/ffffffffffffffffffffffffffffffff/instances"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("HTTP 401 DCS.1004"), "{}", run.stderr);
}

#[test]
fn secrets_never_reach_the_output_at_any_verbosity() {
    let secret_sk = "SK-very-secret-4e1b2c9d";
    let secret_token = "TOKEN-very-secret-77aa";
    let p = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), secret_sk.to_owned())),
        security_token: Some(secret_token.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    p.manifest(DECLARED);
    let good = vec![
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), secret_sk.to_owned()),
        (
            "HUAWEICLOUD_SDK_SECURITY_TOKEN".to_owned(),
            secret_token.to_owned(),
        ),
        ("RUST_LOG".to_owned(), "trace".to_owned()),
    ];
    let mut bad = good.clone();
    bad[1].1 = format!("{secret_sk}-wrong");
    for env in [&good, &bad] {
        for args in [
            vec!["plan", "-vvv"],
            vec!["plan", "-vvv", "--format", "json"],
            vec!["validate", "-vvv"],
            vec!["apply", "-vvv"],
            vec!["apply", "-vvv", "--auto-approve"],
        ] {
            let run = run_in(p.dir.path(), &args, env);
            for secret in [secret_sk, secret_token, "Signature="] {
                assert!(
                    !run.stdout.contains(secret),
                    "{args:?}: stdout shows {secret}"
                );
                assert!(
                    !run.stderr.contains(secret),
                    "{args:?}: stderr shows {secret}:\n{}",
                    run.stderr
                );
            }
        }
    }
    assert!(!p.deletes().is_empty(), "the good apply ran");
}
