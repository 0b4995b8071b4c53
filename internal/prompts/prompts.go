// Package prompts holds Callwerk's built-in German prompts, made with
// espeak-ng by `make prompts` (scripts/prompts.sh) and embedded in the
// binary: the prompts a menu needs when the configuration names none, and
// the demo menu's.
package prompts

import (
	"embed"
	"fmt"

	"github.com/callwerk/callwerk/media"
)

//go:embed de/*.wav
var files embed.FS

// Names of the built-in prompts.
const (
	Invalid  = "invalid"   // "Diese Eingabe ist leider ungültig."
	Goodbye  = "goodbye"   // "Vielen Dank für Ihren Anruf. Auf Wiederhören."
	MenuDemo = "menu-demo" // the demo menu: 1 for insurance questions, 2 for bills
)

// Load decodes the built-in prompt name.
func Load(name string) (*media.Source, error) {
	b, err := files.ReadFile("de/" + name + ".wav")
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", name, err)
	}
	return media.DecodeWAV("builtin:"+name, b)
}
