#!/usr/bin/env python3
"""Check the built-in DCS emulator with the official Huawei Cloud Python SDK (DcsClient).

Usage: python check_emulator_with_sdk.py [EMULATOR_URL] [-v]
  EMULATOR_URL  default http://127.0.0.1:8080; the emulator must run with the AK/SK/project id
                below and the default sample instances (start it fresh: the check deletes some).
  -v            also print every request the SDK sent (method, URL, headers, body; the
                Authorization header without its Signature value).

Needs huaweicloudsdkcore and huaweicloudsdkdcs (see docs/emulator-sdk-check.md). Starts nothing
itself and talks only to EMULATOR_URL. Exits non-zero if anything is not as expected.
"""

import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkdcs.v2 import (BatchDeleteBody, BatchDeleteInstancesRequest, DcsClient,
                                  ListInstancesRequest)

AK, SK = "AKEXAMPLE1234567890A", "SKEXAMPLEsecretKey0123456789abcdefghijKL"
PID = "0123456789abcdef0123456789abcdef"
SAMPLE = {"dcs-8b1c-000", "dcs-8b1c-001", "orders-cache", "sessions", "ci-pr-1841", "ci-pr-1852", "billing-cache"}

args = [a for a in sys.argv[1:] if a != "-v"]
URL = args[0] if args else "http://127.0.0.1:8080"
VERBOSE = "-v" in sys.argv[1:]
failures = []


def check(ok, what):
    print("  [%s] %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def show_request(**kw):
    # Response handler: kw["response"].request is the request exactly as requests sent it.
    req = kw["response"].request
    print("    > %s %s -> %s" % (req.method, req.url, kw["response"].status_code))
    for name, value in req.headers.items():
        if name.lower() == "authorization":
            value = value.split("Signature=")[0] + "Signature=<redacted>"
        print("      %s: %s" % (name, value))
    if req.body:
        print("      body: %s" % (req.body.decode() if isinstance(req.body, bytes) else req.body))


def client(sk=SK):
    # A plain http:// endpoint is used as is: the SDK only prepends https:// to endpoints that
    # do not start with "http", and without TLS no HttpConfig (ignore_ssl_verification) is needed.
    handler = HttpHandler()
    if VERBOSE:
        handler.add_response_handler(show_request)
    return (DcsClient.new_builder()
            .with_credentials(BasicCredentials(AK, sk, PID))
            .with_endpoints([URL])
            .with_http_handler(handler)
            .build())


def list_all(c):
    r = c.list_instances(ListInstancesRequest(offset=0, limit=1000, include_failure="true"))
    return r.instance_num, {i.name: i for i in r.instances or []}


def expect_error(what, call, status, code):
    try:
        call()
        check(False, "%s: expected HTTP %s %s, got success" % (what, status, code))
    except ClientRequestException as e:
        print("  %s -> %s" % (what, e))
        check(e.status_code == status and e.error_code == code and bool(e.request_id),
              "%s: status %s, error_code %s, request id %r" % (what, e.status_code, e.error_code, e.request_id))


c = client()

print("1. list all (offset=0, limit=1000, include_failure=true)")
num, by_name = list_all(c)
print("  instance_num=%s names=%s" % (num, sorted(by_name)))
check(num == 7 and set(by_name) == SAMPLE, "the 7 sample instances")
check(getattr(by_name.get("ci-pr-1852"), "status", None) == "CREATEFAILED"
      and getattr(by_name.get("billing-cache"), "charging_mode", None) == 1,
      "parsed fields: ci-pr-1852 CREATEFAILED, billing-cache charging_mode 1")
if failures:
    sys.exit("FAILED: not the 7 sample instances; start a fresh emulator (the check deletes some)")

print("2. paging with limit=2")
seen, offset = [], 0
while True:
    page = c.list_instances(ListInstancesRequest(offset=offset, limit=2, include_failure="true"))
    names = [i.name for i in page.instances or []]
    print("  offset=%d instance_num=%s names=%s" % (offset, page.instance_num, names))
    check(page.instance_num == num and len(names) <= 2, "page at offset %d" % offset)
    if not names:
        break
    seen += names
    offset += len(names)
check(sorted(seen) == sorted(by_name) and len(seen) == len(set(seen)), "pages cover every instance exactly once")

print("3. batch delete two instances, an unknown id and the prepaid billing-cache")
ids = [by_name["dcs-8b1c-001"].instance_id, by_name["ci-pr-1841"].instance_id,
       "00000000-0000-0000-0000-000000000000", by_name["billing-cache"].instance_id]
r = c.batch_delete_instances(BatchDeleteInstancesRequest(body=BatchDeleteBody(instances=ids)))
results = {x.instance: x.result for x in r.results or []}
for i in ids:
    print("  %s -> %s" % (i, results.get(i)))
check([results.get(i) for i in ids] == ["success", "success", "failed", "failed"],
      "per-id results success, success, failed, failed")

print("4. list again")
num2, by_name2 = list_all(c)
print("  instance_num=%s names=%s" % (num2, sorted(by_name2)))
check(num2 == 5 and not {"dcs-8b1c-001", "ci-pr-1841"} & set(by_name2) and "billing-cache" in by_name2,
      "dcs-8b1c-001 and ci-pr-1841 gone, billing-cache still there")

print("5. wrong SK")
expect_error("list with wrong SK", lambda: list_all(client(sk=SK[:-1] + "X")), 401, "APIGW.0301")

print("6. limit=0")
expect_error("list with limit=0", lambda: c.list_instances(ListInstancesRequest(limit=0)), 400, "DCS.4800")

print("FAILED: %s" % "; ".join(failures) if failures else "ALL CHECKS PASSED")
sys.exit(1 if failures else 0)
