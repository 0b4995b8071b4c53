// Package app wires Callwerk's packages together from a configuration: the
// store, the bus, the ACD, the media relay, the SIP edge and the HTTP
// server. cmd/callwerk and the end-to-end tests both build an App.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/prompts"
	"github.com/callwerk/callwerk/internal/pseudo"
	"github.com/callwerk/callwerk/internal/schedule"
	"github.com/callwerk/callwerk/media"
	"github.com/callwerk/callwerk/queues"
	"github.com/callwerk/callwerk/sip"
	"github.com/callwerk/callwerk/web"
)

// holdMusic is the generated music on hold used when media.hold_music is empty.
func holdMusic() *media.Source {
	notes := []float64{523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.00, 698.46}
	return media.NewToneSource("hold", notes, 400*time.Millisecond, 8*time.Second)
}

// App is one running Callwerk node.
type App struct {
	cfg   *config.Config
	log   zerolog.Logger
	bus   *queues.Bus
	acd   *acd.ACD
	relay *media.Relay
	sip   *sip.Server
	http  *http.Server
	hln   net.Listener

	sync     *queues.Sync
	redis    *queues.Redis    // nil with the memory store
	queueLog *queues.QueueLog // nil without queue_log
	kpis     *acd.KPITracker
}

// KPIs returns the live per-queue figures.
func (a *App) KPIs() *acd.KPITracker { return a.kpis }

// New builds a node from cfg and binds its SIP, media and HTTP sockets.
// Option changes how New builds a node (for tests).
type Option func(*options)

type options struct {
	clock func() time.Time
}

// WithClock makes the node judge opening hours at clock's time.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.clock = clock } }

func New(cfg *config.Config, log zerolog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	var store acd.Store = queues.NewMemory()
	if cfg.Store != config.StoreMemory {
		r, err := queues.OpenRedis(cfg.Store, "callwerk:")
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		a.redis, store = r, r
	}

	bus, err := queues.ConnectBus(cfg.Bus, cfg.Node.Name, log.With().Str("component", "bus").Logger())
	if err != nil {
		return nil, err
	}
	a.bus = bus
	p := pseudo.New(cfg.Privacy.PseudonymKey)

	ctx := context.Background()
	for _, ag := range cfg.Agents {
		if err := store.PutAgent(ctx, acd.Agent{ID: acd.AgentID(ag.ID), Queues: ag.Queues, Skills: ag.Skills}); err != nil {
			return nil, fmt.Errorf("agent %s: %w", ag.ID, err)
		}
	}
	agents, err := store.Agents(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if a.kpis, err = acd.NewKPITracker(acd.DefaultKPIConfig(time.Local)); err != nil {
		return nil, err
	}
	a.kpis.SetAgents(agents)
	sinks := []acd.EventSink{queues.NewEvents(bus.Conn, log.With().Str("component", "events").Logger()), a.kpis}
	if cfg.QueueLog != "" {
		opts := []queues.QueueLogOption{queues.WithNATS(bus.Conn), queues.WithAgents(agents)}
		if !cfg.Privacy.AgentStatistics {
			opts = append(opts, queues.WithAgentNames(func(id acd.AgentID) string { return p.Agent(string(id)) }))
		}
		if a.queueLog, err = queues.OpenQueueLog(cfg.QueueLog, log.With().Str("component", "queuelog").Logger(), opts...); err != nil {
			return nil, fmt.Errorf("queue_log: %w", err)
		}
		sinks = append(sinks, a.queueLog)
	}
	a.sync = queues.NewSync(bus.Conn, log.With().Str("component", "sync").Logger())
	a.acd = acd.New(store, queueConfigs(cfg), acd.SystemClock{}, acd.FanOut(sinks...),
		log.With().Str("component", "acd").Logger(), acd.WithNode(cfg.Node.Name),
		acd.WithLease("", cfg.Node.Lease.D()), acd.WithReplicator(a.sync),
		acd.WithNodeDown(func(node string) { a.sip.PeerDown(node) }))
	bus.OnReconnect(a.acd.Resync) // changes other nodes published meanwhile are lost: reread them

	addr, err := netip.ParseAddr(cfg.Media.Address)
	if err != nil {
		return nil, fmt.Errorf("media.address: %w", err)
	}
	lo, hi, err := cfg.Media.PortRange()
	if err != nil {
		return nil, fmt.Errorf("media.ports: %w", err)
	}
	pool, err := media.NewPortPool(addr, lo, hi, cfg.Media.Quarantine.D())
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if a.relay, err = media.NewRelay(pool, log.With().Str("component", "media").Logger()); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	hold := holdMusic()
	if cfg.Media.HoldMusic != "" {
		if hold, err = media.LoadWAV(cfg.Media.HoldMusic); err != nil {
			return nil, fmt.Errorf("media.hold_music: %w", err)
		}
	}

	scfg, err := sipConfig(cfg)
	if err != nil {
		return nil, err
	}
	scfg.Clock = o.clock
	if a.redis != nil {
		scfg.Nonces = a.redis.Nonces() // a replay to another node is refused too
	}
	scfg.Withdraw = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.acd.Withdraw(ctx)
	}
	a.sip, err = sip.New(scfg, a.acd, a.relay, hold, p, log.With().Str("component", "sip").Logger())
	if err != nil {
		return nil, err
	}
	if cfg.Node.Secret != "" {
		addr := cfg.Node.SIPAddress
		if addr == "" {
			addr = defaultSIPAddress(a.sip.Addrs())
			if addr == "" {
				log.Warn().Msg("node.secret is set but no sip.listen entry has a specific IP: set node.sip_address; this node routes only to its own agents")
			}
		}
		a.acd.SetSIPAddress(addr)
	}
	if err := a.sync.Subscribe(a.acd.Apply); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := a.subscribeEmergency(); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := a.acd.Recover(ctx); err != nil {
		return nil, err
	}

	a.hln, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	if cfg.HTTP.APIToken != "" {
		web.NewAPI(a.acd, a.kpis, a, cfg.HTTP.APIToken, cfg.PauseReasons, log.With().Str("component", "api").Logger()).
			WithNode(nodeFigures{a}).Register(mux)
	}
	mux.Handle("GET /agent/", web.AgentDesktop(a.agentDesktop(cfg)))
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ok = true
	return a, nil
}

