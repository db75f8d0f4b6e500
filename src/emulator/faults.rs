//! Fault injection for the emulator: a queue of faults, each consumed by the next request it
//! applies to, so that tests (and users rehearsing their pipelines) get exactly the failure
//! they ask for, in order.
//!
//! Spec: `<target>:<kind>[xN]`, e.g. `list:503x2`, `delete:lose-answer`, `list:insert`.
//!
//! | kind | effect |
//! |---|---|
//! | `500`, `502`, `503`, `504` | that HTTP status with a DCS (or Cloud Eye) error body; nothing is done |
//! | `400`, `401`, `403` | that status with the body of a refused request (403: a policy denial); nothing is done |
//! | `429` | HTTP 429, `Retry-After: 1` and an `APIGW.0308` body; nothing is done |
//! | `502-html` | a gateway's HTML error page with HTTP 502; nothing is done |
//! | `close` | the connection is closed without an answer; nothing is done |
//! | `lose-answer` | (delete) the deletion is carried out, then the connection is closed |
//! | `insert` | (list, pages after the first) a new instance appears before the page is read |
//! | `garbage` | HTTP 200 with a body that is not JSON |
//!
//! Targets: `list` (DCS and IAM GETs), `delete` (DCS DELETEs), `tag` (the tag call), `ces`
//! (Cloud Eye), `meta` (the metadata service), `any`.

use std::str::FromStr;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ces;
use super::routes::{Answer, Api, dcs_error};

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// DCS and IAM `GET`s (`GET …/instances`).
    List,
    /// DCS `DELETE`s (`DELETE …/instances`).
    Delete,
    /// `POST …/tags/action`.
    Tag,
    /// Cloud Eye's metric-data calls.
    Ces,
    /// The metadata service.
    Meta,
    /// Any request.
    Any,
}

/// What the fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answer this status (429 with `Retry-After` and `APIGW.0308`) and do nothing.
    Status(u16),
    /// A gateway's HTML error page (HTTP 502).
    Html,
    /// Close the connection without an answer.
    Close,
    /// Carry out the request, then close the connection without an answer.
    LoseAnswer,
    /// Insert a new instance before answering (a list page after the first).
    Insert,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
}

/// One injected fault, applied `times` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which requests.
    pub target: Target,
    /// What happens.
    pub kind: Kind,
    /// How many more requests it applies to.
    pub times: usize,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(spec: &str) -> Result<Fault, String> {
        let help = "expected <list|delete|tag|ces|meta|any>:<500|502|503|504|400|401|403|429|502-html|close|lose-answer|insert|garbage>[xN], e.g. list:503x2";
        let (target, rest) = spec
            .split_once(':')
            .ok_or_else(|| format!("`{spec}`: {help}"))?;
        let target = match target {
            "list" => Target::List,
            "delete" => Target::Delete,
            "tag" => Target::Tag,
            "ces" => Target::Ces,
            "meta" => Target::Meta,
            "any" => Target::Any,
            other => return Err(format!("`{spec}`: unknown target `{other}`; {help}")),
        };
        let (kind, times) = match rest.rsplit_once('x') {
            Some((k, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                (k, n.parse::<usize>().map_err(|e| format!("`{spec}`: {e}"))?)
            }
            _ => (rest, 1),
        };
        let kind = match kind {
            "500" => Kind::Status(500),
            "502" => Kind::Status(502),
            "503" => Kind::Status(503),
            "504" => Kind::Status(504),
            "400" => Kind::Status(400),
            "401" => Kind::Status(401),
            "403" => Kind::Status(403),
            "429" => Kind::Status(429),
            "502-html" => Kind::Html,
            "close" => Kind::Close,
            "lose-answer" => Kind::LoseAnswer,
            "insert" => Kind::Insert,
            "garbage" => Kind::Garbage,
            other => return Err(format!("`{spec}`: unknown fault `{other}`; {help}")),
        };
        if kind == Kind::LoseAnswer && !matches!(target, Target::Delete | Target::Tag | Target::Any)
        {
            return Err(format!("`{spec}`: lose-answer applies to delete and tag"));
        }
        if kind == Kind::Insert && target != Target::List {
            return Err(format!("`{spec}`: insert applies to list"));
        }
        if times == 0 {
            return Err(format!("`{spec}`: x0 injects nothing"));
        }
        Ok(Fault {
            target,
            kind,
            times,
        })
    }
}

