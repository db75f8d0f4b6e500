//! Unit tests of the settings, the resolution and the credential chain.

use super::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

fn manifest(region: Option<&str>, endpoint: Option<&str>, project: Option<&str>) -> ManifestTarget {
    ManifestTarget {
        file: "dcs.yaml".to_owned(),
        project_id: project.map(str::to_owned),
        region: region.map(str::to_owned),
        endpoint: endpoint.map(str::to_owned),
    }
}

fn err(r: Result<impl std::fmt::Debug>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

const KEYS: [(&str, &str); 2] = [(ENV_AK, "AKEXAMPLE1234567890A"), (ENV_SK, "s")];

fn resolve_target(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    m: &ManifestTarget,
) -> Result<Target> {
    let r = resolve(cli_endpoint, cli_project, m, &Env::from_pairs(KEYS))?;
    match r.project_id {
        ProjectId::Known(p) => Ok(Target {
            endpoint: r.endpoint.value,
            project_id: p.value,
        }),
        other => panic!("expected a known project id, got {other:?}"),
    }
}

#[test]
fn an_endpoint_with_a_path_is_refused() {
    let e = err(check_endpoint(
        "https://dcs.example.com/prefix",
        "--endpoint",
    ));
    assert!(e.contains("has a path (`/prefix`)"), "{e}");
    assert!(check_endpoint("https://dcs.example.com/", "--endpoint").is_ok());
    assert!(check_endpoint("https://dcs.example.com", "--endpoint").is_ok());
}

#[test]
fn region_gives_the_default_endpoint() -> Result<()> {
    let t = resolve_target(None, None, &manifest(Some("cn-north-4"), None, Some("p1")))?;
    assert_eq!(
        t.endpoint.as_str(),
        "https://dcs.cn-north-4.myhuaweicloud.com/"
    );
    assert_eq!(t.project_id, "p1");
    assert_eq!(
        region_endpoint("dcs", "eu-west-101"),
        "https://dcs.eu-west-101.myhuaweicloud.eu"
    );
    assert_eq!(
        region_endpoint("dcs", "eu-west-0"),
        "https://dcs.eu-west-0.myhuaweicloud.com"
    );
    Ok(())
}

#[test]
fn command_line_overrides_the_manifest() -> Result<()> {
    let m = manifest(Some("cn-north-4"), Some("https://a.example"), Some("p1"));
    let t = resolve_target(Some("https://b.example:8443"), Some("p2"), &m)?;
    assert_eq!(t.endpoint.as_str(), "https://b.example:8443/");
    assert_eq!(t.project_id, "p2");
    let t = resolve_target(None, None, &m)?;
    assert_eq!(t.endpoint.as_str(), "https://a.example/");
    Ok(())
}

#[test]
fn plain_http_only_on_loopback() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://[::1]:9000",
        "http://localhost:1",
        "https://dcs.example.com",
    ] {
        assert!(check_endpoint(ok, "t").is_ok(), "{ok}");
    }
    for bad in [
        "http://10.0.0.1",
        "http://dcs.example.com",
        "ftp://127.0.0.1",
        "http://127.0.0.1.example.com",
        "http://[::ffff:10.0.0.1]",
    ] {
        assert!(check_endpoint(bad, "t").is_err(), "{bad}");
    }
    assert!(
        err(check_endpoint("http://dcs.example.com", "--endpoint"))
            .contains("refusing plain http://")
    );
}

#[test]
fn endpoints_with_user_info_are_refused_without_repeating_it() {
    for bad in [
        "https://user:pa55word@dcs.example.com",
        "ftp://user:pa55word@dcs.example.com",
        "https://pa55word@dcs.example.com",
    ] {
        let e = err(check_endpoint(bad, "--endpoint"));
        assert!(e.contains("must not hold a user name or password"), "{e}");
        assert!(!e.contains("pa55word"), "{e}");
    }
    let e = err(check_endpoint("https://h.example/?token=pa55word", "t"));
    assert!(!e.contains("pa55word"), "{e}");
}

#[test]
fn missing_endpoint_or_project_is_an_error() {
    assert!(
        err(resolve_target(None, None, &manifest(None, None, Some("p")))).contains("no endpoint")
    );
    assert!(
        err(resolve(
            Some("https://x.example"),
            None,
            &manifest(None, None, None),
            &Env::from_pairs(KEYS)
        ))
        .contains("no project id")
    );
    assert!(
        err(resolve_target(
            None,
            Some("a/b"),
            &manifest(Some("r"), None, None)
        ))
        .contains("invalid project id")
    );
}

