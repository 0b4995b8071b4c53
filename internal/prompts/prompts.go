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

// Names of the built-in prompts; gen.go has their texts. Besides these,
// "n1" ... "n20" say the numbers one to twenty.
const (
	Invalid   = "invalid"    // "Diese Eingabe ist leider ungültig."
	Goodbye   = "goodbye"    // "Vielen Dank für Ihren Anruf. Auf Wiederhören."
	MenuDemo  = "menu-demo"  // the demo menu: 1 for insurance questions, 2 for bills
	Greeting  = "greeting"   // welcome, please hold
	Position  = "position"   // "Sie sind jetzt an Position"
	Wait      = "wait"       // "Ihre voraussichtliche Wartezeit beträgt etwa"
	WaitShort = "wait-short" // "... weniger als eine Minute."
	WaitLong  = "wait-long"  // "... mehr als zwanzig Minuten."
	Minute    = "minute"     // "eine Minute."
	Minutes   = "minutes"    // "Minuten."
	Closed    = "closed"     // outside our service hours, please call again later

	CallbackOffer     = "callback-offer"     // "Wenn Sie zurückgerufen werden möchten, drücken Sie die", then the key
	CallbackCallerID  = "callback-caller-id" // we call back the number you call from: 1 confirms, or key in another and #
	CallbackEnter     = "callback-enter"     // key in the number to call back, then #
	CallbackConfirmed = "callback-confirmed" // your place is kept, we call you back; goodbye
	CallbackHello     = "callback-hello"     // to the member answering: this is your callback, connecting
	CallbackAgent     = "callback-agent"     // to the agent: a callback, the member is being called
	Key0              = "key-0"              // "Null." (keys 1-9 are n1 ... n9)
	KeyStar           = "key-star"           // "Sterntaste."
	KeyHash           = "key-hash"           // "Rautetaste."
	Numbers           = 20                   // n1 ... n20
)

// Number returns the name of the prompt that says n (1..Numbers).
func Number(n int) string { return fmt.Sprintf("n%d", n) }

// Load decodes the built-in prompt name.
func Load(name string) (*media.Source, error) {
	b, err := files.ReadFile("de/" + name + ".wav")
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", name, err)
	}
	return media.DecodeWAV("builtin:"+name, b)
}
