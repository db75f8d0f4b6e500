//! The API client against hostile or broken servers ([`crate::server`]): listings that never
//! end, unreadable entries, gateways that echo secrets, redirects, proxies, deletes that must
//! not be resent. Each test runs the real binary.

use crate::server::{Reply, Request, Server};
use crate::support::*;

const SECURITY_TOKEN: &str = "tempTOKEN-secret-4d5e6f";
const AUTH_TOKEN: &str = "MIIauth-token-secret-7a8b9c";

/// One listing entry.
fn entry(id: &str) -> serde_json::Value {
    serde_json::json!({"instance_id": id, "name": format!("n-{id}"), "status": "RUNNING",
        "charging_mode": 0})
}

/// A full page of 1,000 distinct instances.
fn full_page(instance_num: Option<u64>) -> serde_json::Value {
    let instances: Vec<serde_json::Value> = (0..1000)
        .map(|n| entry(&format!("00000000-0000-0000-0000-{n:012}")))
        .collect();
    match instance_num {
        Some(n) => serde_json::json!({"instance_num": n, "instances": instances}),
        None => serde_json::json!({"instances": instances}),
    }
}

/// Runs the binary in a fresh folder whose manifest points at `server`, with AK/SK and `env`.
fn run_against(server: &Server, env: &[(&str, &str)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let manifest = format!(
        "project_id: {PID}\nendpoint: {}\ninstances:\n  - name: keep-me\n",
        server.url()
    );
    std::fs::write(dir.path().join("dcs.yaml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    let mut all: Vec<(String, String)> = vec![
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    run_in(dir.path(), args, &all)
}

#[test]
fn a_server_ignoring_offset_without_instance_num_is_caught_at_the_second_page() {
    let server = Server::start(|_| Reply::json(200, &full_page(None)));
    let run = run_against(&server, &[], &["plan"]).expect(1);
    assert!(
        run.stderr.contains("the server ignores `offset`"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 2, "{}", run.stderr);
}

#[test]
fn a_server_ignoring_offset_with_instance_num_is_caught_and_not_read_again() {
    let server = Server::start(|_| Reply::json(200, &full_page(Some(5000))));
    let run = run_against(&server, &[], &["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("holds the same 1000 instances as the page before it"),
        "{}",
        run.stderr
    );
    // The first page and the four others it implies, once: never the endless loop.
    assert!(server.requests().len() <= 5, "{}", server.requests().len());
}

#[test]
fn an_absurd_instance_num_fails_at_once_without_reading_on() {
    let server = Server::start(|_| Reply::json(200, &full_page(Some(1_000_000_000_000))));
    let run = run_against(&server, &[], &["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("instance_num is 1000000000000, more than the 1000000 instances"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_empty_instance_id_makes_the_listing_unreadable() {
    let server = Server::start(|_| {
        Reply::json(
            200,
            &serde_json::json!({"instance_num": 2, "instances": [entry("a-1"), entry("")]}),
        )
    });
    let run = run_against(&server, &[], &["plan"]).expect(1);
    let e = &run.stderr;
    assert!(e.contains("empty `instance_id`"), "{e}");
    assert!(e.contains("the page at offset 0"), "{e}");
    assert!(e.contains(&format!("/v2/{PID}/instances?")), "{e}");
    assert!(
        !run.stdout.contains("a-1"),
        "no plan from an unreadable listing"
    );
}

/// Every secret a request carried: the SK, the tokens, the full AK, and the signature.
fn assert_no_secret(run: &Run, requests: &[Request]) {
    let all = format!("{}\n{}", run.stdout, run.stderr);
    for s in [SK, AK, SECURITY_TOKEN, AUTH_TOKEN] {
        assert!(!all.contains(s), "{s} leaked:\n{all}");
    }
    for r in requests {
        if let Some(sig) = r
            .header("authorization")
            .and_then(|a| a.split("Signature=").nth(1))
        {
            assert!(!all.contains(sig), "the signature leaked:\n{all}");
        }
    }
}

#[test]
fn secrets_echoed_in_an_error_message_and_a_request_id_never_reach_the_output() {
    let server = Server::start(|r| {
        Reply::json(
            401,
            &serde_json::json!({"error_code": "APIGW.0301",
                "error_msg": format!("unknown AK {AK}; you sent:\n{}", r.header_text()),
                "request_id": format!("gw-{SK}")}),
        )
        .with_header("X-Request-Id", &format!("rid-{SECURITY_TOKEN}"))
    });
    let run = run_against(
        &server,
        &[("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN)],
        &["plan", "-vvv"],
    )
    .expect(1);
    let requests = server.requests();
    assert!(
        requests[0].header("x-security-token") == Some(SECURITY_TOKEN),
        "the test must send the token it looks for"
    );
    assert!(run.stderr.contains("HTTP 401 APIGW.0301"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown AK AKTE…0001"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Signature=(redacted)"),
        "{}",
        run.stderr
    );
    assert_no_secret(&run, &requests);
}

#[test]
fn secrets_echoed_in_an_html_page_never_reach_the_output() {
    let server = Server::start(|r| {
        Reply::html(502, &format!("<html><pre>{}</pre></html>", r.header_text()))
    });
    let run = run_against(
        &server,
        &[("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN)],
        &["plan", "-vvv", "--max-retries", "1"],
    )
    .expect(1);
    assert!(run.stderr.contains("HTTP 502"), "{}", run.stderr);
    assert_no_secret(&run, &server.requests());
}

#[test]
fn an_echoed_auth_token_never_reaches_the_output() {
    let server = Server::start(|r| {
        Reply::json(
            401,
            &serde_json::json!({"error_code": "APIGW.0301", "error_msg": r.header_text()}),
        )
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let manifest = format!(
        "project_id: {PID}\nendpoint: {}\ninstances:\n  - name: keep-me\n",
        server.url()
    );
    std::fs::write(dir.path().join("dcs.yaml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    let run = run_in(
        dir.path(),
        &["plan", "-vvv"],
        &[("HW_AUTH_TOKEN".to_owned(), AUTH_TOKEN.to_owned())],
    )
    .expect(1);
    let requests = server.requests();
    assert_eq!(requests[0].header("x-auth-token"), Some(AUTH_TOKEN));
    assert!(
        run.stderr.contains("x-auth-token: (redacted)"),
        "{}",
        run.stderr
    );
    assert_no_secret(&run, &requests);
}

#[test]
fn a_redirect_names_its_location_and_is_not_followed() {
    let server = Server::start(|_| {
        Reply::html(302, "").with_header("Location", "https://login.example.com/sso?from=dcs")
    });
    let run = run_against(&server, &[], &["plan"]).expect(1);
    assert!(
        run.stderr
            .contains("HTTP 302: redirected to https://login.example.com/sso?from=dcs"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_delete_answered_503_is_not_resent_before_a_listing() {
    let p = Project::with_config(EmulatorConfig {
        faults: vec!["delete:503".parse().expect("a fault")],
        ..signed(generated(3))
    });
    p.manifest("instances:\n  - name: gen-000000\n");
    p.run(&["apply", "--auto-approve"]).expect(0);
    let order: Vec<(String, u16)> = p
        .requests()
        .iter()
        .skip(1)
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        order,
        [
            ("DELETE".to_owned(), 503),
            ("GET".to_owned(), 200),
            ("DELETE".to_owned(), 200)
        ],
        "a 503 may come after the service acted: list first, then send what is still there"
    );
}

#[test]
fn a_delete_answer_without_results_is_not_taken_for_success() {
    let server = Server::start(|r| {
        if r.method == "DELETE" {
            Reply::json(200, &serde_json::json!({}))
        } else {
            Reply::json(
                200,
                &serde_json::json!({"instance_num": 1, "instances": [entry("gone-1")]}),
            )
        }
    });
    let run = run_against(&server, &[], &["apply", "--auto-approve"]).expect(4);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("no result for this instance"), "{all}");
    assert!(
        all.contains("UNKNOWN  n-gone-1 (gone-1): outcome unknown"),
        "{all}"
    );
    let body = server
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned());
    assert_eq!(body.as_deref(), Some(r#"{"instances":["gone-1"]}"#));
}

#[test]
fn a_proxy_never_sees_requests_to_a_plain_http_loopback_endpoint() {
    let proxy = Server::start(|_| Reply::html(502, "proxy"));
    let p = Project::new(sample());
    p.manifest("instances:\n  - name: keep-me\n");
    let mut env = p.env.clone();
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        env.push((var.to_owned(), proxy.url()));
    }
    run_in(p.dir.path(), &["plan"], &env).expect(0);
    assert_eq!(proxy.connections(), 0, "the proxy was contacted");
    assert!(!p.requests().is_empty());
}

#[test]
fn an_https_endpoint_goes_through_https_proxy_and_only_its_host_is_logged() {
    let proxy = Server::start(|_| Reply::html(502, "no upstream"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // `.invalid` never resolves: only the proxy is ever contacted.
    let manifest = format!(
        "project_id: {PID}\nendpoint: https://dcs.example.invalid\ninstances:\n  - name: k\n"
    );
    std::fs::write(dir.path().join("dcs.yaml"), manifest).unwrap_or_else(|e| panic!("{e}"));
    let proxy_url = proxy
        .url()
        .replace("http://", "http://proxyuser:proxy-pa55@");
    let env = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "other.example.invalid"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let run = run_in(dir.path(), &["plan", "-v", "--max-retries", "0"], &env).expect(1);
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{}", run.stderr);
    assert_eq!(requests[0].method, "CONNECT");
    assert_eq!(requests[0].target, "dcs.example.invalid:443");
    let port = proxy
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        run.stderr.contains(&format!("proxy=127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("proxy-pa55") && !run.stderr.contains("proxyuser"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_echoes_secrets_into_instance_names_never_gets_them_printed() {
    let server = Server::start(|r| {
        // The gateway copies the request's signature and the SK into the listing.
        let sig = r
            .header("authorization")
            .and_then(|a| a.split("Signature=").nth(1))
            .unwrap_or_default()
            .to_owned();
        Reply::json(
            200,
            &serde_json::json!({"instance_num": 2, "instances": [
                {"instance_id": "echo-1", "name": format!("leak-{SK}"), "status": "RUNNING",
                 "charging_mode": 0, "tags": [{"key": "k", "value": format!("Signature={sig}")}],
                 "spec_code": format!("redis.{SK}")},
                // The same spec code: the two instances share one value of it.
                {"instance_id": "echo-2", "name": "n-echo-2", "status": "RUNNING",
                 "charging_mode": 0, "spec_code": format!("redis.{SK}")},
            ]}),
        )
    });
    let run = run_against(&server, &[], &["plan", "-v", "--format", "json"]).expect(0);
    assert!(!run.stdout.contains(SK), "{}", run.stdout);
    assert!(run.stdout.contains("\"leak-(redacted)\""), "{}", run.stdout);
    let run = run_against(&server, &[], &["plan", "-v"]).expect(0);
    assert_no_secret(&run, &server.requests());
    // `export` prints each instance's spec code.
    let run = run_against(&server, &[], &["export", "-f", "dcs.yaml"]).expect(0);
    assert_eq!(
        run.stdout.matches("redis.(redacted)").count(),
        2,
        "{}",
        run.stdout
    );
    assert_no_secret(&run, &server.requests());
}

#[test]
fn a_slow_page_holds_only_its_own_slot_and_the_listing_stays_in_order() {
    // 4,000 instances, `--concurrency 2`: after the first page, 1000 and 2000 are read
    // together; 2000 answers at once, so 3000 must be asked for while 1000 is still on its
    // way (it waits up to 5 s for that). The plan still lists all 4,000, each page's ids once.
    use std::sync::atomic::{AtomicBool, Ordering};
    let third_asked = std::sync::Arc::new(AtomicBool::new(false));
    let overtaken = std::sync::Arc::new(AtomicBool::new(false));
    let (asked, seen) = (third_asked.clone(), overtaken.clone());
    let server = Server::start(move |r| {
        let offset: usize = r.query("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        if offset == 3000 {
            asked.store(true, Ordering::SeqCst);
        }
        if offset == 1000 {
            for _ in 0..100 {
                if asked.load(Ordering::SeqCst) {
                    seen.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let instances: Vec<serde_json::Value> = (offset..offset + 1000)
            .map(|n| entry(&format!("00000000-0000-0000-0000-{n:012}")))
            .collect();
        Reply::json(
            200,
            &serde_json::json!({"instance_num": 4000, "instances": instances}),
        )
    });
    let run = run_against(
        &server,
        &[],
        &["plan", "--format", "json", "--concurrency", "2"],
    )
    .expect(0);
    assert!(
        overtaken.load(Ordering::SeqCst),
        "the page at offset 3000 waited for the slow page at 1000"
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let ids: Vec<&str> = doc["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 4000);
    let distinct: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(distinct.len(), 4000);
    assert_eq!(server.requests().len(), 4);
}
