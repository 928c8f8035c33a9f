#!/usr/bin/env bash
# Debian packages for the real-server tests: Redis (standalone/cluster/sentinel), Prometheus with
# promtool, PostgreSQL 15, openssl (throwaway CA and certificates for the TLS tests), and
# docker-compose for the offline compose.yml check.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The packages start system services on install; the tests start their own on free ports.
for s in redis-server prometheus postgresql; do (service "$s" stop >/dev/null 2>&1 || true); done
redis-server --version
prometheus --version 2>&1 | head -1
/usr/lib/postgresql/15/bin/postgres --version
openssl version
