// Command loadtest places simulated member calls against a Callwerk node on
// this machine and reports setup times, RTP loss and delay, and calls per
// second. It registers simulated agents 1001.. with one shared password, so
// the node needs a config with matching agents (see docs/loadtest.md).
//
//	go run ./cmd/loadtest -server 127.0.0.1:5060 -password secret-pass -agents 50 -calls 200 -rate 50
//
// Progress goes to stderr, the report to stdout; the exit status is 1 if a
// call failed, 2 if the run could not start.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/callwerk/callwerk/loadtest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s loadtest.Scenario
	fs.StringVar(&s.Server, "server", "127.0.0.1:5060", "SIP server host:port (UDP); loopback only")
	fs.StringVar(&s.Number, "number", loadtest.DefaultNumber, "number the members dial")
	fs.IntVar(&s.Agents, "agents", loadtest.DefaultAgents, "simulated agents to register")
	fs.IntVar(&s.FirstAgent, "first-agent", loadtest.DefaultFirstAgent, "SIP user of the first agent; the others count up")
	fs.StringVar(&s.Password, "password", "", "the agents' shared digest password (required)")
	fs.DurationVar(&s.AnswerAfter, "answer-after", 0, "agents ring this long before answering")
	fs.IntVar(&s.Calls, "calls", loadtest.DefaultCalls, "member calls to place")
	fs.Float64Var(&s.Rate, "rate", loadtest.DefaultRate, "new calls per second")
	fs.DurationVar(&s.Talk, "talk", loadtest.DefaultTalk, "members hang up after talking this long")
	fs.DurationVar(&s.Timeout, "timeout", loadtest.DefaultTimeout, "INVITE to agent audio, at most")
	fs.StringVar(&s.TalkDist, "talk-dist", loadtest.TalkFixed, "talk times: fixed (-talk), uniform (-talk to -talk-max) or exponential (mean -talk)")
	fs.DurationVar(&s.TalkMax, "talk-max", 0, "longest talk time with -talk-dist uniform")
	fs.Uint64Var(&s.Seed, "seed", 1, "seed of the talk-time draws (same seed, same talk times)")
	fs.IntVar(&s.MaxUp, "max-up", 0, "at most this many calls in progress at once (0 = no cap)")
	fs.DurationVar(&s.Duration, "duration", 0, "stop starting calls after this long (0 = after -calls)")
	scenario := fs.String("scenario", "", "read the scenario from this YAML file; flags given as well override its keys")
	fs.StringVar(&s.HeapURL, "heap", "", "the node's /debug/pprof/heap URL (loopback): report its heap per agent and per call")
	fs.StringVar(&s.HeapToken, "heap-token", "", "bearer token for -heap (the node's http.api_token)")
	fs.StringVar(&s.RTPengine, "rtpengine", "", "measure rtpengine's relay at this ng control address (loopback) instead of a node: calls set up over ng, no SIP")
	jsonFile := fs.String("json", "", "also write the report as JSON to this file")
	htmlFile := fs.String("html", "", "also write the report with charts over time as a web page to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *scenario != "" {
		file, err := loadtest.LoadScenario(*scenario)
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 2
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		s = merge(file, s, set)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadtest.Run(ctx, s, func(p loadtest.Progress) { fmt.Fprintln(stderr, p) })
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	fmt.Fprint(stdout, rep.Text())
	if *jsonFile != "" {
		b, err := rep.JSON()
		if err == nil {
			err = os.WriteFile(*jsonFile, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 2
		}
	}
	if *htmlFile != "" {
		if err := os.WriteFile(*htmlFile, rep.HTML(), 0o644); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 2
		}
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// merge takes the scenario file's values, except where a flag was given.
func merge(file, flags loadtest.Scenario, set map[string]bool) loadtest.Scenario {
	out := file
	pick := func(name string, apply func()) {
		if set[name] {
			apply()
		}
	}
	pick("server", func() { out.Server = flags.Server })
	pick("number", func() { out.Number = flags.Number })
	pick("agents", func() { out.Agents = flags.Agents })
	pick("first-agent", func() { out.FirstAgent = flags.FirstAgent })
	pick("password", func() { out.Password = flags.Password })
	pick("answer-after", func() { out.AnswerAfter = flags.AnswerAfter })
	pick("calls", func() { out.Calls = flags.Calls })
	pick("rate", func() { out.Rate = flags.Rate })
	pick("talk", func() { out.Talk = flags.Talk })
	pick("talk-dist", func() { out.TalkDist = flags.TalkDist })
	pick("talk-max", func() { out.TalkMax = flags.TalkMax })
	pick("seed", func() { out.Seed = flags.Seed })
	pick("max-up", func() { out.MaxUp = flags.MaxUp })
	pick("duration", func() { out.Duration = flags.Duration })
	pick("timeout", func() { out.Timeout = flags.Timeout })
	pick("heap", func() { out.HeapURL = flags.HeapURL })
	pick("heap-token", func() { out.HeapToken = flags.HeapToken })
	pick("rtpengine", func() { out.RTPengine = flags.RTPengine })
	if out.Server == "" {
		out.Server = flags.Server // the flag's default
	}
	return out
}
