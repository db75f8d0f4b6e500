#!/usr/bin/env python3
"""Generate tests/data/sign_vectors.json with the official Huawei Cloud Python SDK.

Needs huaweicloudsdkcore==3.1.219 (see tests/data/README.md). Works offline: nothing is
sent anywhere, the SDK's Signer only computes headers.

Every case is signed twice:
  * by the SDK: huaweicloudsdkcore.signer.signer.Signer(BasicCredentials(ak, sk, pid)).sign(SdkRequest(...)),
    exactly as in section 5b of the DCS API notes (schema "https", headers given to the signer,
    the SDK adds Host);
  * by my_sign, the independent re-implementation from the same notes, which also yields the
    canonical request and string to sign that are recorded.
The script stops with an error if the two Authorization values differ, or if the three worked
examples of the notes do not give the Authorization values printed there.

Output: a JSON array of case objects with the fields
  name, ak, sk, method, host, path, query, headers, body_utf8,
  canonical_request, string_to_sign, authorization, url
("query" = pairs after the SDK's own value conversion, in the order given; "headers" = the
SDK's header_params after signing, minus Authorization, in the order they end up in).
"""

import copy
import hashlib
import hmac
import json
import os
import sys
from importlib.metadata import version
from urllib.parse import quote, unquote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

SDK_VERSION = "3.1.219"

AK, SK = "AKEXAMPLE1234567890A", "SKEXAMPLEsecretKey0123456789abcdefghijKL"
PID, HOST, DATE = "0123456789abcdef0123456789abcdef", "dcs.ap-southeast-1.myhuaweicloud.com", "20240101T000000Z"
INSTANCES = "/v2/%s/instances" % PID

# Authorization values printed in the worked example (section 5b) of the DCS API notes.
DOC_AUTH = {
    "doc_1_list_instances":
        "SDK-HMAC-SHA256 Access=AKEXAMPLE1234567890A, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=a693f4c8b32b4a0d868fdd78e414e1ca6a410dd6119e7c020103be8aa95f3c87",
    "doc_2_batch_delete_instances":
        "SDK-HMAC-SHA256 Access=AKEXAMPLE1234567890A, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=fe33ef966082b4916e8bb84fc900dd0bc7d60c9f81ff6bb533f4f2e185f1a02b",
    "doc_3_temp_credentials_encoded_query":
        "SDK-HMAC-SHA256 Access=AKEXAMPLE1234567890A, SignedHeaders=content-type;host;x-project-id;x-sdk-date;"
        "x-security-token, Signature=222d51237780fa847b8fb99fb892a57bb76e8da347f2ae5b1064cae3edc29da0",
}


# --- independent re-implementation, as in the notes -------------------------------------------
def enc(s):  # RFC 3986 unreserved chars stay, everything else %XX (uppercase hex)
    return quote(s, safe="~")


def my_sign(ak, sk, method, path, query, headers, body):
    """Independent re-implementation (no SDK) used to cross-check the SDK output.

    Same as the notes' version, with one addition: when the body is non-empty and an
    X-Sdk-Content-Sha256 header is present, its value replaces the body hash (the notes'
    step 7; the worked examples never hit this)."""
    uri = "/".join(enc(seg) for seg in unquote(path).split("/"))
    uri += "" if uri.endswith("/") else "/"
    cq = "&".join("%s=%s" % (enc(k), enc(str(v).lower() if isinstance(v, bool) else str(v)))
                  for k, v in sorted(query))
    signed = sorted(k.lower() for k in headers if "_" not in k)
    low = {k.lower(): str(v).strip() for k, v in headers.items()}
    payload = hashlib.sha256(body or b"").hexdigest()
    if body and "x-sdk-content-sha256" in low:
        payload = low["x-sdk-content-sha256"]
    creq = "\n".join([method, uri, cq, "".join("%s:%s\n" % (k, low[k]) for k in signed),
                      ";".join(signed), payload])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (low["x-sdk-date"], hashlib.sha256(creq.encode()).hexdigest())
    sig = hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return creq, sts, "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (ak, ";".join(signed), sig)


