//! The credential chain end to end: each source, temporary credentials, token authentication,
//! the IAM project-id lookup, the plain-http refusal for IAM, `whoami`, and a redaction sweep
//! over every command at the highest verbosity.

use crate::support::*;

const DECLARED: &str = "instances:\n  - name: dcs-8b1c-000\n";
const TOKEN: &str = "MIIT-auth-token-value-5c3e1a";
const SECURITY_TOKEN: &str = "temp-security-token-8d2f";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A manifest with the emulator's endpoint and `head` (e.g. `region:`), no project id.
fn manifest_without_project(p: &Project, head: &str) {
    p.write(
        "dcs.yaml",
        &format!("endpoint: {}\n{head}{DECLARED}", p.emulator.url()),
    );
}

/// An emulator that accepts only `X-Auth-Token: TOKEN`.
fn token_project() -> Project {
    Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        auth_token: Some(TOKEN.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    })
}

/// Writes a credentials file at `path` with a `[basic]` section holding `body`.
fn credentials_file(path: &std::path::Path, body: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, format!("[basic]\n{body}"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Private, as it should be (a readable one gets a warning: tests/hardening.rs).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

#[test]
fn sdk_environment_variables_are_the_first_source_and_v_says_so() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    // Terraform names and a token too: the SDK names win.
    p.env.extend(env(&[
        ("HW_ACCESS_KEY", "AKOTHER0000000000000"),
        ("HW_SECRET_KEY", "other"),
        ("HW_AUTH_TOKEN", TOKEN),
    ]));
    let run = p.run(&["plan", "-v"]).expect(0);
    assert!(
        run.stderr.contains(
            "credentials: AK AKTE…0001 from environment (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("project id {PID} from dcs.yaml: project_id")),
        "{}",
        run.stderr
    );
    assert_eq!(p.requests()[0].status, 200);
}

#[test]
fn terraform_environment_variables_give_credentials_project_and_region() {
    let mut p = Project::new(sample());
    manifest_without_project(&p, "");
    p.env = env(&[
        ("HW_ACCESS_KEY", AK),
        ("HW_SECRET_KEY", SK),
        ("HW_PROJECT_ID", PID),
        ("HW_REGION_NAME", "ap-southeast-1"),
    ]);
    let run = p.run(&["plan", "-v"]).expect(0);
    assert!(
        run.stderr
            .contains("credentials: AK AKTE…0001 from environment (HW_ACCESS_KEY, HW_SECRET_KEY)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("project id {PID} from HW_PROJECT_ID")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("region ap-southeast-1 from HW_REGION_NAME"),
        "{}",
        run.stderr
    );
    assert_eq!(p.requests()[0].path, format!("/v2/{PID}/instances"));
    assert_eq!(p.requests()[0].status, 200);
}

#[test]
fn terraform_temporary_credentials_send_and_sign_the_security_token() {
    let mut p = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        security_token: Some(SECURITY_TOKEN.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    p.manifest(DECLARED);
    p.env = env(&[
        ("HW_ACCESS_KEY", AK),
        ("HW_SECRET_KEY", SK),
        ("HW_SECURITY_TOKEN", SECURITY_TOKEN),
    ]);
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(!p.deletes().is_empty());
    for r in p.requests() {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.signed_headers.contains(&"x-security-token".to_owned()));
    }
    // Without the token, the emulator (like the gateway) rejects the temporary AK.
    p.env.truncate(2);
    let run = p.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("APIGW.0301"), "{}", run.stderr);
}

#[test]
fn the_default_credentials_file_is_read_from_home() {
    let mut p = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        security_token: Some(SECURITY_TOKEN.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    manifest_without_project(&p, "");
    // The test runner sets HOME to the project folder.
    let file = p.dir.path().join(".huaweicloud").join("credentials");
    credentials_file(
        &file,
        &format!("ak = {AK}\nsk = {SK}\nproject_id = {PID}\nsecurity_token = {SECURITY_TOKEN}\n"),
    );
    p.env = vec![];
    let run = p.run(&["plan", "-v"]).expect(0);
    assert!(
        run.stderr.contains(&format!(
            "credentials: AK AKTE…0001 from credentials file {} [basic], with a security token \
             from `security_token` in [basic] of {0}",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "project id {PID} from `project_id` in [basic] of {}",
            file.display()
        )),
        "{}",
        run.stderr
    );
    let r = &p.requests()[0];
    assert_eq!(r.status, 200);
    assert!(r.signed_headers.contains(&"x-security-token".to_owned()));
}

#[test]
fn huaweicloud_sdk_credentials_file_names_another_file() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    let file = p.dir.path().join("elsewhere.ini");
    credentials_file(&file, &format!("ak = {AK}\nsk = {SK}\n"));
    let named = file.display().to_string();
    p.env = env(&[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &named)]);
    let run = p.run(&["plan", "-v"]).expect(0);
    assert!(
        run.stderr
            .contains(&format!("from credentials file {named} [basic]")),
        "{}",
        run.stderr
    );
    // A partial file is an error naming what it looked for; nothing is sent.
    credentials_file(&file, &format!("ak = {AK}\n"));
    let before = p.requests().len();
    let run = p.run(&["plan"]).expect(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: `ak` in [basic] of {named} is set but `sk` in [basic] of {named} is not: set both\n"
        )
    );
    assert_eq!(p.requests().len(), before);
}

