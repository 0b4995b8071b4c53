#!/usr/bin/env bash
# Generates Callwerk's German default prompts with espeak-ng (installed from
# Debian when missing) into internal/prompts/de, where they are embedded in
# the binary. The WAVs are committed: building needs no speech synthesizer.
# Callwerk converts espeak-ng's 22.05 kHz to 8 kHz when it loads them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v espeak-ng >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y espeak-ng
fi
out=internal/prompts/de
mkdir -p "$out"
say() { espeak-ng -v de -s 150 -a 120 -w "$out/$1.wav" "$2"; }
say invalid "Diese Eingabe ist leider ungültig."
say goodbye "Vielen Dank für Ihren Anruf. Auf Wiederhören."
say menu-demo "Willkommen bei der Hotline. Für Fragen zu Ihrer Versicherung drücken Sie die 1. Für Rechnungen drücken Sie die 2."
ls -l "$out"