// nodeFigures is what /metrics reads of the node.
type nodeFigures struct{ a *App }

func (n nodeFigures) MessageCounts() sip.MessageCounts { return n.a.sip.MessageCounts() }
func (n nodeFigures) ActiveCalls() int                 { return n.a.sip.ActiveCalls() }
func (n nodeFigures) Registrations() (int, int)        { return n.a.sip.Location().Count() }
func (n nodeFigures) RelayStats() media.RelayStats     { return n.a.relay.Stats() }

// agentDesktop is what the agent desktop needs of the node: its wss (or
// else ws) listener for the browser's SIP stack.
func (a *App) agentDesktop(cfg *config.Config) web.AgentDesktopConfig {
	dc := web.AgentDesktopConfig{PauseReasons: cfg.PauseReasons}
	for _, want := range []string{"wss", "ws"} {
		for _, l := range a.SIPAddrs() {
			if l.Network != want {
				continue
			}
			if _, port, err := net.SplitHostPort(l.Addr); err == nil {
				dc.WebSocket = want
				dc.Port, _ = strconv.Atoi(port)
				return dc
			}
		}
	}
	return dc
}

// queueConfigs translates the queues of cfg for the ACD. A linear queue's
// agent order is the order of the agents in the config file.
func queueConfigs(cfg *config.Config) []acd.QueueConfig {
	qcs := make([]acd.QueueConfig, 0, len(cfg.Queues))
	for _, q := range cfg.Queues {
		qc := acd.QueueConfig{
			Name: q.Name, RingTimeout: q.RingTimeout.D(), Wrapup: q.Wrapup.D(), RingStep: q.RingStep.D(),
			Strategy: acd.Strategy(q.Strategy), Weight: q.Weight, Skills: q.Skills,
			MaxMisses: q.MaxMisses, RejectBackoff: q.RejectBackoff.D(),
			MaxWait: q.MaxWait.D(), Overflow: q.Overflow, MaxLength: q.MaxLength,
			JoinEmpty: q.JoinEmpty, LeaveWhenEmpty: q.LeaveWhenEmpty,
			Order: make(map[acd.AgentID]int),
		}
		for _, w := range q.Widen {
			qc.Widen = append(qc.Widen, acd.SkillStep{After: w.After.D(), Skills: w.Skills})
		}
		for _, ag := range cfg.Agents {
			if slices.Contains(ag.Queues, q.Name) {
				qc.Order[acd.AgentID(ag.ID)] = len(qc.Order)
			}
		}
		qcs = append(qcs, qc)
	}
	return qcs
}

