//go:build ignore

// gen.go makes the built-in German prompts: espeak-ng speaks each text,
// media converts it to 8 kHz µ-law, the form the relay sends, so the
// committed files stay small. Run by scripts/prompts.sh (make prompts).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/callwerk/callwerk/media"
)

// texts are the prompts by file name (without .wav).
var texts = map[string]string{
	"invalid":            "Diese Eingabe ist leider ungültig.",
	"goodbye":            "Vielen Dank für Ihren Anruf. Auf Wiederhören.",
	"menu-demo":          "Willkommen bei der Hotline. Für Fragen zu Ihrer Versicherung drücken Sie die 1. Für Rechnungen drücken Sie die 2.",
	"greeting":           "Herzlich willkommen. Bitte haben Sie einen Moment Geduld. Der nächste freie Mitarbeiter ist gleich für Sie da.",
	"position":           "Sie sind jetzt an Position",
	"wait":               "Ihre voraussichtliche Wartezeit beträgt etwa",
	"wait-short":         "Ihre voraussichtliche Wartezeit beträgt weniger als eine Minute.",
	"wait-long":          "Ihre voraussichtliche Wartezeit beträgt mehr als zwanzig Minuten.",
	"minute":             "eine Minute.",
	"minutes":            "Minuten.",
	"closed":             "Sie rufen außerhalb unserer Servicezeiten an. Bitte rufen Sie zu einem späteren Zeitpunkt wieder an. Auf Wiederhören.",
	"callback-offer":     "Wenn Sie zurückgerufen werden möchten, drücken Sie die",
	"callback-caller-id": "Wir rufen Sie unter der Nummer zurück, von der Sie gerade anrufen. Zur Bestätigung drücken Sie die 1. Oder geben Sie eine andere Rufnummer ein, und schließen Sie mit der Rautetaste ab.",
	"callback-enter":     "Bitte geben Sie die Rufnummer ein, unter der wir Sie zurückrufen sollen, und schließen Sie mit der Rautetaste ab.",
	"callback-confirmed": "Vielen Dank. Ihr Platz in der Warteschlange bleibt erhalten. Wir rufen Sie zurück, sobald Sie an der Reihe sind. Auf Wiederhören.",
	"callback-hello":     "Hier ist der Rückruf Ihrer Hotline. Sie werden jetzt verbunden.",
	"callback-agent":     "Rückruf. Das Mitglied wird jetzt angerufen.",
	"key-0":              "Null.",
	"key-star":           "Sterntaste.",
	"key-hash":           "Rautetaste.",
}

var numbers = []string{"eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
	"elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn", "neunzehn", "zwanzig"}

func main() {
	out := os.Args[1]
	for i, w := range numbers {
		texts[fmt.Sprintf("n%d", i+1)] = w
	}
	for name, text := range texts {
		raw, err := exec.Command("espeak-ng", "-v", "de", "-s", "150", "-a", "120", "--stdout", text).Output()
		if err != nil {
			fail(fmt.Errorf("espeak-ng %q: %w", text, err))
		}
		src, err := media.DecodeWAV(name, raw)
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".wav"), src.WAV(), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}
