package app

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/callwerk/callwerk/sip"
)

// emergencySubject carries emergency switches to every node, so that a
// supervisor's switch on one node's API applies to the whole hotline.
const emergencySubject = "callwerk.control.emergency"

type emergencySwitch struct {
	Number string `json:"number"`
	On     bool   `json:"on"`
}

// subscribeEmergency applies the switches published by any node.
func (a *App) subscribeEmergency() error {
	_, err := a.bus.Conn.Subscribe(emergencySubject, func(m *nats.Msg) {
		var e emergencySwitch
		if err := json.Unmarshal(m.Data, &e); err != nil {
			a.log.Warn().Err(err).Msg("bad emergency switch on the bus")
			return
		}
		if err := a.sip.SetEmergency(e.Number, e.On); err != nil {
			a.log.Warn().Err(err).Msg("emergency switch from the bus not applied here")
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", emergencySubject, err)
	}
	return nil
}

// SetEmergency switches number's emergency announcement on this node at
// once, and on the others through the bus (an error says this node alone
// switched). The switch is not stored: a node that starts (again) takes
// the configured position.
func (a *App) SetEmergency(number string, on bool) error {
	if err := a.sip.SetEmergency(number, on); err != nil {
		return err
	}
	b, err := json.Marshal(emergencySwitch{Number: number, On: on})
	if err == nil {
		err = a.bus.Conn.Publish(emergencySubject, b)
	}
	if err != nil {
		a.log.Warn().Err(err).Str("number", number).Msg("emergency switch not passed to the other nodes")
		return fmt.Errorf("switched on this node only: the bus did not take it: %w", err)
	}
	return nil
}

// Numbers lists the dialled numbers with their emergency switches.
func (a *App) Numbers() []sip.NumberInfo { return a.sip.Numbers() }