func sipConfig(cfg *config.Config) (sip.Config, error) {
	ls, err := cfg.SIP.Listeners()
	if err != nil {
		return sip.Config{}, fmt.Errorf("sip.listen: %w", err)
	}
	sc := sip.Config{
		Realm:        cfg.SIP.Realm,
		Digest:       cfg.SIP.DigestAlgorithms,
		PauseReasons: cfg.PauseReasons,
		MaxCalls:     cfg.SIP.MaxCalls, MaxCallRate: cfg.SIP.MaxCallRate,
		MaxRegistrations: cfg.SIP.MaxRegistrations,
		Keepalive:        cfg.SIP.Keepalive.D(),
		DrainTimeout:     cfg.Node.DrainTimeout.D(),
		Numbers:          make(map[string]sip.Number, len(cfg.Numbers)),
		Agents:           make(map[string]string, len(cfg.Agents)),
	}
	exempt, err := cfg.SIP.Flood.ExemptPrefixes()
	if err != nil {
		return sip.Config{}, fmt.Errorf("sip.flood.%w", err)
	}
	sc.Flood = sip.FloodLimits{Requests: cfg.SIP.Flood.Requests, Window: cfg.SIP.Flood.Window.D(),
		Ban: cfg.SIP.Flood.Ban.D(), Exempt: exempt}
	sc.Lockout = sip.LockoutLimits{Failures: cfg.SIP.AuthLockout.Failures, Window: cfg.SIP.AuthLockout.Window.D(),
		Block: cfg.SIP.AuthLockout.Block.D()}
	sc.Streams = sip.StreamLimits{PerIP: cfg.SIP.Connections.PerIP, FirstMessage: cfg.SIP.Connections.FirstMessage.D()}
	sc.MaxMessageSize = cfg.SIP.MaxMessageSize
	sc.MediaTimeout = cfg.Media.Timeout.D()
	if sc.Trusted, err = cfg.Networks.TrustedPrefixes(); err != nil {
		return sip.Config{}, fmt.Errorf("networks.%w", err)
	}
	if cfg.Node.Secret != "" {
		sc.NodeName, sc.PeerSecret = cfg.Node.Name, []byte(cfg.Node.Secret)
	}
	if cfg.Privacy.PseudonymKey != "" {
		sc.NonceKey = []byte("nonce:" + cfg.Privacy.PseudonymKey)
	}
	for _, l := range ls {
		sc.Listeners = append(sc.Listeners, sip.Listener{Network: l.Network, Addr: l.Addr})
		if config.Secure(l.Network) && sc.TLS == nil {
			cert, err := config.LoadCertificate(cfg.SIP.TLS)
			if err != nil {
				return sip.Config{}, fmt.Errorf("sip.tls: %w", err)
			}
			sc.TLS = sip.TLSConfig(cert)
		}
	}
	for i, t := range cfg.Trunks {
		ps, err := t.Prefixes()
		if err != nil {
			return sip.Config{}, fmt.Errorf("trunks[%d].addresses: %w", i, err)
		}
		sc.Trunks = append(sc.Trunks, ps...)
	}
	menus := make(map[string]*sip.Menu, len(cfg.Menus))
	for _, m := range cfg.Menus {
		prompt, err := media.LoadWAV(m.Prompt)
		if err != nil {
			return sip.Config{}, fmt.Errorf("menus %s: prompt: %w", m.Name, err)
		}
		sm := &sip.Menu{Name: m.Name, Prompt: prompt, Options: make(map[byte]string, len(m.Options)),
			Timeout: m.Timeout.D(), Attempts: m.Attempts, Default: m.Default}
		for k, q := range m.Options {
			sm.Options[k[0]] = q
		}
		menus[m.Name] = sm
	}
	closed, err := prompts.Load(prompts.Closed)
	if err != nil {
		return sip.Config{}, err
	}
	type open struct {
		hours  *schedule.Hours
		prompt *media.Source
	}
	hours := make(map[string]open, len(cfg.Hours))
	for _, h := range cfg.Hours {
		sh, err := schedule.New(h.Timezone, h.Land, h.Week, h.Exceptions)
		if err != nil {
			return sip.Config{}, fmt.Errorf("hours %s: %w", h.Name, err)
		}
		o := open{hours: sh, prompt: closed}
		if h.ClosedPrompt != "" {
			if o.prompt, err = media.LoadWAV(h.ClosedPrompt); err != nil {
				return sip.Config{}, fmt.Errorf("hours %s: closed_prompt: %w", h.Name, err)
			}
		}
		hours[h.Name] = o
	}
	for _, n := range cfg.Numbers {
		num := sip.Number{Queue: n.Queue, Menu: menus[n.Menu], Early: n.Answer == "early", Priority: n.Priority}
		if e := n.Emergency; e != nil {
			prompt, err := media.LoadWAV(e.Prompt)
			if err != nil {
				return sip.Config{}, fmt.Errorf("numbers %s: emergency prompt: %w", n.Number, err)
			}
			num.Emergency = sip.NewEmergency(prompt, e.Then == config.EmergencyHangup, e.Active)
		}
		if h, ok := hours[n.Hours]; ok {
			num.Hours, num.Closed = h.hours, h.prompt
		}
		sc.Numbers[n.Number] = num
	}
	if err := loadPrompts(cfg, &sc); err != nil {
		return sip.Config{}, err
	}
	for _, ag := range cfg.Agents {
		sc.Agents[ag.ID] = ag.Password
	}
	return sc, nil
}