#[test]
fn without_a_project_id_the_region_is_looked_up_in_iam() -> Result<()> {
    let env = Env::from_pairs(KEYS);
    let r = resolve(None, None, &manifest(Some("cn-north-4"), None, None), &env)?;
    assert_eq!(
        r.project_id,
        ProjectId::Lookup {
            region: "cn-north-4".to_owned(),
            iam: Sourced::new(
                Url::parse("https://iam.cn-north-4.myhuaweicloud.com").expect("it works"),
                "default of region cn-north-4"
            ),
        }
    );
    let env = Env::from_pairs([
        KEYS[0],
        KEYS[1],
        (ENV_IAM_ENDPOINT, "http://iam.example.com"),
    ]);
    let e = err(resolve(
        None,
        None,
        &manifest(Some("cn-north-4"), None, None),
        &env,
    ));
    assert!(
        e.starts_with("HUAWEICLOUD_SDK_IAM_ENDPOINT: refusing plain http:// to iam.example.com"),
        "{e}"
    );
    // HW_REGION_NAME gives the region when the manifest has none.
    let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_HW_REGION, "ap-southeast-1")]);
    let r = resolve(None, None, &manifest(None, None, None), &env)?;
    assert_eq!(
        r.endpoint.value.as_str(),
        "https://dcs.ap-southeast-1.myhuaweicloud.com/"
    );
    assert_eq!(r.region.map(|r| r.origin), Some(ENV_HW_REGION.to_owned()));
    // A region cannot smuggle another host into the endpoint.
    let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_HW_REGION, "evil.example/x")]);
    let e = err(resolve(None, None, &manifest(None, None, Some("p")), &env));
    assert!(
        e.starts_with("HW_REGION_NAME: invalid region `evil.example/x`"),
        "{e}"
    );
    let e = err(resolve_target(
        None,
        None,
        &manifest(Some("A B"), None, Some("p")),
    ));
    assert!(e.starts_with("dcs.yaml: region: invalid region"), "{e}");
    Ok(())
}

#[test]
fn project_ids_come_from_the_winning_source_after_cli_and_manifest() -> Result<()> {
    let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_PROJECT_ID, "fromenv")]);
    let m = manifest(Some("cn-north-4"), None, None);
    let r = resolve(None, None, &m, &env)?;
    assert_eq!(
        r.project_id,
        ProjectId::Known(Sourced::new("fromenv".to_owned(), ENV_PROJECT_ID))
    );
    let r = resolve(None, None, &manifest(Some("r"), None, Some("p1")), &env)?;
    assert!(matches!(r.project_id, ProjectId::Known(p) if p.value == "p1"));
    Ok(())
}

fn chain(vars: &[(&str, &str)]) -> Result<Chain> {
    credential_chain(&Env::from_pairs(vars.iter().copied()))
}

#[test]
fn credentials_need_both_keys() -> Result<()> {
    let c = chain(&KEYS)?;
    assert_eq!(c.source, Source::SdkEnv);
    assert!(matches!(&c.auth, Auth::AkSk(k) if k.ak == "AKEXAMPLE1234567890A"));
    assert!(c.security_token_origin.is_none());
    let c = chain(&[(ENV_AK, "a"), (ENV_SK, "s"), (ENV_SECURITY_TOKEN, "t")])?;
    assert_eq!(c.security_token_origin.as_deref(), Some(ENV_SECURITY_TOKEN));
    assert!(err(chain(&[(ENV_AK, "a")])).contains("HUAWEICLOUD_SDK_SK is not"));
    assert!(err(chain(&[])).contains("no credentials"));
    assert!(err(chain(&[(ENV_AK, "a"), (ENV_SK, " ")])).contains("is not"));
    Ok(())
}