impl Fault {
    /// True when this fault applies to a request of kind `request` (a route's target;
    /// [`Target::Any`] for a request no specific target covers), for a list page at `offset`.
    fn applies(&self, request: Target, offset: usize) -> bool {
        (self.target == Target::Any || self.target == request)
            && (self.kind != Kind::Insert || (request == Target::List && offset > 0))
    }
}

/// Takes the first fault that applies to this request, if any, counting it down.
pub fn take(queue: &mut Vec<Fault>, request: Target, offset: usize) -> Option<Kind> {
    let i = queue.iter().position(|f| f.applies(request, offset))?;
    let kind = queue[i].kind;
    queue[i].times -= 1;
    if queue[i].times == 0 {
        queue.remove(i);
    }
    Some(kind)
}

/// The answer of an injected status fault, in the service's own error format.
pub(super) fn injected(api: Api, code: u16, request_id: &str) -> Answer {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match (code, api) {
        (429, _) => json!({
            "error_code": "APIGW.0308",
            "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:5,time:1 second",
            "request_id": request_id,
        }),
        (401, _) => json!({
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information: the token has expired (injected by the emulator)",
            "request_id": request_id,
        }),
        (403, Api::Ces) => json!({
            "http_code": "403",
            "message": {
                "details": "Policy doesn't allow [ces:metricData:list] to be performed (injected by the emulator).",
                "code": "403",
            },
        }),
        (403, _) => dcs_error(
            "DCS.2003",
            "You do not have the permission to perform this operation (injected by the emulator).",
        ),
        (400, Api::Ces) => ces::error_body(
            400,
            "ces.0014",
            "Some content in message body is not correct (injected by the emulator).",
        ),
        (400, _) => dcs_error("DCS.4800", "Invalid request (injected by the emulator)."),
        (_, Api::Ces) => ces::error_body(
            code,
            "ces.0007",
            "Internal service error (injected by the emulator).",
        ),
        _ => dcs_error(
            "DCS.5000",
            "Internal server error (injected by the emulator).",
        ),
    };
    Answer::json(status, body)
}

/// A response whose body fails at once: the connection is dropped before a complete answer.
pub(super) fn cut_off() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "answer lost (injected by the emulator)",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(axum::http::header::CONTENT_LENGTH, "1000")
        .body(axum::body::Body::from_stream(failing))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The answer of an `html` or `garbage` fault (anything else: a plain 502).
pub(super) fn broken_answer(kind: Kind) -> Response {
    match kind {
        Kind::Garbage => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"instance_num\": 3, \"instances\": [{\"instance_id\": \"x\",\u{0}\u{1}garbage",
        )
            .into_response(),
        _ => (
            StatusCode::BAD_GATEWAY,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Fault {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn specs_parse() {
        assert_eq!(
            f("list:503x2"),
            Fault {
                target: Target::List,
                kind: Kind::Status(503),
                times: 2
            }
        );
        assert_eq!(f("delete:lose-answer").kind, Kind::LoseAnswer);
        assert_eq!(f("any:502-html").kind, Kind::Html);
        assert_eq!(f("list:insertx3").times, 3);
        assert_eq!(f("tag:500").target, Target::Tag);
        assert_eq!(f("ces:403").kind, Kind::Status(403));
        assert_eq!(f("meta:close").target, Target::Meta);
        for bad in [
            "list",
            "get:500",
            "list:418",
            "list:lose-answer",
            "delete:insert",
            "list:500x0",
            "ces:lose-answer",
            "ces:insert",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn faults_are_consumed_in_order_by_matching_requests() {
        let mut q = vec![
            f("delete:500"),
            f("list:503x2"),
            f("list:insert"),
            f("ces:403"),
        ];
        assert_eq!(take(&mut q, Target::List, 0), Some(Kind::Status(503)));
        // A Cloud Eye call takes only its own faults.
        assert_eq!(take(&mut q, Target::Ces, 0), Some(Kind::Status(403)));
        assert_eq!(take(&mut q, Target::Ces, 0), None);
        assert_eq!(take(&mut q, Target::List, 0), Some(Kind::Status(503)));
        // `insert` waits for a page after the first.
        assert_eq!(take(&mut q, Target::List, 0), None);
        assert_eq!(take(&mut q, Target::List, 1000), Some(Kind::Insert));
        assert_eq!(take(&mut q, Target::Tag, 0), None);
        assert_eq!(take(&mut q, Target::Delete, 0), Some(Kind::Status(500)));
        assert!(q.is_empty());
    }
}
