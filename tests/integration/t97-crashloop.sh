#!/usr/bin/env bash
# The crash loop (tests/crashloop.sh) at ROUNDS=3 for `make check`: kill -9
# corrald at random moments of every kind of job, restart it, check that
# nothing half made is kept and every job record tells the truth.
# `make soak` runs the same with more rounds.
ROUNDS=${CRASHLOOP_ROUNDS:-3} exec bash "$(dirname "$0")/../crashloop.sh"