#[test]
fn sources_are_tried_in_order_and_partial_ones_are_errors() -> Result<()> {
    let c = chain(&[(ENV_HW_AK, "a"), (ENV_HW_SK, "s"), (ENV_HW_AUTH_TOKEN, "t")])?;
    assert_eq!(c.source, Source::TerraformEnv);
    let c = chain(&[KEYS[0], KEYS[1], (ENV_HW_AK, "a"), (ENV_HW_SK, "s")])?;
    assert_eq!(c.source, Source::SdkEnv);
    let c = chain(&[(ENV_HW_AUTH_TOKEN, "t"), (ENV_HW_PROJECT_ID, "p")])?;
    assert_eq!(c.source, Source::AuthToken);
    assert!(matches!(c.auth, Auth::Token(_)));
    assert_eq!(c.project_id.map(|p| p.value), Some("p".to_owned()));
    // A partial source stops the chain rather than falling through to the next one.
    let e = err(chain(&[(ENV_HW_SK, "s"), (ENV_HW_AUTH_TOKEN, "t")]));
    assert_eq!(e, "HW_SECRET_KEY is set but HW_ACCESS_KEY is not: set both");
    let e = err(chain(&[
        (ENV_SECURITY_TOKEN, "t"),
        (ENV_HW_AK, "a"),
        (ENV_HW_SK, "s"),
    ]));
    assert!(
        e.starts_with("HUAWEICLOUD_SDK_SECURITY_TOKEN is set but"),
        "{e}"
    );
    let e = err(chain(&[]));
    for name in [
        ENV_AK,
        ENV_SK,
        ENV_HW_AK,
        ENV_HW_SK,
        ENV_HW_AUTH_TOKEN,
        ENV_CREDENTIALS_FILE,
    ] {
        assert!(e.contains(name), "{name}: {e}");
    }
    assert_eq!(e.lines().count(), 1);
    Ok(())
}

#[test]
fn the_credentials_file_is_read_like_the_sdk_reads_it() -> Result<()> {
    let dir = tempfile::tempdir().expect("it works");
    let home = dir.path().to_str().expect("path");
    let folder = dir.path().join(".huaweicloud");
    std::fs::create_dir(&folder).expect("it works");
    let file = folder.join("credentials");
    let write = |text: &str| std::fs::write(&file, text).expect("it works");
    write(
        "\u{feff}# comment\n[DEFAULT]\nproject_id = fromdefault\n\n[basic]\nAK = AKFILE000000000000001\n\
         sk: s=k:with=delims\nsecurity_token = tok\niam_endpoint = https://iam.example\n",
    );
    let c = chain(&[("HOME", home)])?;
    assert_eq!(c.source, Source::File(file.clone()));
    match &c.auth {
        Auth::AkSk(k) => {
            assert_eq!(k.ak, "AKFILE000000000000001");
            assert_eq!(
                secrecy::ExposeSecret::expose_secret(&k.sk),
                "s=k:with=delims"
            );
        }
        _ => panic!("expected AK/SK"),
    }
    assert!(c.security_token_origin.is_some());
    assert_eq!(
        c.project_id.map(|p| p.value),
        Some("fromdefault".to_owned())
    );
    assert_eq!(
        c.iam_endpoint.map(|p| p.value),
        Some("https://iam.example".to_owned())
    );
    // The environment comes first.
    assert_eq!(
        chain(&[("HOME", home), KEYS[0], KEYS[1]])?.source,
        Source::SdkEnv
    );
    // Partial: an AK without an SK; a bad line is reported by number, never shown.
    write("[basic]\nak = a\n");
    let e = err(chain(&[("HOME", home)]));
    assert!(
        e.contains("`ak` in [basic] of") && e.contains("`sk` in [basic]"),
        "{e}"
    );
    write("[basic]\nak = a\nsecretline-without-delimiter\n");
    let e = err(chain(&[("HOME", home)]));
    assert!(
        e.ends_with(
            "credentials:3: not an INI line (expected `[section]`, `key = value` or a comment)"
        ),
        "{e}"
    );
    assert!(!e.contains("secretline"), "{e}");
    // A default file without [basic] credentials is no source; a named one is an error.
    write("[other]\nak = a\nsk = s\n");
    assert!(err(chain(&[("HOME", home)])).starts_with("no credentials"));
    let named = file.to_str().expect("path");
    let e = err(chain(&[(ENV_CREDENTIALS_FILE, named)]));
    assert!(e.contains("has no `ak` and `sk` in [basic]"), "{e}");
    let e = err(chain(&[(ENV_CREDENTIALS_FILE, "/nonexistent/credentials")]));
    assert!(
        e.starts_with(
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE names /nonexistent/credentials, which cannot be read"
        ),
        "{e}"
    );
    Ok(())
}

#[test]
fn env_debug_shows_no_values() {
    let e = Env::from_pairs([(ENV_SK, "super-secret")]);
    assert!(!format!("{e:?}").contains("super-secret"));
}

