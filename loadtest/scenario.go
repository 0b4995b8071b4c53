package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// scenarioFile is a scenario as written in YAML; keys as the flags.
type scenarioFile struct {
	Server      string  `yaml:"server"`
	Number      string  `yaml:"number"`
	Agents      int     `yaml:"agents"`
	FirstAgent  int     `yaml:"first_agent"`
	Password    string  `yaml:"password"`
	AnswerAfter string  `yaml:"answer_after"`
	Calls       int     `yaml:"calls"`
	Rate        float64 `yaml:"rate"`
	Talk        string  `yaml:"talk"`
	TalkDist    string  `yaml:"talk_dist"`
	TalkMax     string  `yaml:"talk_max"`
	Seed        uint64  `yaml:"seed"`
	MaxUp       int     `yaml:"max_up"`
	Duration    string  `yaml:"duration"`
	Timeout     string  `yaml:"timeout"`
	Heap        string  `yaml:"heap"`
	HeapToken   string  `yaml:"heap_token"`
	RTPengine   string  `yaml:"rtpengine"`
}

// LoadScenario reads a scenario from a YAML file whose keys are the load
// tool's flag names with '_' for '-' (rate: 300, talk: 3s, talk_dist:
// uniform, ...). An unknown key or a bad duration is an error naming it.
// Keys left out stay zero: Run's defaults apply.
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f scenarioFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	s := Scenario{Server: f.Server, Number: f.Number, Agents: f.Agents, FirstAgent: f.FirstAgent, Password: f.Password,
		Calls: f.Calls, Rate: f.Rate, TalkDist: f.TalkDist, Seed: f.Seed, MaxUp: f.MaxUp, HeapURL: f.Heap, HeapToken: f.HeapToken,
		RTPengine: f.RTPengine}
	for _, d := range []struct {
		key, val string
		to       *time.Duration
	}{
		{"answer_after", f.AnswerAfter, &s.AnswerAfter}, {"talk", f.Talk, &s.Talk}, {"talk_max", f.TalkMax, &s.TalkMax},
		{"duration", f.Duration, &s.Duration}, {"timeout", f.Timeout, &s.Timeout},
	} {
		if d.val == "" {
			continue
		}
		if *d.to, err = time.ParseDuration(d.val); err != nil {
			return Scenario{}, fmt.Errorf("%s: %s: %w", path, d.key, err)
		}
	}
	return s, nil
}
