//! Which proxy https requests use, read from the environment the way curl reads it.
//!
//! Only https endpoints ever use a proxy: a plain-http endpoint is a loopback one (the
//! emulator; `config::check_endpoint` refuses any other), and sending its signed requests with
//! their tokens to a proxy in clear is what must not happen. For https: `https_proxy`, else
//! `HTTPS_PROXY`, else `all_proxy`, else `ALL_PROXY` (an empty value counts as unset), and
//! hosts matching `no_proxy`/`NO_PROXY` go direct. `HTTP_PROXY` is never used.

/// A proxy for https requests.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// The variable it came from.
    pub variable: &'static str,
    /// The proxy URL, `http://` prepended when it has no scheme, as curl does (it may hold a
    /// user and password: never shown).
    pub url: String,
    /// `host[:port]` of the proxy, the only part that is logged.
    pub host: String,
    /// The `no_proxy` list, if one is set.
    pub no_proxy: Option<String>,
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySetting")
            .field("variable", &self.variable)
            .field("host", &self.host)
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

/// The https proxy `get` (an environment lookup) names, if any.
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<ProxySetting> {
    let set = |name: &'static str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(|v| (name, v))
    };
    let (variable, url) = set("https_proxy")
        .or_else(|| set("HTTPS_PROXY"))
        .or_else(|| set("all_proxy"))
        .or_else(|| set("ALL_PROXY"))?;
    let no_proxy = set("no_proxy").or_else(|| set("NO_PROXY")).map(|(_, v)| v);
    let url = with_scheme(&url);
    Some(ProxySetting {
        variable,
        host: host_of(&url),
        url,
        no_proxy,
    })
}

fn with_scheme(raw: &str) -> String {
    if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    }
}

/// `host[:port]` of a proxy URL without any user or password; `(unparsable)` when it is not
/// a URL.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => "(no host)".to_owned(),
        },
        Err(_) => "(unparsable)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn http_proxy_is_never_used_and_https_proxy_wins_like_curl() {
        assert_eq!(from_env(env(&[("HTTP_PROXY", "http://p:1")])), None);
        assert_eq!(from_env(env(&[("http_proxy", "http://p:1")])), None);
        let p = from_env(env(&[
            ("ALL_PROXY", "http://all:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("https_proxy", "http://lower:3"),
        ]));
        assert_eq!(
            p.map(|p| (p.variable, p.host)),
            Some(("https_proxy", "lower:3".to_owned()))
        );
        let p = from_env(env(&[("https_proxy", " "), ("ALL_PROXY", "all:8080")]));
        assert_eq!(
            p.map(|p| (p.variable, p.host, p.url)),
            Some((
                "ALL_PROXY",
                "all:8080".to_owned(),
                "http://all:8080".to_owned()
            ))
        );
    }

    #[test]
    fn the_password_of_a_proxy_is_never_shown() {
        let p = from_env(env(&[
            ("HTTPS_PROXY", "http://user:pa55word@proxy.corp:3128"),
            ("NO_PROXY", ".internal,10.0.0.0/8"),
        ]));
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("pa55word") && !shown.contains("user"),
            "{shown}"
        );
        assert!(shown.contains("proxy.corp:3128"), "{shown}");
        assert_eq!(
            p.and_then(|p| p.no_proxy).as_deref(),
            Some(".internal,10.0.0.0/8")
        );
    }
}
