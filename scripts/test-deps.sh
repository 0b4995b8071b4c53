#!/usr/bin/env bash
# Installs what the tests need from Debian's packages and starts the local
# services the tests expect (Redis on 127.0.0.1:6379, NATS with JetStream on
# 127.0.0.1:4222) when they are not running. Idempotent.
set -euo pipefail

need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v baresip >/dev/null || need+=(baresip)
command -v tshark >/dev/null || need+=(tshark)
command -v redis-server >/dev/null || need+=(redis-server)
command -v nats-server >/dev/null || need+=(nats-server)
command -v rtpengine >/dev/null || need+=(rtpengine-daemon) # the load tool's comparison relay
command -v chromium >/dev/null || need+=(chromium)          # the agent desktop's browser test
command -v node >/dev/null || need+=(nodejs npm)             # builds the desktop's SIP library (make web)
command -v ip >/dev/null || need+=(iproute2)                 # the browser test's loopback-only namespace
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing ${need[*]}; run as root or install them: apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "test-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379; then
  echo "test-deps: starting Redis on 127.0.0.1:6379"
  mkdir -p /tmp/callwerk-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/callwerk-redis --logfile /tmp/callwerk-redis/redis.log
fi
if ! port_open 4222; then
  echo "test-deps: starting NATS with JetStream on 127.0.0.1:4222"
  mkdir -p /tmp/callwerk-nats
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/callwerk-nats >/tmp/callwerk-nats/nats.log 2>&1 &
fi
for i in $(seq 1 50); do
  port_open 6379 && port_open 4222 && exit 0
  sleep 0.1
done
echo "test-deps: Redis or NATS did not come up" >&2
exit 1
