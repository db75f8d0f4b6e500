#!/usr/bin/env python3
"""Check the built-in DCS emulator with the official Huawei Cloud Python SDK (DcsClient).

Usage: python check_emulator_with_sdk.py [EMULATOR_URL] [-v]
  EMULATOR_URL  default http://127.0.0.1:8080; the emulator must run with the AK/SK/project id
                below and the default sample instances (start it fresh: the check deletes some).
                Sections 7-11 (recycle bin, tags, Cloud Eye, metadata credentials) also need
                the activity and temporary credentials below; the ignored integration test
                `emulator::sdk_check` starts such an emulator and runs this script (see
                docs/emulator-sdk-check.md). Against a plain `dcs-reconcile emulator` the
                metadata section is skipped and the activity check fails.
  -v            also print every request the SDK sent (method, URL, headers, body; the
                Authorization header without its Signature value).

Needs huaweicloudsdkcore, huaweicloudsdkdcs and huaweicloudsdkces (see docs/emulator-sdk-check.md).
Starts nothing itself and talks only to EMULATOR_URL: the SDK's metadata address is pointed at it.
Exits non-zero if anything is not as expected.
"""

import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkdcs.v2 import (BatchCreateOrDeleteTagsRequest, BatchDeleteBody,
                                  BatchDeleteInstancesRequest, CreateOrDeleteInstanceTags, DcsClient,
                                  DeleteSingleInstanceRequest, ListInstancesRequest, ResourceTag,
                                  ShowInstanceRequest, ShowTagsRequest)

AK, SK = "AKEXAMPLE1234567890A", "SKEXAMPLEsecretKey0123456789abcdefghijKL"
PID = "0123456789abcdef0123456789abcdef"
# The temporary credentials and the activity the `emulator::sdk_check` test configures.
TEMP_AK, TEMP_SK, TEMP_TOKEN = "TEMPAKEXAMPLE0000001", "temp-secret-key-0123456789", "temp-security-token-abcdef"
ACTIVE = ("orders-cache", 12.0, 40.0)  # name, instantaneous_ops, connections while active
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


