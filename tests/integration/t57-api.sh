#!/usr/bin/env bash
# The API's shape: GET /v1/openapi.json is generated from the route table and
# matches docs/api.md; query parameters are checked against what a route
# takes; every DELETE answers {"deleted": [...]}; jobs answer 202.
here=$(cd "$(dirname "$0")" && pwd)
docs=$here/../../docs/api.md
. "$here/lib.sh"
setup_daemon

test_expect "GET /v1/openapi.json describes every route, and docs/api.md documents each" '
	api GET /v1/openapi.json | sed "\$d" >openapi.json &&
	jq -e ".openapi == \"3.0.3\" and (.paths | length) > 40" openapi.json &&
	jq -e ".paths[\"/v1/vms/{vm}/{action}\"].post.responses | has(\"202\")" openapi.json &&
	jq -e "[.paths[][] | .summary] | all(type == \"string\" and length > 0)" openapi.json &&
	python3 "$here/apidocs.py" openapi.json "$docs"
'
test_expect "query parameters are checked against the route: unknown, bad bool, bad number" '
	api GET "/v1/vms?bogus=1" | tee out | tail -n1 | grep -q "HTTP 400" && grep -q "unknown query parameter" out &&
	api GET "/v1/host?x=1" | tail -n1 | grep -q "HTTP 400" &&
	api DELETE "/v1/vms/nosuch?disks=maybe" | tee out | tail -n1 | grep -q "HTTP 400" && grep -q "true or false" out &&
	api GET "/v1/events?limit=ten" | tee out | tail -n1 | grep -q "HTTP 400" && grep -q "whole number" out &&
	api GET "/v1/events?limit=0" | tail -n1 | grep -q "HTTP 400" &&
	api GET "/v1/vms?select=name:x" | tail -n1 | grep -q "HTTP 200"
'
test_expect "every DELETE answers {\"deleted\": [...]}" '
	corral disk create v1 1M >/dev/null &&
	api DELETE /v1/volumes/v1 | sed "\$d" | jq -e ".deleted == [\"v1\"]" &&
	mkdir -p "$T/p1" && corral pool create p1 "$T/p1" >/dev/null &&
	api DELETE /v1/pools/p1 | sed "\$d" | jq -e ".deleted == [\"p1\"]" &&
	corral vm create d1 --memory 64M >/dev/null &&
	api DELETE /v1/vms/d1 | sed "\$d" | jq -e ".deleted == [\"d1\"] and .volumes_deleted == []"
'
test_expect "operations that start jobs answer 202 with the job" '
	create_guest j1 >/dev/null &&
	api POST /v1/vms/j1/start | tee out | tail -n1 | grep -q "HTTP 202" &&
	sed "\$d" out | jq -e ".job.type == \"start\" and (.job.id | type == \"number\")" &&
	id=$(sed "\$d" out | jq .job.id) && api GET "/v1/events?follow=true&job=$id" >/dev/null &&
	api POST /v1/vms/j1/kill | tail -n1 | grep -q "HTTP 202"
'
test_expect "vm edit cannot overwrite a change it never saw: ETag and If-Match" '
	corral vm create e1 --memory 64M >/dev/null &&
	api GET /v1/vms/e1 >/dev/null &&
	etag=$(curl -sS -D - -o /dev/null --unix-socket "$SOCK" http://corral/v1/vms/e1 | tr -d "\r" | sed -n "s/^ETag: //ip") &&
	[ -n "$etag" ] &&
	corral vm show e1 --json | jq "del(.status) | .cpus = 2" >mine.json &&
	corral vm edit e1 --cpus 3 &&
	code=$(curl -sS -o ans -w "%{http_code}" --unix-socket "$SOCK" -X PUT -H "If-Match: $etag" \
		-H "Content-Type: application/json" --data-binary @mine.json http://corral/v1/vms/e1) &&
	[ "$code" = 412 ] && jq -e ".error.code == \"precondition_failed\"" ans && cat ans &&
	[ "$(corral vm show e1 --json | jq .cpus)" = 3 ] &&
	etag=$(curl -sS -D - -o /dev/null --unix-socket "$SOCK" http://corral/v1/vms/e1 | tr -d "\r" | sed -n "s/^ETag: //ip") &&
	code=$(curl -sS -o ans -w "%{http_code}" --unix-socket "$SOCK" -X PUT -H "If-Match: $etag" \
		-H "Content-Type: application/json" --data-binary @mine.json http://corral/v1/vms/e1) &&
	[ "$code" = 200 ] && [ "$(corral vm show e1 --json | jq .cpus)" = 2 ] &&
	code=$(curl -sS -o ans -w "%{http_code}" --unix-socket "$SOCK" -X PUT -H "If-Match: bogus" \
		-H "Content-Type: application/json" --data-binary @mine.json http://corral/v1/vms/e1) && [ "$code" = 400 ]
'
test_expect "a stored definition that no longer validates is shown with why, never dropped, and cannot start" '
	corral vm create bad1 --memory 64M >/dev/null &&
	python3 -c "import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute(\"UPDATE vms SET def = json_set(def, \x27$.cpus\x27, 9999) WHERE name = \x27bad1\x27\")
db.commit()" "$STATE/state.db" &&
	corral vm list --json | jq -e ".vms[] | select(.name == \"bad1\") | .status.invalid | test(\"cpus\")" &&
	corral vm show bad1 --json | jq -e ".status.invalid | length > 0" &&
	fails corral vm start bad1 2>err && cat err && grep -qi "invalid\|cpus" err &&
	corral vm delete --yes bad1
'
finish