// defaultSIPAddress is node.sip_address's default: the first bound
// udp or tcp listener, if its IP is specific ("" if none is).
func defaultSIPAddress(ls []sip.Listener) string {
	for _, l := range ls {
		if l.Network != "udp" && l.Network != "tcp" {
			continue // nodes talk over the trusted network
		}
		ap, err := netip.ParseAddrPort(l.Addr)
		if err == nil && !ap.Addr().IsUnspecified() {
			return l.Network + ":" + l.Addr
		}
	}
	return ""
}

// SIPAddrs returns the bound SIP listen addresses.
func (a *App) SIPAddrs() []sip.Listener { return a.sip.Addrs() }

// HTTPAddr returns the bound HTTP address.
func (a *App) HTTPAddr() string { return a.hln.Addr().String() }

// SIP returns the SIP edge.
func (a *App) SIP() *sip.Server { return a.sip }

// ACD returns the router.
func (a *App) ACD() *acd.ACD { return a.acd }

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if a.bus.Conn.IsConnected() {
		fmt.Fprintf(w, `{"status":"ok","calls":%d}`+"\n", a.sip.ActiveCalls())
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, `{"status":"bus disconnected"}`)
}

// readyz says whether the node should get new calls: its store answers
// (Redis within a second, when the node uses Redis), its bus is connected
// and it is not draining. A load balancer or orchestrator takes a node
// that is not ready out of rotation; /healthz only says the process lives.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if a.sip.Draining() {
		problems = append(problems, "draining: new calls are refused")
	}
	if !a.bus.Conn.IsConnected() {
		problems = append(problems, "nats: not connected")
	}
	if a.redis != nil {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := a.redis.Ping(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "not ready", "problems": problems})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "ready"})
}

// Start runs the node in the background. The returned stop ends it and
// returns Run's result, or an error if it has not stopped within timeout;
// calling stop again returns the same result.
func (a *App) Start() (stop func(timeout time.Duration) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var err error
	return func(timeout time.Duration) error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(timeout):
				err = fmt.Errorf("node did not stop within %s", timeout)
			}
		})
		return err
	}
}

// Run serves until ctx ends, then drains calls and stops every part in
// order: SIP (hangs up calls), HTTP, ACD, relay, bus.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	var once sync.Once
	g, gctx := errgroup.WithContext(ctx)
	inner, stopInner := context.WithCancel(context.Background())
	defer stopInner()
	g.Go(func() error { return a.acd.Run(inner) })
	g.Go(func() error { return a.relay.Run(inner) })
	g.Go(func() error {
		err := a.sip.Serve(gctx)
		once.Do(stopInner) // calls are down: stop routing and media
		return err
	})
	g.Go(func() error {
		if err := a.http.Serve(a.hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-inner.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return a.http.Shutdown(sctx)
	})
	return g.Wait()
}

