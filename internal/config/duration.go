package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string:
// "20s", "1m30s", "500ms". A bare number is refused, except 0.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, whole minutes and hours short:
// "1m30s", "10m", "1h".
func (d Duration) String() string { return fmtDur(time.Duration(d)) }

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string. The error does not know the key;
// [Load] and [Parse] check durations first and name the key and line.
func (d *Duration) UnmarshalYAML(value *yaml.Node) error {
	v, err := parseDuration(value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// parseDuration parses a scalar node as a duration.
func parseDuration(n *yaml.Node) (Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("invalid duration: expected a string such as \"20s\", got %s", kindName(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if n.Tag == "!!int" || n.Tag == "!!float" {
			return 0, fmt.Errorf("invalid duration %q (missing unit, e.g. \"%ss\")", n.Value, n.Value)
		}
		return 0, fmt.Errorf("invalid duration %q", n.Value)
	}
	return Duration(v), nil
}
