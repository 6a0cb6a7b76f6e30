#!/usr/bin/env bash
# Metrics (docs/metrics.md): corrald samples a running guest every second
# (metrics_interval 1); a busy loop and disk writes inside the guest show in
# `vm stats` as CPU use rising and bytes written; a real Prometheus (Debian's
# `prometheus`) scrapes GET /metrics over TLS with an Auditor's API token and
# a PromQL rate() over the guest's CPU counter answers; /metrics needs a
# token with Sys.Audit on / over TCP; a stopped (SIGSTOP) QEMU holds up
# neither the sampler nor the API; the history survives a restart of
# corrald and goes when the VM is deleted.
. "$(dirname "$0")/lib.sh"

PORT=$((20000 + RANDOM % 20000))
PPORT=$((PORT + 1))
URL=https://127.0.0.1:$PORT
PROM_PID=
trap '[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; cleanup' EXIT
start_daemon --listen "127.0.0.1:$PORT" --metrics-interval 1 || { FAILED=$((FAILED + 1)); exit 1; }
CRT=$STATE/tls/host.crt

# stat_of JSON NAME [LABEL VALUE]: the series NAME (with that disk/nic label) of a stats answer.
stat_of() { jq -c --arg n "$2" --arg l "${3:-}" --arg v "${4:-}" \
	'.series[] | select(.name == $n and ($l == "" or .[$l] == $v))' "$1"; }
# above X Y: X > Y (numbers, X may be null)
above() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x != "null" && x + 0 > y + 0) }'; }

test_expect "a running guest is sampled: vm stats and /metrics show its CPU, memory, balloon and disk" '
	create_guest m1 >/dev/null && corral disk create d1 64M >/dev/null && corral disk attach m1 d1 >/dev/null &&
	corral vm stats m1 | grep -q "^no samples of m1" &&
	boot m1 && guest_sh m1 "cat /sys/block/vda/size" 60 | grep -qx 131072 && sleep 2 &&
	corral vm stats m1 --since 1m --json >s.json &&
	above "$(stat_of s.json memory_rss | jq .current)" 50000000 &&
	[ "$(stat_of s.json balloon | jq .current)" = 268435456 ] &&
	stat_of s.json cpu | jq -e ".unit == \"%\" and (.points | length) >= 3" &&
	stat_of s.json disk_write disk d1 | jq -e ".unit == \"bytes/s\"" &&
	api GET /metrics >m.txt && grep -q "^HTTP 200" m.txt &&
	grep -q "^# TYPE corral_vm_cpu_seconds_total counter" m.txt &&
	grep -q "^corral_vm_cpu_seconds_total{host=\"[^\"]*\",vm=\"m1\"} [0-9.e+]*$" m.txt &&
	grep -q "^corral_vm_memory_rss_bytes{host=\"[^\"]*\",vm=\"m1\"} [0-9]*$" m.txt &&
	grep -q "^corral_vm_disk_written_bytes_total{host=\"[^\"]*\",vm=\"m1\",disk=\"d1\"} " m.txt &&
	grep -q "^corral_pool_used_bytes{host=\"[^\"]*\",pool=\"default\"} " m.txt &&
	grep -q "^corral_host_memory_total_bytes" m.txt &&
	curl -s -D hdr -o /dev/null --unix-socket "$SOCK" http://corral/metrics &&
	grep -qi "^content-type: text/plain; version=0.0.4" hdr
'

# cpu_last N: the average CPU percent of m1's last N samples (null if none).
cpu_last() {
	corral vm stats m1 --since 1m --json |
		jq "[.series[] | select(.name == \"cpu\") | .points[-$1:][] | .[1] | select(. != null)] | if length > 0 then add / length else null end"
}

test_expect "a busy loop and disk writes in the guest show in vm stats as CPU rising and bytes written" '
	for _ in $(seq 1 20); do idle=$(cpu_last 3); above "$idle" 15 || break; sleep 1; done &&
	guest_sh m1 "(while :; do :; done) >/dev/null 2>&1 &" &&
	guest_sh m1 "dd if=/dev/urandom of=/dev/vda bs=1M count=16 conv=fsync" 60 &&
	for _ in $(seq 1 20); do busy=$(cpu_last 3); above "$busy" "$(awk -v i="$idle" "BEGIN { print i + 15 }")" && break; sleep 1; done &&
	echo "cpu idle $idle% busy $busy%" &&
	above "$busy" 20 && above "$busy" "$(awk -v i="$idle" "BEGIN { print i + 15 }")" &&
	for _ in $(seq 1 20); do
		corral vm stats m1 --since 1m --json >busy.json &&
		written=$(stat_of busy.json disk_write disk d1 | jq "[.points[][1] | select(. != null)] | add") &&
		above "$written" 8000000 && break
		sleep 1
	done &&
	echo "written $written bytes by the rates" && above "$written" 8000000 &&
	stat_of busy.json cpu | jq -e ".max > 20" &&
	stat_of busy.json disk_write_ops disk d1 | jq -e ".max > 0" &&
	for _ in $(seq 1 20); do
		api GET /metrics | grep "^corral_vm_disk_written_bytes_total{.*disk=\"d1\"}" >w.txt
		awk "{ exit !(\$2 >= 16777216) }" w.txt && break
		sleep 0.5
	done &&
	cat w.txt && awk "{ exit !(\$2 >= 16777216) }" w.txt &&
	corral vm stats m1 --since 1m >table.txt && cat table.txt &&
	grep -q "^m1, last 1m00s, one value per 1s:" table.txt &&
	grep -Eq "^cpu +[0-9.]+% +[0-9.]+% +[0-9.]+%" table.txt &&
	grep -Eq "^disk d1 write +[^ ]+ +[^ ]+ +[0-9.]+[KMG]/s" table.txt &&
	corral host stats --since 1m >host.txt && grep -Eq "^cpu +[0-9.]+%" host.txt && grep -q "^pool default used" host.txt &&
	corral host stats --json | jq -e "[.series[].name] | index(\"load1\") and index(\"memory_used\")"