#[test]
fn the_metadata_source_is_used_only_when_selected_and_then_alone() -> Result<()> {
    let sdk = [(ENV_AK, "AKEXAMPLE1234567890A"), (ENV_SK, "sk")];
    assert!(matches!(chain(&sdk)?.auth, Auth::AkSk(_)));
    let auto = [sdk[0], sdk[1], (ENV_CREDENTIALS_SOURCE, "auto")];
    assert!(matches!(chain(&auto)?.auth, Auth::AkSk(_)));
    let selected = [sdk[0], sdk[1], (ENV_CREDENTIALS_SOURCE, "metadata")];
    let c = chain(&selected)?;
    assert!(matches!(c.auth, Auth::Metadata(_)));
    assert_eq!(
        c.source.to_string(),
        "metadata service http://169.254.169.254 (temporary credentials)"
    );
    let local = [
        (ENV_CREDENTIALS_SOURCE, "metadata"),
        (ENV_METADATA_ENDPOINT, "http://127.0.0.1:9/"),
    ];
    assert!(
        chain(&local)?
            .source
            .to_string()
            .contains("http://127.0.0.1:9 ")
    );
    let far = [
        (ENV_CREDENTIALS_SOURCE, "metadata"),
        (ENV_METADATA_ENDPOINT, "http://192.0.2.1"),
    ];
    assert!(chain(&far).is_err());
    assert!(chain(&[(ENV_CREDENTIALS_SOURCE, "imds")]).is_err());
    Ok(())
}

mod from_cli {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("dcs-reconcile").chain(args.iter().copied()))
            .expect("parses");
        Config::from_cli(cli, &Env::from_pairs(env.iter().copied()))
    }

    #[test]
    fn one_manifest_policy_for_every_command() {
        for cmd in ["validate", "plan", "diff", "whoami", "export"] {
            let c = config(&[cmd], &[]).expect("config");
            let choice = match c.command {
                Cmd::Validate(m) | Cmd::Diff(m) | Cmd::Whoami(m) => m,
                Cmd::Plan(p) => p.manifest,
                Cmd::Export(e) => e.manifest,
                other => panic!("{other:?}"),
            };
            assert_eq!(choice, ManifestChoice::Default, "{cmd}");
            assert_eq!(choice.paths(), vec![Path::new(DEFAULT_MANIFEST)]);
        }
        let c = config(&["plan", "-f", "-"], &[]).expect("config");
        let Cmd::Plan(p) = c.command else { panic!() };
        assert_eq!(p.manifest, ManifestChoice::Given(vec![PathBuf::from("-")]));
        let c = config(&["apply", "--plan", "p.json", "-f", "m.yaml"], &[]).expect("config");
        let Cmd::Apply(a) = c.command else { panic!() };
        assert_eq!(
            a.source,
            ApplySource::Saved {
                plan: PathBuf::from("p.json"),
                manifests: vec![PathBuf::from("m.yaml")]
            }
        );
        assert_eq!(a.max_plan_age, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn retries_come_from_the_flag_then_hw_max_retries_and_are_checked() {
        let c = config(&["plan"], &[("HW_MAX_RETRIES", "2")]).expect("config");
        assert_eq!(c.client.retry.max_retries, 2);
        let c =
            config(&["plan", "--max-retries", "7"], &[("HW_MAX_RETRIES", "2")]).expect("config");
        assert_eq!(c.client.retry.max_retries, 7);
        let e = config(&["plan"], &[("HW_MAX_RETRIES", "many")]).expect_err("refused");
        assert!(e.to_string().contains("HW_MAX_RETRIES is `many`"), "{e}");
        let c = config(&["plan", "--concurrency", "3", "--timeout", "5s"], &[]).expect("config");
        assert_eq!(
            (c.client.concurrency, c.client.request_timeout),
            (3, Duration::from_secs(5))
        );
    }

    #[test]
    fn guard_overrides_formats_and_refusals_are_settled_before_any_io() {
        let c = config(
            &[
                "apply",
                "--auto-approve",
                "--format",
                "json",
                "--max-delete",
                "4",
            ],
            &[],
        )
        .expect("config");
        let Cmd::Apply(a) = c.command else { panic!() };
        assert!(a.json && a.auto_approve);
        assert_eq!(a.overrides.max_delete, Some(4));
        let e = config(&["apply", "--format", "json"], &[]).expect_err("cannot ask");
        assert!(
            e.to_string().contains("cannot ask for a confirmation"),
            "{e}"
        );
        let e = config(&["plan", "--project-id", " "], &[]).expect_err("empty");
        assert!(e.to_string().contains("--project-id is empty"), "{e}");
        let c = config(&["plan"], &[(ENV_PLAN_KEY, "k\n")]).expect("config");
        assert!(c.plan_key.is_some());
        assert_eq!(
            c.client.redact.len(),
            1,
            "the plan key is scrubbed from server text"
        );
        assert!(!format!("{c:?}").contains("k\\n"), "no key in Debug");
    }
}
