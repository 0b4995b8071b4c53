#!/usr/bin/env bash
# rtpengine as make bench compares it: userspace relay only (no kernel
# module, --table=-1), one worker thread per core, on loopback, its ng
# control protocol on the address given (default 127.0.0.1:2223).
exec rtpengine --config-file=none --foreground --log-stderr --log-level=4 \
  --table=-1 --interface=127.0.0.1 --listen-ng="${1:-127.0.0.1:2223}" \
  --port-min=30000 --port-max=39999 --num-threads="$(nproc)"
