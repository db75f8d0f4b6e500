//! Tests of `deletion:`, the idle guards and `ces_endpoint:`.

use super::*;

fn parse_str(text: &str) -> Result<Manifest> {
    parse(text.as_bytes(), Path::new("dcs.yaml"))
}

fn error_of(text: &str) -> String {
    match parse_str(text) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn deletion_settings_parse_with_defaults_and_refuse_what_cannot_work() -> Result<()> {
    use crate::model::Deletion;
    use std::time::Duration;
    assert_eq!(
        parse_str("instances: []\n")?.rules.deletion,
        Deletion::default()
    );
    let m = parse_str(
        "deletion:\n  recycle_bin: true\n  require_recoverable: true\n  grace: 1d\ninstances: []\n",
    )?;
    assert_eq!(
        m.rules.deletion,
        Deletion {
            recycle_bin: true,
            require_recoverable: true,
            grace: Some(Duration::from_secs(86_400)),
        }
    );
    let m = parse_str("deletion: {grace: 1h}\ninstances: []\n")?;
    assert_eq!(m.rules.deletion.grace, Some(Duration::from_secs(3600)));
    assert!(!m.rules.deletion.recycle_bin);
    for (text, message) in [
        (
            "deletion: {require_recoverable: true}\n",
            "dcs.yaml: `deletion.require_recoverable: true` needs `deletion.recycle_bin: true`",
        ),
        (
            "deletion: {recycle_bin: false, require_recoverable: true}\n",
            "needs `deletion.recycle_bin: true`",
        ),
        (
            "deletion: {grace: 59m}\n",
            "deletion.grace: invalid grace `59m`: at least 1h",
        ),
        (
            "deletion: {grace: 7200}\n",
            "invalid grace `7200`: give a unit",
        ),
        ("deletion: {grace: soon}\n", "invalid grace `soon`"),
        ("deletion: {recycle_bin: yes}\n", "expected a boolean"),
        ("deletion: {recycle: true}\n", "unknown field `recycle`"),
        ("deletion: [a]\n", "expected a mapping (`recycle_bin`"),
        ("deletion:\n  grace:\n", "no value given"),
    ] {
        let e = error_of(&format!("{text}instances: []\n"));
        assert!(e.contains(message), "{text}: {e}");
        assert!(e.starts_with("dcs.yaml"), "{text}: {e}");
    }
    Ok(())
}

#[test]
fn idle_guards_parse_and_are_bounded() -> Result<()> {
    use crate::model::NonNegative;
    use std::time::Duration;
    let m = parse_str(
        "guards:\n  idle_for: 7d\n  idle_max_ops: 0.5\n  idle_max_connections: 3\ninstances: []\n",
    )?;
    let g = &m.rules.guards;
    assert_eq!(g.idle_for, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(g.idle_max_ops, NonNegative::new(0.5));
    assert_eq!(g.idle_max_connections, Some(3));
    let m = parse_str("guards: {idle_for: 180d, idle_max_ops: 0}\ninstances: []\n")?;
    assert_eq!(m.rules.guards.idle_max_ops.map(NonNegative::get), Some(0.0));
    assert_eq!(parse_str("instances: []\n")?.rules.guards.idle_for, None);
    for (text, message) in [
        (
            "guards: {idle_for: 181d}\n",
            "guards.idle_for: invalid idle_for `181d`: at most 180d",
        ),
        (
            "guards: {idle_for: 0s}\n",
            "invalid idle_for `0s`: at least 1s",
        ),
        ("guards: {idle_for: 3600}\n", "give a unit"),
        (
            "guards: {idle_for: 1d, idle_max_ops: -1}\n",
            "`-1` is negative",
        ),
        (
            "guards: {idle_for: 1d, idle_max_ops: .nan}\n",
            "is not a number of zero or more",
        ),
        (
            "guards: {idle_for: 1d, idle_max_ops: .inf}\n",
            "is not a number of zero or more",
        ),
        (
            "guards: {idle_for: 1d, idle_max_ops: '5'}\n",
            "invalid type: string",
        ),
        (
            "guards: {idle_for: 1d, idle_max_connections: -1}\n",
            "integer `-1`, expected a whole number, zero or more",
        ),
        (
            "guards: {idle_for: 1d, idle_max_connections: 1.5}\n",
            "invalid type",
        ),
        (
            "guards: {idle_max_ops: 1}\n",
            "dcs.yaml: `guards.idle_max_ops` and `guards.idle_max_connections` need `guards.idle_for`",
        ),
        (
            "guards: {idle_max_connections: 0}\n",
            "need `guards.idle_for`",
        ),
    ] {
        let e = error_of(&format!("{text}instances: []\n"));
        assert!(e.contains(message), "{text}: {e}");
    }
    Ok(())
}

#[test]
fn ces_endpoint_is_a_checked_url() -> Result<()> {
    let m = parse_str("ces_endpoint: https://ces.cn-north-4.myhuaweicloud.com\ninstances: []\n")?;
    assert_eq!(
        m.ces_endpoint.as_deref(),
        Some("https://ces.cn-north-4.myhuaweicloud.com")
    );
    assert_eq!(parse_str("instances: []\n")?.ces_endpoint, None);
    parse_str("ces_endpoint: http://127.0.0.1:9000\ninstances: []\n")?;
    for (value, message) in [
        ("http://ces.example.com", "refusing plain http://"),
        ("ftp://ces.example.com", "scheme `ftp`"),
        (
            "https://user:pw@ces.example.com",
            "must not hold a user name or password",
        ),
        ("https://ces.example.com/v1", "has a path"),
        ("not a url", "invalid endpoint"),
        ("~", "no value given for `ces_endpoint`"),
        ("''", "`ces_endpoint` is empty"),
    ] {
        let e = error_of(&format!("ces_endpoint: {value}\ninstances: []\n"));
        assert!(e.starts_with("dcs.yaml:1:"), "{value}: {e}");
        assert!(e.contains(message), "{value}: {e}");
        assert!(!e.contains("pw@"), "{value}: {e}");
    }
    Ok(())
}