def client(sk=SK, credentials=None, kind=DcsClient):
    # A plain http:// endpoint is used as is: the SDK only prepends https:// to endpoints that
    # do not start with "http", and without TLS no HttpConfig (ignore_ssl_verification) is needed.
    handler = HttpHandler()
    if VERBOSE:
        handler.add_response_handler(show_request)
    return (kind.new_builder()
            .with_credentials(credentials or BasicCredentials(AK, sk, PID))
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
        check(e.status_code == status and str(e.error_code) == code and bool(e.request_id),
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

print("7. recycle bin: batch delete with is_recycle (a dict body: the SDK model has no is_recycle)")
num, by_name = list_all(c)
sess = by_name["sessions"].instance_id
r = c.batch_delete_instances(BatchDeleteInstancesRequest(body={"instances": [sess], "is_recycle": True}))
print("  results: %s" % [(x.instance, x.result) for x in r.results or []])
check([(x.instance, x.result) for x in r.results or []] == [(sess, "success")], "sessions -> success")
num2, by_name2 = list_all(c)
check("sessions" not in by_name2 and num2 == num - 1, "sessions no longer listed")
expect_error("show the deleted instance", lambda: c.show_instance(ShowInstanceRequest(instance_id=sess)),
             404, "DCS.3022")
shown = c.show_instance(ShowInstanceRequest(instance_id=by_name["orders-cache"].instance_id))
check(shown.name == "orders-cache" and shown.status == "RUNNING", "ShowInstance parses orders-cache")
one = by_name["dcs-8b1c-000"].instance_id
r = c.delete_single_instance(DeleteSingleInstanceRequest(instance_id=one))
print("  single delete -> HTTP %s" % r.status_code)
check(r.status_code == 204 and "dcs-8b1c-000" not in list_all(c)[1], "single delete: 204, instance gone")

print("8. tags")
oid = by_name["orders-cache"].instance_id
tags = [ResourceTag(key="dcs-reconcile:pending-delete", value="2026-12-01T08:00:00Z"), ResourceTag(key="team", value="a")]
r = c.batch_create_or_delete_tags(BatchCreateOrDeleteTagsRequest(
    instance_id=oid, body=CreateOrDeleteInstanceTags(action="create", tags=tags)))
check(r.status_code == 204, "create two tags: HTTP 204")
c.batch_create_or_delete_tags(BatchCreateOrDeleteTagsRequest(
    instance_id=oid, body=CreateOrDeleteInstanceTags(action="create", tags=[ResourceTag(key="team", value="b")])))
got = c.show_tags(ShowTagsRequest(instance_id=oid))
pairs = sorted((t.key, t.value) for t in got.tags or [])
print("  ShowTags: %s" % pairs)
check(pairs == [("dcs-reconcile:pending-delete", "2026-12-01T08:00:00Z"), ("team", "b")],
      "create overwrote team=a with team=b")
r = c.list_instances(ListInstancesRequest(limit=1000, tags="team=b"))
names = [i.name for i in r.instances or []]
print("  list tags=team=b: %s, tags parsed: %s" % (names, [(t.key, t.value) for t in r.instances[0].tags or []] if r.instances else None))
check(names == ["orders-cache"], "listing filter tags=team=b")
expect_error("tag key with '/'", lambda: c.batch_create_or_delete_tags(BatchCreateOrDeleteTagsRequest(
    instance_id=oid, body=CreateOrDeleteInstanceTags(action="create", tags=[ResourceTag(key="a/b", value="v")]))),
    400, "DCS.4800")
c.batch_create_or_delete_tags(BatchCreateOrDeleteTagsRequest(
    instance_id=oid, body=CreateOrDeleteInstanceTags(action="delete", tags=[ResourceTag(key="team")])))
pairs = sorted((t.key, t.value) for t in c.show_tags(ShowTagsRequest(instance_id=oid)).tags or [])
check(pairs == [("dcs-reconcile:pending-delete", "2026-12-01T08:00:00Z")], "delete by key removed team")

print("9. Cloud Eye batch query (CesClient v1)")
from huaweicloudsdkces.v1 import (BatchListMetricDataRequest, BatchListMetricDataRequestBody, CesClient,
                                  MetricInfo, MetricsDimension, ShowMetricDataRequest)
ces = client(kind=CesClient)
now = int(time.time() * 1000)
ids = {n: by_name[n].instance_id for n in ("orders-cache", "billing-cache")}
metrics = [MetricInfo(namespace="SYS.DCS", metric_name=m, dimensions=[MetricsDimension(name="dcs_instance_id", value=ids[n])])
           for n in ("orders-cache", "billing-cache") for m in ("instantaneous_ops", "total_connections_received")]
r = ces.batch_list_metric_data(BatchListMetricDataRequest(body=BatchListMetricDataRequestBody(
    metrics=metrics, period="300", filter="max", _from=now - 3600 * 1000, to=now)))
for m in r.metrics or []:
    vals = [p.max for p in m.datapoints or []]
    print("  %s %s: %d points, max values %s" % (m.dimensions[0].value[:8], m.metric_name, len(vals), sorted(set(vals))))
vals = [[p.max for p in m.datapoints or []] for m in r.metrics or []]
check(len(vals) == 4 and all(11 <= len(v) <= 13 for v in vals), "4 metrics, 12 or 13 five-minute points each (from is rounded down to the period)")
check(set(vals[0]) == {ACTIVE[1]} and set(vals[1]) == {ACTIVE[2]}, "orders-cache busy: ops %s, connections %s" % ACTIVE[1:])
check(set(vals[2]) == {0.0} and set(vals[3]) == {0.0}, "billing-cache idle: 0")
r = ces.batch_list_metric_data(BatchListMetricDataRequest(body=BatchListMetricDataRequestBody(
    metrics=metrics[:1], period="300", filter="max", _from=now - 7 * 86400 * 1000, to=now)))
n = len(r.metrics[0].datapoints or [])
check(288 <= n <= 289, "a week at period 300 is shortened to one day (%d points)" % n)
# Cloud Eye's error body is {"code": 400, "message": ..., "details": {"details", "code": "ces.0014"}}:
# the SDK's handler takes code+message, so it reports error_code 400 (an int; ces.0014 is lost).
expect_error("period 2", lambda: ces.batch_list_metric_data(BatchListMetricDataRequest(body=BatchListMetricDataRequestBody(
    metrics=metrics[:1], period="2", filter="max", _from=now - 1000, to=now))), 400, "400")
expect_error("from = to", lambda: ces.batch_list_metric_data(BatchListMetricDataRequest(body=BatchListMetricDataRequestBody(
    metrics=metrics[:1], period="300", filter="max", _from=now, to=now))), 400, "400")
r = ces.show_metric_data(ShowMetricDataRequest(namespace="SYS.DCS", metric_name="instantaneous_ops",
                                               dim_0="dcs_instance_id," + ids["orders-cache"], filter="max",
                                               period=300, _from=now - 3600 * 1000, to=now))
print("  ShowMetricData: %s, %d points, first %s" % (r.metric_name, len(r.datapoints or []), r.datapoints[0] if r.datapoints else None))
check(r.metric_name == "instantaneous_ops" and {p.max for p in r.datapoints or []} == {ACTIVE[1]},
      "ShowMetricData parses the same datapoints")

print("10. an instance id holding an encoded '/'")
try:
    c.show_instance(ShowInstanceRequest(instance_id="a/b"))
    check(False, "id with a slash: expected 404")
except ClientRequestException as e:
    print("  GET /v2/<pid>/instances/a%%2Fb -> %s" % e)
    check(e.status_code == 404 and e.error_code == "DCS.3022", "404 DCS.3022, no routing confusion")

print("11. metadata credentials (the SDK's metadata address pointed at the emulator)")
import requests
from huaweicloudsdkcore.auth.internal import MetadataAccessor
MetadataAccessor._METADATA_ENDPOINT = URL  # never 169.254.169.254
if requests.get(URL + "/openstack/latest/securitykey", timeout=3).status_code == 404:
    print("  skipped: this emulator has no metadata credentials")
else:
    creds = BasicCredentials(project_id=PID)  # no AK/SK: the SDK asks the metadata service
    mc = client(credentials=creds)
    num3, _ = list_all(mc)
    print("  SDK took AK %s and a security token; listing -> instance_num=%s" % (creds.ak, num3))
    check(creds.ak == TEMP_AK and creds.security_token == TEMP_TOKEN, "temporary AK and security token from the metadata service")
    check(num3 == len(list_all(c)[1]), "signed listing with the temporary credentials accepted")

print("FAILED: %s" % "; ".join(failures) if failures else "ALL CHECKS PASSED")
sys.exit(1 if failures else 0)