'

test_expect "stats refuse a bad range; /metrics over TCP needs a token with Sys.Audit on /" '
	fails corral vm stats m1 --since 10x 2>err && grep -q "invalid since" err &&
	api GET "/v1/host/stats?since=400d" | grep -q "at most 366 days" &&
	api GET "/v1/vms/m1/stats?sincee=1h" | grep -q "unknown query parameter" &&
	printf "%s\n" "prom-password-1" | corral user add prom >/dev/null &&
	corral token add prom scrape >prom.tok && TOK=$(tail -n1 prom.tok) &&
	corral acl add prom Auditor / >/dev/null && corral acl add prom!scrape Auditor / >/dev/null &&
	printf "%s\n" "m1-password-1" | corral user add m1ro >/dev/null && corral acl add m1ro Auditor /vms/m1 >/dev/null &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" "$URL/metrics")" = 401 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" -u m1ro:m1-password-1 "$URL/metrics")" = 403 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" -u m1ro:m1-password-1 "$URL/v1/vms/m1/stats")" = 200 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CRT" -u m1ro:m1-password-1 "$URL/v1/host/stats")" = 403 ] &&
	curl -sf --cacert "$CRT" -H "Authorization: Bearer $TOK" "$URL/metrics" | grep -q "vm=\"m1\""
'

test_expect "a real Prometheus scrapes /metrics and rate(corral_vm_cpu_seconds_total) answers for the guest" '
	command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/install-deps.sh)"; return 1; }
	printf "%s" "$TOK" >token && chmod 600 token &&
	cat >prom.yml <<-EOF || return 1
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: corral
	    scheme: https
	    metrics_path: /metrics
	    authorization:
	      type: Bearer
	      credentials_file: $T/token
	    tls_config:
	      ca_file: $CRT
	    static_configs:
	      - targets: ["127.0.0.1:$PORT"]
	EOF
	prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" --web.listen-address="127.0.0.1:$PPORT" \
		>"$T/prometheus.log" 2>&1 &
	PROM_PID=$! # (prometheus itself: a command of its own, not the tail of an && list)
	q="rate(corral_vm_cpu_seconds_total{vm=\"m1\"}[5s])" ok= &&
	for _ in $(seq 1 60); do
		curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$q" >q.json 2>/dev/null &&
			jq -e ".status == \"success\" and (.data.result | length) == 1 and (.data.result[0].value[1] | tonumber) > 0.1" q.json >/dev/null &&
			{ ok=1; break; }
		sleep 0.5
	done
	cat q.json; echo
	[ -n "$ok" ] || { tail -n 20 "$T/prometheus.log"; return 1; }
	jq -e ".data.result[0].metric.vm == \"m1\" and .data.result[0].metric.job == \"corral\"" q.json &&
	curl -s "http://127.0.0.1:$PPORT/api/v1/targets" | jq -e ".data.activeTargets[0].health == \"up\"" &&
	curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=corral_pool_used_bytes{pool=\"default\"}" |
		jq -e "(.data.result[0].value[1] | tonumber) > 0"
'
[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
PROM_PID=

test_expect "a QEMU that does not answer costs the sampler one short wait and never holds up the API" '
	pid=$(corral vm show m1 --json | jq -r .status.pid) && [ "$pid" -gt 0 ] &&
	kill -STOP "$pid" && sleep 3 &&
	grep -q "vm m1: QEMU did not answer the metrics sampler within 1000 ms" "$T/corrald.log" &&
	t0=$(date +%s%N) && api GET /metrics | grep -q "^corral_vm_cpu_seconds_total{.*vm=\"m1\"}" &&
	corral vm stats m1 --since 1m >/dev/null && corral host info >/dev/null &&
	ms=$(( ($(date +%s%N) - t0) / 1000000 )) && echo "metrics, stats and host info in $ms ms" && [ "$ms" -lt 1500 ] &&
	n0=$(api GET /metrics | awk "/^corral_metrics_samples_total/ { print \$2 }") && sleep 2 &&
	n1=$(api GET /metrics | awk "/^corral_metrics_samples_total/ { print \$2 }") && [ "$n1" -gt "$n0" ] &&
	kill -CONT "$pid"
'
kill -CONT "$(corral vm show m1 --json 2>/dev/null | jq -r .status.pid)" 2>/dev/null

test_expect "the history survives a restart of corrald and goes with the deleted VM" '
	uuid=$(corral vm show m1 --json | jq -r .uuid) && [ -f "$STATE/metrics/vms/$uuid/vm.rrd" ] &&
	[ -f "$STATE/metrics/vms/$uuid/disk-d1.rrd" ] && [ -f "$STATE/metrics/host.rrd" ] &&
	before=$(date +%s) && stop_daemon && start_daemon --listen "127.0.0.1:$PORT" --metrics-interval 1 &&
	corral vm stats m1 --since 5m --json >after.json &&
	stat_of after.json cpu | jq -e --argjson b "$before" "[.points[] | select(.[0] < \$b and .[1] != null and .[1] > 20)] | length >= 2" &&
	corral vm kill m1 >/dev/null && corral vm delete --yes m1 >/dev/null &&
	[ ! -e "$STATE/metrics/vms/$uuid" ] && [ -f "$STATE/metrics/host.rrd" ]
'

finish