// close releases what New opened, after Run has stopped the ACD (the queue
// log takes its last events before it closes).
func (a *App) close() {
	if a.queueLog != nil {
		if err := a.queueLog.Close(); err != nil {
			a.log.Error().Err(err).Msg("queue log close")
		}
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.sync != nil {
		a.sync.Close()
	}
	if a.bus != nil {
		a.bus.Close()
	}
}

// loadPrompts loads the built-in prompts and announcement clips, and each
// queue's greeting, into sc.
func loadPrompts(cfg *config.Config, sc *sip.Config) error {
	var errs []error
	load := func(name string) *media.Source {
		src, err := prompts.Load(name)
		errs = append(errs, err)
		return src
	}
	sc.Prompts = sip.Prompts{Invalid: load(prompts.Invalid), Goodbye: load(prompts.Goodbye),
		Callback: sip.CallbackPrompts{CallerID: load(prompts.CallbackCallerID), Enter: load(prompts.CallbackEnter),
			Confirmed: load(prompts.CallbackConfirmed), Hello: load(prompts.CallbackHello), Agent: load(prompts.CallbackAgent)}}
	a := sip.Announcements{Position: load(prompts.Position), Wait: load(prompts.Wait), WaitShort: load(prompts.WaitShort),
		WaitLong: load(prompts.WaitLong), Minute: load(prompts.Minute), Minutes: load(prompts.Minutes)}
	for n := 1; n <= prompts.Numbers; n++ {
		a.Numbers = append(a.Numbers, load(prompts.Number(n)))
	}
	sc.Announcements = a
	greeting := load(prompts.Greeting)
	offer := load(prompts.CallbackOffer)
	keyClip := func(k byte) *media.Source { // "... drücken Sie die" + the key
		switch k {
		case '0':
			return load(prompts.Key0)
		case '*':
			return load(prompts.KeyStar)
		case '#':
			return load(prompts.KeyHash)
		}
		return a.Numbers[k-'1']
	}
	outbound := make(map[string]*sip.Outbound, len(cfg.Trunks))
	for _, t := range cfg.Trunks {
		if o := t.Outbound; o != nil {
			outbound[t.Name] = &sip.Outbound{Name: t.Name, Addr: netip.MustParseAddrPort(o.Address), Transport: o.Transport,
				From: o.From, Username: o.Username, Password: o.Password}
		}
	}
	for _, ag := range cfg.Agents {
		if f := ag.Forward; f != nil {
			if sc.Forwards == nil {
				sc.Forwards = make(map[string]sip.Forward)
			}
			sc.Forwards[ag.ID] = sip.Forward{Number: f.Number, Trunk: outbound[f.Trunk]}
		}
	}
	if t := cfg.Transfer; t != nil {
		sc.Transfer = &sip.OutsideTransfer{Trunk: outbound[t.Trunk], CountryCode: t.CountryCode, International: t.International}
	}
	sc.Queues = make(map[string]sip.QueueMedia, len(cfg.Queues))
	for _, q := range cfg.Queues {
		qm := sip.QueueMedia{First: q.AnnounceFirst.D(), Every: q.AnnounceEvery.D(),
			Position: q.Announce != config.AnnounceWait, Wait: q.Announce != config.AnnouncePosition}
		if cb := q.Callback; cb != nil {
			qm.Callback = &sip.Callback{Key: cb.Key[0], Offer: media.Concat("callback-offer", offer, keyClip(cb.Key[0])),
				Attempts: cb.Attempts, RetryAfter: cb.RetryAfter.D(), RingTimeout: cb.RingTimeout.D(),
				CountryCode: cb.CountryCode, International: cb.International, Trunk: outbound[cb.Trunk]}
		}
		switch q.Greeting {
		case "":
			qm.Greeting = greeting
		case config.GreetingNone:
		default:
			src, err := media.LoadWAV(q.Greeting)
			if err != nil {
				return fmt.Errorf("queues %s: greeting: %w", q.Name, err)
			}
			qm.Greeting = src
		}
		sc.Queues[q.Name] = qm
	}
	return errors.Join(errs...)
}
