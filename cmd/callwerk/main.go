// Command callwerk is the Callwerk contact-center server.
//
//	callwerk serve [-config FILE] [-log-format json|console]
//	callwerk config check FILE
//
// With no config file, serve runs the embedded demo: in-memory store,
// in-process NATS, SIP on 127.0.0.1:5060 (UDP and TCP), HTTP on
// 127.0.0.1:8080, hotline number 100 and three demo agents.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/emiago/sipgo/sip"
	"github.com/redis/go-redis/v9"

	"github.com/callwerk/callwerk/internal/app"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  callwerk serve [-config FILE] [-log-format json|console]
  callwerk config check FILE
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "config":
		if len(args) != 3 || args[1] != "check" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		cfg, err := config.Load(args[2])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprint(stdout, cfg.Summary())
		return 0
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (YAML); empty runs the demo")
	format := fs.String("log-format", "json", "log format: json or console")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := logging.New(stderr, *format)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// sipgo logs through slog and go-redis through its own logger: bridge
	// both once, before either is used.
	sip.SetDefaultLogger(logging.Slog(log.With().Str("component", "sipgo").Logger()))
	redis.SetLogger(logging.Redis(log.With().Str("component", "redis").Logger()))
	slog.SetDefault(logging.Slog(log))

	var cfg *config.Config
	if *path == "" {
		cfg = config.Demo()
		printDemo(stdout, cfg)
	} else if cfg, err = config.Load(*path); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	a, err := app.New(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process the default way
	}()
	log.Info().Str("http", a.HTTPAddr()).Interface("sip", a.SIPAddrs()).Str("node", cfg.Node.Name).Msg("callwerk running")
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped with error")
		return 1
	}
	log.Info().Msg("callwerk stopped")
	return 0
}

func printDemo(w io.Writer, cfg *config.Config) {
	fmt.Fprintln(w, "Callwerk demo: no config file given, running the embedded demo.")
	fmt.Fprintf(w, "  Hotline: call sip:%s@127.0.0.1:5060 (UDP or TCP) from this machine.\n", cfg.Numbers[0].Number)
	fmt.Fprintf(w, "  Agents (register to 127.0.0.1:5060, realm %q):\n", cfg.SIP.Realm)
	for _, a := range cfg.Agents {
		fmt.Fprintf(w, "    user %-6s password %s\n", a.ID, a.Password)
	}
	fmt.Fprintln(w, "  Health: http://127.0.0.1:8080/healthz")
	fmt.Fprintf(w, "  API:    http://127.0.0.1:8080/api/v1/agents with header \"Authorization: Bearer %s\"\n", cfg.HTTP.APIToken)
}
