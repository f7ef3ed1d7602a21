#!/usr/bin/env bash
# Sourced by .ci/run: starts a throw-away PostgreSQL server on loopback for the registry's PG tests
# and exports PEDIGREE_TEST_PG. (Filled in by the registry work.)
true
