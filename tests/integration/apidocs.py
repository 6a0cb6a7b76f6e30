#!/usr/bin/env python3
"""apidocs.py OPENAPI.json DOCS.md - every route of the OpenAPI document is
documented in the routes table of docs/api.md (a line "| `METHOD /v1/...`",
or "| `GET /metrics`"),
and every documented route exists.  "{x}" in either matches any one segment.
Prints what does not match and exits 1."""
import json
import re
import sys

spec = json.load(open(sys.argv[1]))
routes = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
docs = []
for line in open(sys.argv[2]):
    m = re.match(r"\| `(GET|POST|PUT|DELETE) (/v1/[^` ?\[]*|/metrics)", line)
    if m:
        docs.append((m.group(1), m.group(2)))


def matches(a, b):
    sa, sb = a.strip("/").split("/"), b.strip("/").split("/")
    return len(sa) == len(sb) and all(x == y or x.startswith("{") or y.startswith("{") for x, y in zip(sa, sb))


bad = False
for m, p in routes:
    if not any(dm == m and matches(p, dp) for dm, dp in docs):
        print(f"route missing from docs/api.md: {m} {p}")
        bad = True
for m, p in docs:
    if not any(rm == m and matches(rp, p) for rm, rp in routes):
        print(f"docs/api.md documents a route that does not exist: {m} {p}")
        bad = True
sys.exit(1 if bad else 0)