# --- helpers -----------------------------------------------------------------------------------
def sdk_query_pairs(query):
    """The (key, value) string pairs the SDK signs: bool -> "true"/"false", list -> repeated key
    (values in the order given; the SDK sorts them), anything else -> str(value)."""
    out = []
    for k, v in query:
        if isinstance(v, list):
            out.extend((k, str(x)) for x in v)
        elif isinstance(v, bool):
            out.append((k, str(v).lower()))
        else:
            out.append((k, str(v)))
    return out


def expected_headers(headers, host):
    """What the SDK is expected to add: Host, and X-Sdk-Content-Sha256 for non-JSON/BSON types."""
    h = dict(headers)
    ct = h.get("Content-Type")
    if ct and not ct.startswith("application/json") and not ct.startswith("application/bson"):
        h["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    if not any(k.lower() == "host" for k in h):
        h["Host"] = host
    return h


CASES = []


def case(name, method, path, query, headers, body=None, host=HOST, ak=AK, sk=SK, pid=PID):
    if isinstance(body, str):
        body = body.encode("utf-8")
    req = SdkRequest(method=method, schema="https", host=host, resource_path=path,
                     query_params=copy.deepcopy(list(query)), header_params=dict(headers), body=body)
    Signer(BasicCredentials(ak, sk, pid)).sign(req)  # official SDK signer
    sdk_auth = req.header_params["Authorization"]
    sent = [[k, v] for k, v in req.header_params.items() if k != "Authorization"]

    pairs = sdk_query_pairs(query)
    mine = expected_headers(headers, host)
    creq, sts, auth = my_sign(ak, sk, method, path, pairs, mine, body)
    if auth != sdk_auth:
        sys.exit("MISMATCH in case %r:\n  SDK:  %s\n  mine: %s\n--- my canonical request:\n%s"
                 % (name, sdk_auth, auth, creq))
    # the header set the SDK sends must be the one my_sign signed (names, stripped values)
    if sorted((k, str(v).strip()) for k, v in mine.items()) != sorted((k, v) for k, v in sent):
        sys.exit("HEADER MISMATCH in case %r:\n  SDK:  %r\n  mine: %r" % (name, sent, mine))
    if name in DOC_AUTH and sdk_auth != DOC_AUTH[name]:
        sys.exit("case %r does not reproduce the notes:\n  got:  %s\n  want: %s" % (name, sdk_auth, DOC_AUTH[name]))
    if any(c["name"] == name for c in CASES):
        sys.exit("duplicate case name %r" % name)

    CASES.append({
        "name": name,
        "ak": ak,
        "sk": sk,
        "method": method,
        "host": host,
        "path": path,
        "query": [[k, v] for k, v in pairs],
        "headers": sent,
        "body_utf8": (body or b"").decode("utf-8"),
        "canonical_request": creq,
        "string_to_sign": sts,
        "authorization": sdk_auth,
        "url": req.url,
    })
    return req


# --- the cases ---------------------------------------------------------------------------------
def main():
    got = version("huaweicloudsdkcore")
    if got != SDK_VERSION:
        print("warning: huaweicloudsdkcore %s installed, the committed vectors were made with %s"
              % (got, SDK_VERSION), file=sys.stderr)
    base = {"Content-Type": "application/json", "X-Sdk-Date": DATE, "X-Project-Id": PID}

    # 1-3: the worked examples of the notes, unchanged.
    case("doc_1_list_instances", "GET", INSTANCES, [("offset", 0), ("limit", 1000)], base)
    body = json.dumps({"instances": ["11111111-2222-3333-4444-555555555555",
                                     "66666666-7777-8888-9999-000000000000"]}).encode()
    case("doc_2_batch_delete_instances", "DELETE", INSTANCES, [("all_failure", False)],
         dict(base, **{"Content-Type": "application/json;charset=UTF-8"}), body)
    case("doc_3_temp_credentials_encoded_query", "GET", INSTANCES,
         [("name", "my redis/01"), ("limit", 10), ("offset", 0)],
         dict(base, **{"X-Security-Token": "tempTOKENexample"}))

    # Query values.
    case("query_reserved_chars", "GET", INSTANCES,
         [("name", "a b/c~d+e=f&g"), ("star", "*!'()"), ("pct", "100%"), ("colon", "x:y;z,w"),
          ("unreserved", "AZaz09-_.~")],
         base)
    case("query_unicode", "GET", INSTANCES,
         [("name", "café-缓存"), ("emoji", "redis 😀"), ("limit", 10)], base)
    case("query_empty_value", "GET", INSTANCES, [("name", ""), ("offset", 0), ("marker", "")], base)
    case("query_repeated_key_list", "GET", INSTANCES,
         [("status", ["RUNNING", "ERROR", "CREATEFAILED"]), ("limit", 50)], base)
    # raw order "x.y" < "x/y" but encoded "x%2Fy" < "x.y": the SDK sorts BEFORE encoding
    case("query_repeated_key_sort_before_encoding", "GET", INSTANCES,
         [("name", ["x/y", "x.y", "x y", "X"])], base)
    case("query_repeated_key_as_separate_pairs", "GET", INSTANCES,
         [("tag", "b"), ("limit", 5), ("tag", "a")], base)
    case("query_bool_values", "GET", INSTANCES,
         [("all_failure", True), ("include_failures", False), ("offset", 0)], base)
    case("query_key_needs_encoding", "GET", INSTANCES,
         [("tag key", "v 1"), ("a/b", "1"), ("k=v", "2"), ("ключ", "значение")], base)
    # raw order "z" < "é" but encoded "%C3%A9" < "z"; "B" < "a" (code point order, case-sensitive)
    case("query_key_sort_before_encoding_and_case", "GET", INSTANCES,
         [("é", "1"), ("z", "2"), ("a", "3"), ("B", "4"), ("a.", "5"), ("a/", "6")], base)
    case("query_none", "GET", INSTANCES, [], base)

    # Hosts with ports.
    case("host_ip_with_port", "GET", INSTANCES, [("offset", 0), ("limit", 1000)], base, host="127.0.0.1:8080")
    case("host_localhost_with_port", "DELETE", INSTANCES, [],
         base, body=json.dumps({"instances": ["11111111-2222-3333-4444-555555555555"]}),
         host="localhost:39999")

    # Paths.
    case("path_space_and_unicode_raw", "GET", "/v2/%s/my dir/café-缓存/a+b~c" % PID, [], base)
    case("path_space_and_unicode_preencoded", "GET",
         "/v2/%s/my%%20dir/caf%%C3%%A9-%%E7%%BC%%93%%E5%%AD%%98/a%%2Bb~c" % PID, [], base)
    # The SDK percent-decodes the path before splitting on "/", so %2F becomes a separator.
    case("path_encoded_slash", "GET", "/v2/%s/instances/a%%2Fb" % PID, [], base)
    case("path_trailing_slash", "GET", INSTANCES + "/", [("limit", 1)], base)
    case("path_instance_id", "GET", INSTANCES + "/11111111-2222-3333-4444-555555555555", [], base)

    # Bodies.
    case("delete_empty_body", "DELETE", INSTANCES, [], base)
    case("delete_empty_bytes_body", "DELETE", INSTANCES, [], base, body=b"")
    ids = ["11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"]
    case("body_json_default_separators", "DELETE", INSTANCES, [],
         base, body=json.dumps({"instances": ids}))
    case("body_json_compact_separators", "DELETE", INSTANCES, [],
         base, body=json.dumps({"instances": ids}, separators=(",", ":")))
    case("body_json_post", "POST", INSTANCES + "/batch-ops", [("action", "delete")],
         base, body=json.dumps({"instances": ids, "all": False}, separators=(",", ":")))
    case("body_unicode_utf8", "PUT", INSTANCES + "/11111111-2222-3333-4444-555555555555", [],
         base, body=json.dumps({"name": "café-缓存 😀", "description": "naïve"}, ensure_ascii=False))
    case("body_unicode_ascii_escaped", "PUT", INSTANCES + "/11111111-2222-3333-4444-555555555555", [],
         base, body=json.dumps({"name": "café-缓存 😀", "description": "naïve"}))

    # Headers.
    case("header_value_spaces_trimmed", "GET", INSTANCES, [("limit", 1)],
         dict(base, **{"X-Custom-Header": "  two  inner spaces kept\t ", "x-MiXeD-Case": " v "}))
    case("header_name_with_underscore_not_signed", "GET", INSTANCES, [("limit", 1)],
         dict(base, **{"X_Trace_Id": "trace-123", "X-Request-Hint": "ok"}))
    case("header_empty_value", "GET", INSTANCES, [("limit", 1)], dict(base, **{"X-Empty": ""}))
    case("header_no_content_type", "GET", INSTANCES, [("limit", 1)],
         {"X-Sdk-Date": DATE, "X-Project-Id": PID})
    case("header_other_date", "GET", INSTANCES, [("offset", 0), ("limit", 1000)],
         dict(base, **{"X-Sdk-Date": "20251231T235959Z"}))

    # Temporary credentials (another AK/SK pair, as STS hands out).
    tmp_ak, tmp_sk = "TMPAKEXAMPLE7654321Z", "TMPSKexampleSecret0987654321zyxwvutsrqPO"
    token = "gQpjbi1ub3J0aC00+temp/TOKEN==example"
    case("temp_credentials_security_token", "DELETE", INSTANCES, [],
         dict(base, **{"X-Security-Token": token}),
         body=json.dumps({"instances": ids}), ak=tmp_ak, sk=tmp_sk)
    # Cross-check: the SDK's own credential path (BasicCredentials.sign_request) adds X-Project-Id and
    # X-Security-Token itself and must give the same Authorization.
    req = SdkRequest(method="DELETE", schema="https", host=HOST, resource_path=INSTANCES, query_params=[],
                     header_params={"Content-Type": "application/json", "X-Sdk-Date": DATE},
                     body=json.dumps({"instances": ids}).encode())
    BasicCredentials(tmp_ak, tmp_sk, PID).with_security_token(token).sign_request(req)
    if req.header_params["Authorization"] != CASES[-1]["authorization"]:
        sys.exit("BasicCredentials.sign_request disagrees with Signer for temp credentials")

    # Content types the SDK does not hash: it adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD (signed).
    case("content_type_text_plain_with_body", "POST", INSTANCES + "/notes", [],
         dict(base, **{"Content-Type": "text/plain"}), body="hello world\n")
    # ...but with an empty body the empty-body hash is used, even though the header is sent.
    case("content_type_text_plain_empty_body", "DELETE", INSTANCES, [],
         dict(base, **{"Content-Type": "text/plain"}))
    case("content_type_octet_stream", "PUT", INSTANCES + "/blob", [],
         dict(base, **{"Content-Type": "application/octet-stream"}), body=b"opaque bytes, not hashed")
    # The prefix test is case-sensitive: "Application/JSON" counts as non-JSON.
    case("content_type_json_uppercase_is_unsigned", "POST", INSTANCES, [],
         dict(base, **{"Content-Type": "Application/JSON"}), body=json.dumps({"instances": ids}))
    # ...and any "application/json..." prefix counts as JSON.
    case("content_type_json_patch_prefix", "PATCH", INSTANCES + "/11111111-2222-3333-4444-555555555555", [],
         dict(base, **{"Content-Type": "application/json-patch+json"}), body='[{"op":"remove","path":"/x"}]')

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sign_vectors.json")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(CASES, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print("wrote %d cases to %s" % (len(CASES), out))


if __name__ == "__main__":
    main()