#[test]
fn partial_sources_are_one_line_errors_naming_the_variables() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    for (vars, message) in [
        (
            vec![("HW_ACCESS_KEY", AK)],
            "error: HW_ACCESS_KEY is set but HW_SECRET_KEY is not: set both\n",
        ),
        (
            vec![("HW_SECRET_KEY", SK), ("HW_AUTH_TOKEN", TOKEN)],
            "error: HW_SECRET_KEY is set but HW_ACCESS_KEY is not: set both\n",
        ),
        (
            vec![("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN)],
            "error: HUAWEICLOUD_SDK_SECURITY_TOKEN is set but HUAWEICLOUD_SDK_AK and \
             HUAWEICLOUD_SDK_SK are not: a security token is used with the temporary AK/SK it \
             was issued with; set all three\n",
        ),
    ] {
        p.env = env(&vars);
        let run = p.run(&["plan"]).expect(1);
        assert_eq!(run.stderr, message);
    }
    p.env = vec![];
    let run = p.run(&["plan"]).expect(1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for name in [
        "HUAWEICLOUD_SDK_AK",
        "HW_ACCESS_KEY",
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
        "HW_AUTH_TOKEN",
    ] {
        assert!(run.stderr.contains(name), "{name}: {}", run.stderr);
    }
    assert!(p.requests().is_empty());
}

#[test]
fn token_authentication_sends_x_auth_token_and_no_signature() {
    let mut p = token_project();
    p.manifest(DECLARED);
    p.env = env(&[("HW_AUTH_TOKEN", TOKEN)]);
    let run = p.run(&["apply", "--auto-approve", "-v"]).expect(0);
    assert!(
        run.stderr.contains(
            "credentials: an IAM token from environment (HW_AUTH_TOKEN) (X-Auth-Token, no signature)"
        ),
        "{}",
        run.stderr
    );
    assert!(!p.deletes().is_empty());
    for r in p.requests() {
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.header_names.contains(&"x-auth-token".to_owned()), "{r:?}");
        assert!(
            !r.header_names.contains(&"authorization".to_owned()),
            "{r:?}"
        );
    }
    // A wrong token is rejected with a hint about tokens, never showing it.
    p.env = env(&[("HW_AUTH_TOKEN", "MIIT-wrong-token-000")]);
    let run = p.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("HTTP 401 APIGW.0301"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hint: the signature or token was rejected: check that the auth token"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("MIIT-wrong"), "{}", run.stderr);
}

#[test]
fn the_project_id_is_looked_up_in_iam_by_region() {
    let mut p = Project::new(sample());
    manifest_without_project(&p, "region: cn-north-4\n");
    p.env
        .push(("HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned(), p.emulator.url()));
    let run = p.run(&["plan", "-v"]).expect(0);
    assert!(
        run.stderr.contains(&format!(
            "project id {PID} from IAM lookup of region cn-north-4 at {}/",
            p.emulator.url()
        )),
        "{}",
        run.stderr
    );
    let reqs = p.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/v3/projects");
    assert_eq!(reqs[0].query, "name=cn-north-4");
    assert_eq!(reqs[0].status, 200, "the lookup is signed");
    assert_eq!(
        reqs[0].signed_headers,
        ["content-type", "host", "x-sdk-date"],
        "no X-Project-Id on the IAM call"
    );
    assert_eq!(reqs[1].path, format!("/v2/{PID}/instances"));
}

#[test]
fn the_iam_endpoint_of_the_credentials_file_is_used_and_tokens_work_too() {
    let mut p = token_project();
    manifest_without_project(&p, "region: cn-north-4\n");
    p.env = env(&[("HW_AUTH_TOKEN", TOKEN)]);
    let url = p.emulator.url();
    p.env.push(("HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned(), url));
    p.run(&["plan"]).expect(0);
    let reqs = p.requests();
    assert_eq!(reqs[0].path, "/v3/projects");
    assert!(reqs[0].header_names.contains(&"x-auth-token".to_owned()));

    let mut p = Project::new(sample());
    manifest_without_project(&p, "region: cn-north-4\n");
    let file = p.dir.path().join(".huaweicloud").join("credentials");
    credentials_file(
        &file,
        &format!(
            "ak = {AK}\nsk = {SK}\niam_endpoint = {}\n",
            p.emulator.url()
        ),
    );
    p.env = vec![];
    p.run(&["plan"]).expect(0);
    assert_eq!(p.requests()[0].path, "/v3/projects");
}

#[test]
fn no_or_several_projects_of_that_name_are_errors_that_say_so() {
    for (projects, fragment) in [
        (
            vec![],
            "IAM knows no project named `cn-north-4` for AK AKTE…0001",
        ),
        (
            vec![
                ("cn-north-4".to_owned(), "aaaa1111".to_owned()),
                ("cn-north-4".to_owned(), "bbbb2222".to_owned()),
                ("cn-north-4_sub".to_owned(), "cccc3333".to_owned()),
            ],
            "IAM found 2 projects named `cn-north-4` (aaaa1111, bbbb2222)",
        ),
    ] {
        let mut p = Project::with_config(EmulatorConfig {
            project_id: Some(PID.to_owned()),
            credentials: Some((AK.to_owned(), SK.to_owned())),
            iam_projects: Some(projects),
            instances: sample(),
            ..EmulatorConfig::default()
        });
        manifest_without_project(&p, "region: cn-north-4\n");
        p.env
            .push(("HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned(), p.emulator.url()));
        for cmd in ["plan", "whoami"] {
            let run = p.run(&[cmd]).expect(1);
            assert!(run.stderr.contains(fragment), "{cmd}: {}", run.stderr);
            assert!(run.stderr.contains("(request id "), "{}", run.stderr);
            assert!(run.stderr.contains("--project-id"), "{}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        }
        assert!(
            p.requests().iter().all(|r| r.path == "/v3/projects"),
            "nothing but the lookup was sent"
        );
    }
}

#[test]
fn a_rejected_iam_lookup_names_the_url_and_the_hint() {
    let mut p = Project::new(sample());
    manifest_without_project(&p, "region: cn-north-4\n");
    p.env = env(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", "wrong-secret-value-123"),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &p.emulator.url()),
    ]);
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr.contains(&format!(
            "GET {}/v3/projects?name=cn-north-4: HTTP 401 APIGW.0301",
            p.emulator.url()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("check the SK that belongs to AK AKTE…0001"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-secret"), "{}", run.stderr);
}

#[test]
fn plain_http_to_a_remote_iam_endpoint_is_refused_before_sending() {
    let mut p = Project::new(sample());
    manifest_without_project(&p, "region: cn-north-4\n");
    p.env.push((
        "HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned(),
        "http://iam.example.invalid".to_owned(),
    ));
    for cmd in ["plan", "whoami"] {
        let run = p.run(&[cmd]).expect(1);
        assert_eq!(
            run.stderr.lines().next().unwrap_or_default(),
            "error: HUAWEICLOUD_SDK_IAM_ENDPOINT: refusing plain http:// to iam.example.invalid: \
             credentials and deletions would cross the network unencrypted; use https:// (plain \
             http is accepted only for loopback hosts such as the built-in emulator)"
        );
    }
    assert!(p.requests().is_empty());
}

#[test]
fn whoami_shows_sources_and_masked_values_and_contacts_nothing() {
    let mut p = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        security_token: Some(SECURITY_TOKEN.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    p.write(
        "dcs.yaml",
        &format!("project_id: {PID}\nregion: cn-north-4\n{DECLARED}"),
    );
    p.env.push((
        "HUAWEICLOUD_SDK_SECURITY_TOKEN".to_owned(),
        SECURITY_TOKEN.to_owned(),
    ));
    let run = p.run(&["whoami"]).expect(0);
    assert_eq!(
        run.stdout,
        format!(
            "Credentials:     environment (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK)\n\
             Access key:      AKTE…0001 (SDK-HMAC-SHA256 signatures)\n\
             Security token:  yes, from HUAWEICLOUD_SDK_SECURITY_TOKEN (temporary credentials; not shown)\n\
             Auth token:      no\n\
             Project id:      {PID} (from dcs.yaml: project_id)\n\
             Region:          cn-north-4 (from dcs.yaml: region)\n\
             Endpoint:        https://dcs.cn-north-4.myhuaweicloud.com/ (from default of region cn-north-4 (dcs.yaml: region))\n"
        )
    );
    assert!(!run.stdout.contains(SK) && !run.stdout.contains(SECURITY_TOKEN));
    assert!(p.requests().is_empty(), "whoami sent a request");

    // Without a manifest, with a token and a region from the environment: IAM only.
    let mut p = token_project();
    p.env = env(&[
        ("HW_AUTH_TOKEN", TOKEN),
        ("HW_REGION_NAME", "cn-north-4"),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &p.emulator.url()),
    ]);
    let run = p
        .run(&["whoami", "--endpoint", &p.emulator.url()])
        .expect(0);
    let out = &run.stdout;
    assert!(
        out.contains("Credentials:     environment (HW_AUTH_TOKEN)\n"),
        "{out}"
    );
    assert!(out.contains("Access key:      none\n"), "{out}");
    assert!(
        out.contains(
            "Auth token:      yes, from HW_AUTH_TOKEN (sent as X-Auth-Token; not shown)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Project id:      {PID} (from IAM lookup of region cn-north-4 at {}/)\n",
            p.emulator.url()
        )),
        "{out}"
    );
    assert!(
        out.contains("Region:          cn-north-4 (from HW_REGION_NAME)\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Endpoint:        {}/ (from --endpoint)\n",
            p.emulator.url()
        )),
        "{out}"
    );
    assert!(!out.contains(TOKEN), "{out}");
    let reqs = p.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v3/projects");

    // -f names a file that must exist.
    let run = p.run(&["whoami", "-f", "missing.yaml"]).expect(1);
    assert!(
        run.stderr.contains("missing.yaml: no such file"),
        "{}",
        run.stderr
    );
}

#[test]
fn timeouts_are_flags_and_a_silent_server_times_out() {
    // A listener that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("it works");
    let addr = listener.local_addr().expect("it works");
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let started = std::time::Instant::now();
    let run = p
        .run(&[
            "plan",
            "--endpoint",
            &format!("http://{addr}"),
            "--timeout",
            "1s",
            "--connect-timeout",
            "1",
        ])
        .expect(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        run.stderr
            .contains(&format!("GET http://{addr}/v2/{PID}/instances")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("timed out"),
        "{}",
        run.stderr
    );
    drop(listener);
    let run = p.run(&["plan", "--timeout", "soon"]).expect(1);
    assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
}

/// Every command, successful and failing, at the highest verbosity, with known secrets: none
/// of them (nor a signature) reaches stdout, stderr or a saved plan.
#[test]
fn no_secret_reaches_any_output_of_any_command() {
    const SECRET_SK: &str = "SK-redaction-secret-0a9b8c7d";
    const SECRET_SECURITY: &str = "SECTOKEN-redaction-1f2e3d";
    const SECRET_TOKEN: &str = "AUTHTOKEN-redaction-4c5b6a";
    let secrets = [SECRET_SK, SECRET_SECURITY, SECRET_TOKEN, "Signature="];

    let signed = Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SECRET_SK.to_owned())),
        security_token: Some(SECRET_SECURITY.to_owned()),
        auth_token: Some(SECRET_TOKEN.to_owned()),
        instances: sample(),
        ..EmulatorConfig::default()
    });
    let url = signed.emulator.url();
    let dir = signed.dir.path();
    signed.write(
        "dcs.yaml",
        &format!("region: cn-north-4\nendpoint: {url}\n{DECLARED}"),
    );
    let file = dir.join("creds.ini");
    std::fs::write(
        &file,
        format!("[basic]\nak = {AK}\nsk = {SECRET_SK}\nsecurity_token = {SECRET_SECURITY}\n"),
    )
    .expect("it works");
    let file = file.display().to_string();

    let logs = [(
        "RUST_LOG",
        "trace,hyper=trace,reqwest=trace,rustls=trace,h2=trace",
    )];
    let iam = [("HUAWEICLOUD_SDK_IAM_ENDPOINT", url.as_str())];
    let wrong_sk = format!("{SECRET_SK}-wrong");
    let wrong_security = format!("{SECRET_SECURITY}-wrong");
    let wrong_token = format!("{SECRET_TOKEN}-wrong");
    let environments: Vec<Vec<(&str, &str)>> = vec![
        // Good: each source.
        vec![
            ("HUAWEICLOUD_SDK_AK", AK),
            ("HUAWEICLOUD_SDK_SK", SECRET_SK),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECRET_SECURITY),
        ],
        vec![
            ("HW_ACCESS_KEY", AK),
            ("HW_SECRET_KEY", SECRET_SK),
            ("HW_SECURITY_TOKEN", SECRET_SECURITY),
        ],
        vec![("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.as_str())],
        vec![("HW_AUTH_TOKEN", SECRET_TOKEN)],
        // Failing: wrong values, partial sources.
        vec![
            ("HUAWEICLOUD_SDK_AK", AK),
            ("HUAWEICLOUD_SDK_SK", &wrong_sk),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECRET_SECURITY),
        ],
        vec![
            ("HW_ACCESS_KEY", AK),
            ("HW_SECRET_KEY", SECRET_SK),
            ("HW_SECURITY_TOKEN", &wrong_security),
        ],
        vec![("HW_AUTH_TOKEN", &wrong_token)],
        vec![
            ("HW_SECRET_KEY", SECRET_SK),
            ("HW_AUTH_TOKEN", SECRET_TOKEN),
        ],
        vec![("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECRET_SECURITY)],
    ];
    let plan_file = dir.join("plan.json").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate"],
        vec!["whoami"],
        vec!["plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--out", &plan_file],
        vec!["apply"],
        vec!["apply", "--plan", &plan_file],
        vec!["apply", "--auto-approve"],
        vec!["plan", "--format", "markdown"],
        vec!["diff"],
        vec!["export", "-f", "dcs.yaml"],
        vec![
            "apply",
            "--format",
            "json",
            "--auto-approve",
            "--wait",
            "--wait-timeout",
            "1s",
        ],
        vec!["plan", "--log-format", "json"],
        vec!["plan", "--endpoint", "http://dcs.example.invalid"],
        vec!["plan", "--endpoint", "https://user:pw@dcs.example.invalid"],
        vec!["demo"],
    ];
    let mut successes = 0;
    let mut failures = 0;
    for vars in &environments {
        let mut all: Vec<(&str, &str)> = vars.clone();
        all.extend(logs);
        all.extend(iam);
        let owned = env(&all);
        for args in &commands {
            let mut args = args.clone();
            args.push("-vvv");
            let run = run_in(dir, &args, &owned);
            if run.code == 0 {
                successes += 1;
            } else {
                failures += 1;
            }
            for secret in secrets {
                assert!(
                    !run.stdout.contains(secret),
                    "{vars:?} {args:?}: stdout shows {secret}:\n{}",
                    run.stdout
                );
                assert!(
                    !run.stderr.contains(secret),
                    "{vars:?} {args:?}: stderr shows {secret}:\n{}",
                    run.stderr
                );
            }
            if let Ok(saved) = std::fs::read_to_string(&plan_file) {
                for secret in secrets {
                    assert!(
                        !saved.contains(secret),
                        "{args:?}: the saved plan shows {secret}"
                    );
                }
            }
        }
    }
    assert!(successes > 10 && failures > 10, "{successes} / {failures}");
    assert!(!signed.deletes().is_empty(), "a good apply ran");
}
