#!/usr/bin/env bash
# Generates Callwerk's German default prompts with espeak-ng (installed from
# Debian when missing) into internal/prompts/de, where they are embedded in
# the binary. The WAVs are committed: building needs no speech synthesizer.
# gen.go stores them as 8 kHz µ-law, the form the relay sends.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v espeak-ng >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y espeak-ng
fi
out=internal/prompts/de
rm -f "$out"/*.wav
mkdir -p "$out"
go run internal/prompts/gen.go "$out"
ls -l "$out"
