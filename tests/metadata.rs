//! The metadata credential source end to end against the emulator, which serves the metadata
//! paths too: opt-in only, the session token, the refresh 40 minutes before expiry, an
//! unreachable address, and no secret at `-vvv`. Every test points
//! `DCS_RECONCILE_METADATA_ENDPOINT` at the emulator or at a closed loopback port, so none
//! contacts 169.254.169.254.

use std::time::Duration;

use crate::support::*;

const TEMP_AK: &str = "TEMPAKEXAMPLE0000001";
const TEMP_SK: &str = "temp-secret-key-0123456789";
const TEMP_TOKEN: &str = "temp-security-token-abcdef";
const DECLARED: &str = "instances:\n  - name: dcs-8b1c-000\n";

/// An emulator that accepts only the metadata service's temporary credentials (the permanent
/// AK/SK of the environment are unknown to it), with `lifetime` and a required session token.
fn metadata_project(instances: Vec<EmuInstance>, lifetime: Option<Duration>) -> Project {
    let mut p = Project::with_config(EmulatorConfig {
        credentials: None,
        metadata_credentials: Some((TEMP_AK.into(), TEMP_SK.into(), TEMP_TOKEN.into())),
        metadata_lifetime: lifetime,
        metadata_require_token: true,
        ..signed(instances)
    });
    let url = p.emulator.url().to_string();
    p.env
        .push(("DCS_RECONCILE_METADATA_ENDPOINT".to_owned(), url));
    p
}

fn opt_in(p: &mut Project) {
    p.env.push((
        "DCS_RECONCILE_CREDENTIALS_SOURCE".to_owned(),
        "metadata".to_owned(),
    ));
}

#[test]
fn plan_signs_with_the_metadata_credentials_and_the_session_token() {
    let p = metadata_project(sample(), None);
    p.manifest(DECLARED);
    // The flag alone selects the source; the AK/SK in the environment are not used.
    let run = p
        .run(&["plan", "--credentials-source", "metadata"])
        .expect(0);
    assert!(run.stdout.contains("to delete"), "{}", run.stdout);
    let shared = p.emulator.shared();
    assert_eq!(shared.metadata_token_fetches(), 1);
    assert_eq!(shared.metadata_fetches(), 1);
}

#[test]
fn the_environment_variable_selects_it_and_fresh_credentials_are_reused() {
    // Three listing pages, two hours of lifetime: one fetch serves them all.
    let mut p = metadata_project(generated(2500), Some(Duration::from_secs(7200)));
    opt_in(&mut p);
    p.manifest(DECLARED);
    p.run(&["plan", "--concurrency", "1"]).expect(0);
    let lists = p.requests().iter().filter(|r| r.method == "GET").count();
    assert!(lists >= 3, "{lists} GETs");
    assert_eq!(p.emulator.shared().metadata_fetches(), 1);
}

#[test]
fn credentials_with_less_than_40_minutes_left_are_fetched_again() {
    // 30 minutes of lifetime is below the threshold: each request fetches again, and the
    // run still succeeds.
    let mut p = metadata_project(generated(2500), Some(Duration::from_secs(30 * 60)));
    opt_in(&mut p);
    p.manifest(DECLARED);
    p.run(&["plan", "--concurrency", "1"]).expect(0);
    let fetches = p.emulator.shared().metadata_fetches();
    assert!(fetches >= 2, "{fetches} fetches");
}

#[test]
fn the_metadata_service_is_never_contacted_without_opt_in() {
    let mut p = Project::with_config(EmulatorConfig {
        metadata_credentials: Some((TEMP_AK.into(), TEMP_SK.into(), TEMP_TOKEN.into())),
        ..signed(sample())
    });
    let url = p.emulator.url().to_string();
    p.env
        .push(("DCS_RECONCILE_METADATA_ENDPOINT".to_owned(), url));
    p.manifest(DECLARED);
    p.run(&["plan"]).expect(0);
    p.run(&["whoami"]).expect(0);
    p.run(&["plan", "--credentials-source", "auto"]).expect(0);
    // A token instead of AK/SK, `auto` named in the environment: still not contacted.
    p.env.retain(|(k, _)| !k.starts_with("HUAWEICLOUD_SDK_"));
    p.env
        .push(("HW_AUTH_TOKEN".to_owned(), "MIIT-token".to_owned()));
    p.env.push((
        "DCS_RECONCILE_CREDENTIALS_SOURCE".to_owned(),
        "auto".to_owned(),
    ));
    p.run(&["whoami"]).expect(0);
    let shared = p.emulator.shared();
    assert_eq!(shared.metadata_fetches(), 0);
    assert_eq!(shared.metadata_token_fetches(), 0);
    assert!(
        p.requests().iter().all(|r| !r.path.contains("meta")),
        "{:?}",
        p.requests()
    );
}

#[test]
fn an_unreachable_metadata_address_is_a_clear_error() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    opt_in(&mut p);
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    p.env.push((
        "DCS_RECONCILE_METADATA_ENDPOINT".to_owned(),
        format!("http://127.0.0.1:{port}"),
    ));
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("the metadata service at http://127.0.0.1:")
            && run.stderr.contains("did not answer"),
        "{}",
        run.stderr
    );
    assert!(p.requests().is_empty(), "{:?}", p.requests());
}

#[test]
fn plain_http_to_another_address_is_refused_before_any_request() {
    let mut p = Project::new(sample());
    p.manifest(DECLARED);
    opt_in(&mut p);
    p.env.push((
        "DCS_RECONCILE_METADATA_ENDPOINT".to_owned(),
        "http://metadata.invalid".to_owned(),
    ));
    let run = p.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("plain http"), "{}", run.stderr);
    // An unknown source is an error naming the choices.
    p.env
        .retain(|(k, _)| k != "DCS_RECONCILE_CREDENTIALS_SOURCE");
    p.env.push((
        "DCS_RECONCILE_CREDENTIALS_SOURCE".to_owned(),
        "imds".to_owned(),
    ));
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr.contains("`auto` or `metadata`"),
        "{}",
        run.stderr
    );
}

#[test]
fn whoami_shows_the_source_and_no_secret_is_printed_at_vvv() {
    let mut p = metadata_project(generated(1500), Some(Duration::from_secs(30 * 60)));
    opt_in(&mut p);
    p.manifest(DECLARED);
    let who = p.run(&["whoami", "-vvv"]).expect(0);
    assert!(
        who.stdout
            .contains("Credentials:     metadata (temporary credentials, expire at "),
        "{}",
        who.stdout
    );
    assert!(who.stdout.contains("TEMP…0001"), "{}", who.stdout);
    let plan = p.run(&["plan", "-vvv", "--format", "json"]).expect(0);
    let apply = p.run(&["apply", "-vvv", "--auto-approve"]);
    for run in [&who, &plan, &apply] {
        let all = format!("{}{}", run.stdout, run.stderr);
        for secret in [TEMP_SK, TEMP_TOKEN, TEMP_AK, "emu-metadata-token-"] {
            assert!(!all.contains(secret), "{secret} printed:\n{all}");
        }
    }
    assert!(p.emulator.shared().metadata_fetches() >= 3);
}
