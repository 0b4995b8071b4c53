package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Scenario defaults.
const (
	DefaultNumber     = "100"           // the demo's hotline
	DefaultAgents     = 3               // the demo's agents 1001-1003
	DefaultFirstAgent = 1001            // agents are numbered from here, like the demo's and the tests' configs
	DefaultCalls      = 10              // member calls to place
	DefaultRate       = 1.0             // new calls per second
	DefaultTalk       = 3 * time.Second // connected time before the member hangs up
	DefaultTimeout    = 30 * time.Second

	pollEvery       = 5 * time.Millisecond // resolution of "first agent packet" (setup time)
	byeTimeout      = 5 * time.Second
	agentDrain      = 5 * time.Second // agents' calls get this long to end after the last member hung up
	registerExpires = time.Hour
)

// ErrNotLoopback is returned for a server address outside 127.0.0.0/8 and
// ::1: the load tool must not send traffic anywhere else.
var ErrNotLoopback = errors.New("server must be a loopback address (127.0.0.0/8 or [::1])")

// Scenario describes one load run.
type Scenario struct {
	Server      string        // SIP server, host:port (UDP), host a loopback IP literal
	Number      string        // dialled number; default DefaultNumber
	Agents      int           // simulated agents; default DefaultAgents
	FirstAgent  int           // SIP user of the first agent; the others follow (1001, 1002, ...); default DefaultFirstAgent
	Password    string        // digest password shared by all agents; required
	AnswerAfter time.Duration // agents ring this long before answering; 0 = at once
	Calls       int           // member calls to place; default DefaultCalls
	Rate        float64       // new member calls per second; default DefaultRate
	Talk        time.Duration // the member hangs up after talking this long; default DefaultTalk
	Timeout     time.Duration // INVITE to agent audio, at most; default DefaultTimeout
	// HeapURL, if set, is the node's /debug/pprof/heap (loopback only):
	// the report then says how much heap the node holds per registered
	// agent and per call in progress. HeapToken is its bearer token.
	HeapURL   string
	HeapToken string

	// TalkDist shapes talk times: "fixed" (default, every call Talk),
	// "uniform" (between Talk and TalkMax) or "exponential" (mean Talk,
	// capped at 10 x Talk), drawn from a generator seeded with Seed, so a
	// run can be repeated.
	TalkDist string
	TalkMax  time.Duration
	Seed     uint64
	// MaxUp caps the calls in progress: no new call starts while MaxUp are
	// up (0 = no cap). Duration stops starting calls after this long (0 =
	// only Calls counts); Calls stays the upper bound.
	MaxUp    int
	Duration time.Duration
	// RTPengine, if set, is an rtpengine's ng control address (loopback):
	// the calls are then set up over ng instead of SIP, between phones of
	// this tool, to measure rtpengine's relay the way a node's is measured.
	// Server, Number, Agents and Password are not used.
	RTPengine string
}

// Talk-time distributions (Scenario.TalkDist).
const (
	TalkFixed       = "fixed"
	TalkUniform     = "uniform"
	TalkExponential = "exponential"
)

// withDefaults fills zero fields from the defaults and checks the result.
func (s Scenario) withDefaults() (Scenario, error) {
	if s.Number == "" {
		s.Number = DefaultNumber
	}
	if s.Agents == 0 {
		s.Agents = DefaultAgents
	}
	if s.FirstAgent == 0 {
		s.FirstAgent = DefaultFirstAgent
	}
	if s.Calls == 0 {
		s.Calls = DefaultCalls
	}
	if s.Rate == 0 {
		s.Rate = DefaultRate
	}
	if s.Talk == 0 {
		s.Talk = DefaultTalk
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	switch {
	case s.Agents < 0 || s.Calls < 0 || s.FirstAgent < 0:
		return s, errors.New("agents, calls and first agent must be positive")
	case s.Rate < 0 || math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) || s.Rate > 1000:
		return s, errors.New("rate must be in (0, 1000] calls per second")
	case s.Talk < 0 || s.Timeout < 0 || s.AnswerAfter < 0:
		return s, errors.New("durations must not be negative")
	case s.Password == "" && s.RTPengine == "":
		return s, errors.New("password is required (the agents' shared digest password)")
	case s.MaxUp < 0 || s.Duration < 0:
		return s, errors.New("max up and duration must not be negative")
	}
	switch s.TalkDist {
	case "":
		s.TalkDist = TalkFixed
	case TalkFixed, TalkExponential:
	case TalkUniform:
		if s.TalkMax < s.Talk {
			return s, errors.New("uniform talk times need talk max >= talk")
		}
	default:
		return s, fmt.Errorf("talk distribution %q: want fixed, uniform or exponential", s.TalkDist)
	}
	if s.HeapURL != "" {
		if err := checkHeapURL(s.HeapURL); err != nil {
			return s, err
		}
	}
	if s.RTPengine != "" {
		if _, err := LoopbackServer(s.RTPengine); err != nil {
			return s, fmt.Errorf("rtpengine: %w", err)
		}
		return s, nil
	}
	if _, err := LoopbackServer(s.Server); err != nil {
		return s, err
	}
	return s, nil
}

// LoopbackServer parses host:port and refuses any host that is not a
// loopback IP literal.
func LoopbackServer(server string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server %q: %w", server, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" || !(ip.Unmap().Is4() && ip.Unmap().IsLoopback() || ip == netip.IPv6Loopback()) {
		return netip.AddrPort{}, fmt.Errorf("server %q: %w", server, ErrNotLoopback)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("server %q: bad port", server)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// Sample is the run's state at one second: calls up (started, not ended),
// of which waiting in the queue (answered, no agent yet), calls started in
// that second, and the p99 of INVITE to agent audio of the calls that
// reached an agent in that second (0 if none did).
type Sample struct {
	At            float64 `json:"t_s"`
	Up            int     `json:"up"`
	Waiting       int     `json:"waiting"`
	CPS           float64 `json:"cps"`
	SetupAgentP99 float64 `json:"setup_agent_p99_ms"`
}

// Progress is reported once a second while a run is going.
type Progress struct {
	Elapsed  time.Duration
	Started  int     // member calls started so far
	Up       int     // member calls in progress
	Answered int     // calls that reached an agent
	Failed   int     // calls that failed
	CPS      float64 // calls started in the last second
}

func (p Progress) String() string {
	return fmt.Sprintf("%5.1fs started %d up %d answered %d failed %d cps %.1f",
		p.Elapsed.Seconds(), p.Started, p.Up, p.Answered, p.Failed, p.CPS)
}

// Percentiles summarise durations (nearest rank).
type Percentiles struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"p50_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return Percentiles{N: len(s), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), P999: rank(0.999), Max: s[len(s)-1]}
}

// TargetFailedPct is the setup-rate scenario's target: under 0.1 % of the
// calls attempted failed.
const TargetFailedPct = 0.1

// Relay targets of the concurrent-relay scenario: a run is within them
// when no call failed and, in both directions, loss is under 0.1 % and the
// p99 of the per-packet delay the server adds is under 1 ms.
const (
	TargetLossPct  = 0.1
	TargetDelayP99 = time.Millisecond
)

// Direction is the RTP of one direction in the connected phase, summed over
// all calls.
type Direction struct {
	Sent     uint64  `json:"sent"`     // packets the sender sent while connected
	Expected uint64  `json:"expected"` // per stream: last frame counter received - first + 1
	Received uint64  `json:"received"` // packets the receiver got with the sender's tag
	LossPct  float64 `json:"loss_pct"` // 100 * (expected - received) / expected
	Gaps     int     `json:"gaps"`     // sequence number jumps the receiver saw (each burst of loss counts once)
	Foreign  uint64  `json:"foreign"`  // packets the receiver got from neither the sender nor the server's player: injected or crossed
	// Delay is per packet: from the sender's clock just before sendto to
	// the kernel's receive timestamp at the receiver. On loopback that is
	// the time the packet spent in the server: the delay it adds.
	Delay Percentiles `json:"delay"`
}

func (d *Direction) add(st RTPStats, tag Tag) {
	d.Received += st.ByTag[tag]
	d.Expected += st.Expected[tag]
	d.Gaps += st.SeqJumps
	d.Foreign += st.Received - st.ByTag[tag] - st.ByTag[TagNone]
}

func (d *Direction) finish(delays *Histogram) {
	if d.Expected > 0 {
		d.LossPct = 100 * (float64(d.Expected) - float64(d.Received)) / float64(d.Expected)
	}
	d.Delay = delays.Percentiles()
}

func (d Direction) withinTarget() bool {
	return d.Expected > 0 && d.Foreign == 0 && d.LossPct < TargetLossPct && d.Delay.P99 < TargetDelayP99
}

// Report is the outcome of a run.
type Report struct {
	Server      string         `json:"server"`
	Number      string         `json:"number"`
	Agents      int            `json:"agents"`
	Rate        float64        `json:"rate"` // requested calls per second
	Talk        time.Duration  `json:"talk_ns"`
	Attempted   int            `json:"attempted"`
	Answered    int            `json:"answered"` // reached an agent: agent-tagged RTP arrived
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures,omitempty"` // reason -> count
	SetupOK     Percentiles    `json:"setup_200_ok"`       // INVITE to 200 OK (and ACK sent)
	SetupAgent  Percentiles    `json:"setup_agent_audio"`  // INVITE to the first agent RTP packet
	ToMember    Direction      `json:"agent_to_member"`
	ToAgent     Direction      `json:"member_to_agent"`
	AgentCalls  int            `json:"agent_calls"`  // calls the agents answered
	OfferedCPS  float64        `json:"offered_cps"`  // calls started per second, first to last INVITE
	AnsweredCPS float64        `json:"answered_cps"` // 200 OKs per second, first INVITE to last 200 OK
	Duration    time.Duration  `json:"duration_ns"`
	Memory      *Memory        `json:"memory,omitempty"`
	Series      []Sample       `json:"series"`  // once a second
	PeakUp      int            `json:"peak_up"` // most calls in progress at once
	// WithinSetupTarget: under TargetFailedPct of the calls failed.
	WithinSetupTarget bool `json:"within_setup_target"`
	// WithinRelayTarget: no call failed and both directions are within
	// TargetLossPct and TargetDelayP99.
	WithinRelayTarget bool `json:"within_relay_target"`
	firstInvite       time.Time
	lastInvite        time.Time
	lastAnswered      time.Time
	answered200       int
}

// JSON returns the report as indented JSON.
func (r Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// Text returns the report as a table for people.
func (r Report) Text() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	us := func(d time.Duration) string { // ms with µs resolution
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	if r.Agents > 0 {
		fmt.Fprintf(w, "server\t%s\tnumber %s, %d agents, rate %.1f/s, talk %s\n", r.Server, r.Number, r.Agents, r.Rate, r.Talk)
	} else { // a relay measured on its own (rtpengine)
		fmt.Fprintf(w, "server\t%s\trate %.1f/s, talk %s\n", r.Server, r.Rate, r.Talk)
	}
	fmt.Fprintf(w, "calls\t%d attempted\t%d answered by agent, %d failed, %d agent calls\n", r.Attempted, r.Answered, r.Failed, r.AgentCalls)
	reasons := make([]string, 0, len(r.Failures))
	for k := range r.Failures {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "  failed\t%d\t%s\n", r.Failures[k], k)
	}
	fmt.Fprintf(w, "cps\t%.1f offered\t%.1f answered (200 OK)\n", r.OfferedCPS, r.AnsweredCPS)
	fmt.Fprintf(w, "setup target\t%v\t(failed < %.1f %% of attempted)\n", r.WithinSetupTarget, TargetFailedPct)
	fmt.Fprintln(w, "setup (ms)\tp50\tp95\tp99\tmax\tn")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"INVITE->200 OK", r.SetupOK}, {"INVITE->agent RTP", r.SetupAgent}} {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%d\n", row.name, ms(row.p.P50), ms(row.p.P95), ms(row.p.P99), ms(row.p.Max), row.p.N)
	}
	fmt.Fprintln(w, "rtp connected\texpected\treceived\tloss %\tgaps\tforeign\tdelay (ms) p50\tp99\tp99.9\tmax")
	for _, row := range []struct {
		name string
		d    Direction
	}{{"agent->member", r.ToMember}, {"member->agent", r.ToAgent}} {
		d := row.d
		fmt.Fprintf(w, "  %s\t%d\t%d\t%.3f\t%d\t%d\t%s\t%s\t%s\t%s\n", row.name, d.Expected, d.Received, d.LossPct, d.Gaps, d.Foreign,
			us(d.Delay.P50), us(d.Delay.P99), us(d.Delay.P999), us(d.Delay.Max))
	}
	fmt.Fprintf(w, "relay target\t%v\t(no failed call; loss < %.1f %%, delay p99 < %s both ways)\n",
		r.WithinRelayTarget, TargetLossPct, TargetDelayP99)
	fmt.Fprintf(w, "duration\t%s\n", r.Duration.Round(time.Millisecond))
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "node heap\t%.1f MiB idle\t%.1f MiB with agents\t%.1f MiB with %d calls up\n",
			mib(m.Before), mib(m.Agents), mib(m.Peak), m.CallsUp)
		fmt.Fprintf(w, "  per agent\t%.1f KiB\tper call\t%.1f KiB\n", float64(m.PerAgent)/1024, float64(m.PerCall)/1024)
	}
	_ = w.Flush()
	return b.String()
}

// runner is the state of one Run.
type runner struct {
	s      Scenario
	member *Phone
	ng     *ngClient // with Scenario.RTPengine

	mu         sync.Mutex
	rep        Report
	setupOK    []time.Duration
	setupAgent []time.Duration
	started    int
	up         int
	waiting    int             // answered (200 OK), no agent audio yet: waiting in the queue
	secAgent   []time.Duration // INVITE to agent audio of the calls connected in the current second

	toMember, toAgent Histogram // per-packet delays, each direction
}

// Run registers s.Agents simulated agents at s.Server (each its own phone
// on loopback, answering automatically), then places s.Calls member calls
// at s.Rate. Each call waits for the agent's audio, talks for s.Talk and
// hangs up. progress, if not nil, is called once a second. Run returns when
// every call and every agent leg has ended; an error means the run could
// not start (bad scenario, agents not registered), not that calls failed.
func Run(ctx context.Context, s Scenario, progress func(Progress)) (Report, error) {
	s, err := s.withDefaults()
	if err != nil {
		return Report{}, err
	}
	ip := "127.0.0.1"
	if ap, _ := LoopbackServer(s.Server); ap.Addr().Is6() {
		ip = "::1"
	}
	r := &runner{s: s, rep: Report{Server: s.Server, Number: s.Number, Agents: s.Agents, Rate: s.Rate, Talk: s.Talk,
		Failures: make(map[string]int)}}
	if s.RTPengine != "" {
		return r.runRTPengine(ctx, progress)
	}

	var mem *Memory
	if s.HeapURL != "" {
		mem = &Memory{}
		if mem.Before, err = HeapAlloc(ctx, s.HeapURL, s.HeapToken); err != nil {
			return Report{}, err
		}
	}
	agents, err := r.startAgents(ctx, ip)
	defer func() {
		for _, a := range agents {
			a.Close()
		}
	}()
	if err != nil {
		return Report{}, err
	}
	if r.member, err = NewPhoneAt("member", ip); err != nil {
		return Report{}, fmt.Errorf("member phone: %w", err)
	}
	defer r.member.Close()

	if mem != nil {
		// The REGISTER transactions stay in the node's SIP stack for 32 s
		// after their response (RFC 3261 timer J, for retransmissions):
		// count what a registered agent costs, not its registration.
		select {
		case <-ctx.Done():
		case <-time.After(HeapSettle):
		}
		if mem.Agents, err = HeapAlloc(ctx, s.HeapURL, s.HeapToken); err != nil {
			return Report{}, err
		}
	}

	// Agents' answered calls: one reader per agent, each waits for its calls.
	stop := make(chan struct{})
	drain, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDrain()
	var readers sync.WaitGroup
	for _, a := range agents {
		readers.Go(func() { r.agentCalls(drain, a, stop) })
	}

	begin := time.Now()
	var calls sync.WaitGroup
	progressDone := make(chan struct{})
	var progWG sync.WaitGroup
	progWG.Go(func() { r.reportProgress(begin, progress, progressDone) })
	r.placeCalls(ctx, begin, &calls, r.talk)
	var memErr error
	if mem != nil && ctx.Err() == nil {
		// Every call has started; half a talk time later those that reached
		// an agent are talking, the others wait in the queue.
		time.Sleep(s.Talk / 2)
		r.mu.Lock()
		mem.CallsUp = r.up
		r.mu.Unlock()
		mem.Peak, memErr = HeapAlloc(ctx, s.HeapURL, s.HeapToken)
	}
	calls.Wait()

	// The members hung up; the agents' legs end right after.
	close(stop)
	drainTimer := time.AfterFunc(agentDrain, stopDrain)
	readers.Wait()
	drainTimer.Stop()
	close(progressDone)
	progWG.Wait()
	r.stopAgents(agents)

	rep := r.finish(time.Since(begin))
	if mem != nil && memErr == nil {
		mem.finish(s.Agents)
		rep.Memory = mem
	}
	if memErr != nil {
		return rep, fmt.Errorf("heap with calls up: %w", memErr)
	}
	return rep, nil
}

// placeCalls starts the scenario's calls at its rate, each on a goroutine
// of calls running place, and returns when the last has started.
func (r *runner) placeCalls(ctx context.Context, begin time.Time, calls *sync.WaitGroup,
	place func(ctx context.Context, start time.Time, i int, talk time.Duration) string) {
	s := r.s
	rng := rand.New(rand.NewPCG(s.Seed, 0x63616c6c7765726b)) // the talk times of this run
	t := time.NewTicker(time.Duration(float64(time.Second) / s.Rate))
	defer t.Stop()
	for i := 0; i < s.Calls; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		if ctx.Err() != nil || s.Duration > 0 && time.Since(begin) >= s.Duration {
			break
		}
		if s.MaxUp > 0 && r.upCount() >= s.MaxUp {
			i-- // skip this tick: the cap holds the rate down
			continue
		}
		talk := s.talkTime(rng)
		calls.Go(func() { r.call(ctx, i, talk, place) })
	}
}

// runRTPengine is Run against rtpengine (Scenario.RTPengine).
func (r *runner) runRTPengine(ctx context.Context, progress func(Progress)) (Report, error) {
	addr, _ := LoopbackServer(r.s.RTPengine)
	var err error
	if r.ng, err = dialNG(addr); err != nil {
		return Report{}, fmt.Errorf("rtpengine: %w", err)
	}
	defer r.ng.close()
	if _, err := r.ng.do(ctx, map[string]any{"command": "ping"}); err != nil {
		return Report{}, err // not there: the run cannot start
	}
	r.rep.Server, r.rep.Number, r.rep.Agents = "rtpengine ng "+r.s.RTPengine, "", 0
	begin := time.Now()
	var calls, progWG sync.WaitGroup
	progressDone := make(chan struct{})
	progWG.Go(func() { r.reportProgress(begin, progress, progressDone) })
	r.placeCalls(ctx, begin, &calls, r.rtpengineTalk)
	calls.Wait()
	close(progressDone)
	progWG.Wait()
	return r.finish(time.Since(begin)), nil
}

// startAgents starts and registers the agents' phones; on error the phones
// started so far are returned for closing.
func (r *runner) startAgents(ctx context.Context, ip string) ([]*Agent, error) {
	var agents []*Agent
	for i := range r.s.Agents {
		id := strconv.Itoa(r.s.FirstAgent + i)
		rctx, cancel := context.WithTimeout(ctx, r.s.Timeout)
		a, err := StartAgent(rctx, id, ip, r.s.Server, r.s.Password, registerExpires, AgentOptions{AnswerAfter: r.s.AnswerAfter, Delays: &r.toAgent})
		cancel()
		if err != nil {
			return agents, fmt.Errorf("%w (check -password and the config's agents)", err)
		}
		agents = append(agents, a)
	}
	return agents, nil
}

// stopAgents unregisters the agents so the server does not ring phones
// that are gone; best effort.
func (r *runner) stopAgents(agents []*Agent) {
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _ = a.Register(ctx, r.s.Server, r.s.Password, 0)
		})
	}
	wg.Wait()
}

func (r *runner) reportProgress(begin time.Time, progress func(Progress), done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := 0
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		r.mu.Lock()
		p := Progress{Elapsed: time.Since(begin), Started: r.started, Up: r.up, Answered: r.rep.Answered,
			Failed: r.rep.Failed, CPS: float64(r.started - last)}
		last = r.started
		smp := Sample{At: p.Elapsed.Seconds(), Up: r.up, Waiting: r.waiting, CPS: p.CPS}
		if len(r.secAgent) > 0 {
			smp.SetupAgentP99 = float64(percentiles(r.secAgent).P99) / float64(time.Millisecond)
			r.secAgent = r.secAgent[:0]
		}
		r.rep.Series = append(r.rep.Series, smp)
		r.mu.Unlock()
		if progress != nil {
			progress(p)
		}
	}
}

// agentCalls takes the calls agent a answers until stop, and waits for them.
func (r *runner) agentCalls(drain context.Context, a *Agent, stop <-chan struct{}) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case c := <-a.Answered:
			wg.Go(func() { r.agentCall(drain, c) })
		case <-stop:
			for {
				select {
				case c := <-a.Answered:
					wg.Go(func() { r.agentCall(drain, c) })
				default:
					return
				}
			}
		}
	}
}

// agentCall measures the member->agent direction of one call: packets the
// agent received with the member's tag, and the agent's packets sent from
// the moment the member's audio arrived (the bridge is up) to the end.
func (r *runner) agentCall(drain context.Context, c *AgentCall) {
	t := time.NewTicker(2 * pollEvery)
	defer t.Stop()
	var a0 RTPStats
	connected := false
	for !connected {
		select {
		case <-c.Done():
			return
		case <-drain.Done():
			return
		case <-t.C:
			if st := c.RTP.Stats(); st.ByTag[TagMember] > 0 {
				a0, connected = st, true
			}
		}
	}
	select {
	case <-c.Done():
	case <-drain.Done():
	}
	a1 := c.RTP.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.AgentCalls++
	r.rep.ToAgent.add(a1, TagMember)
	r.rep.ToMember.Sent += a1.Sent - a0.Sent
}

func (r *runner) upCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.up
}

// talkTime draws one call's talk time.
func (s Scenario) talkTime(rng *rand.Rand) time.Duration {
	switch s.TalkDist {
	case TalkUniform:
		return s.Talk + time.Duration(rng.Int64N(int64(s.TalkMax-s.Talk)+1))
	case TalkExponential:
		return min(time.Duration(rng.ExpFloat64()*float64(s.Talk)), 10*s.Talk)
	default:
		return s.Talk
	}
}

// call places member call i, talking talk, and records its outcome.
func (r *runner) call(ctx context.Context, i int, talk time.Duration,
	place func(ctx context.Context, start time.Time, i int, talk time.Duration) string) {
	r.mu.Lock()
	r.started++
	r.up++
	r.rep.PeakUp = max(r.rep.PeakUp, r.up)
	r.rep.Attempted++
	start := time.Now()
	if r.rep.firstInvite.IsZero() {
		r.rep.firstInvite = start
	}
	r.rep.lastInvite = start
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.up--
		r.mu.Unlock()
	}()
	reason := place(ctx, start, i, talk)
	if reason != "" {
		r.mu.Lock()
		r.rep.Failed++
		r.rep.Failures[reason]++
		r.mu.Unlock()
	}
}

// talk runs one call: INVITE, wait for the agent's audio, talk, BYE. It
// returns why the call failed, or "".
func (r *runner) talk(ctx context.Context, start time.Time, i int, talkFor time.Duration) string {
	setupCtx, cancel := context.WithTimeout(ctx, r.s.Timeout)
	defer cancel()
	mc, err := r.member.Call(setupCtx, CallOptions{Server: r.s.Server, Number: r.s.Number, From: fmt.Sprintf("+4930%07d", i), Delays: &r.toMember})
	if err != nil {
		return callFailure(err)
	}
	okAt := time.Now()
	r.mu.Lock()
	r.waiting++
	r.setupOK = append(r.setupOK, okAt.Sub(start))
	r.rep.answered200++
	if okAt.After(r.rep.lastAnswered) {
		r.rep.lastAnswered = okAt
	}
	r.mu.Unlock()

	hangup := func() error {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), byeTimeout)
		defer cancel()
		return mc.Hangup(bctx)
	}
	stillWaiting := true
	defer func() {
		if stillWaiting {
			r.mu.Lock()
			r.waiting--
			r.mu.Unlock()
		}
	}()
	// Connected = the first agent-tagged packet arrived.
	t := time.NewTicker(pollEvery)
	var m0 RTPStats
	for m0.ByTag[TagAgent] == 0 {
		select {
		case <-setupCtx.Done():
			t.Stop()
			_ = hangup()
			if ctx.Err() != nil {
				return "interrupted"
			}
			return "no agent audio within timeout"
		case <-mc.Done():
			t.Stop()
			mc.RTP.Close()
			return "ended by server before agent audio"
		case <-t.C:
			m0 = mc.RTP.Stats()
		}
	}
	t.Stop()
	r.mu.Lock()
	r.rep.Answered++
	r.waiting--
	stillWaiting = false
	r.setupAgent = append(r.setupAgent, time.Since(start))
	r.secAgent = append(r.secAgent, time.Since(start))
	r.mu.Unlock()

	talk := time.NewTimer(talkFor)
	defer talk.Stop()
	reason := ""
	select {
	case <-talk.C:
	case <-ctx.Done():
		reason = "interrupted"
	case <-mc.Done():
		mc.RTP.Close()
		reason = "ended by server while talking"
	}
	if reason != "ended by server while talking" {
		if err := hangup(); err != nil && reason == "" {
			reason = "bye: " + err.Error()
		}
	}
	m1 := mc.RTP.Stats() // the member's RTP is closed now
	r.mu.Lock()
	r.rep.ToMember.add(m1, TagAgent)
	r.rep.ToAgent.Sent += m1.Sent - m0.Sent
	r.mu.Unlock()
	return reason
}

// callFailure names why an INVITE did not lead to an answered call.
func callFailure(err error) string {
	switch {
	case errors.Is(err, ErrNoAnswer):
		return err.Error() // carries the status code and reason
	case errors.Is(err, context.DeadlineExceeded):
		return "no 200 OK within timeout"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	default:
		return "invite: " + err.Error()
	}
}

func (r *runner) finish(d time.Duration) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.rep
	rep.Duration = d
	rep.SetupOK = percentiles(r.setupOK)
	rep.SetupAgent = percentiles(r.setupAgent)
	rep.ToMember.finish(&r.toMember)
	rep.ToAgent.finish(&r.toAgent)
	rep.WithinSetupTarget = rep.Attempted > 0 && float64(rep.Failed) < TargetFailedPct/100*float64(rep.Attempted)
	rep.WithinRelayTarget = rep.Failed == 0 && rep.ToMember.withinTarget() && rep.ToAgent.withinTarget()
	if span := rep.lastInvite.Sub(rep.firstInvite); span > 0 {
		rep.OfferedCPS = float64(rep.Attempted-1) / span.Seconds()
	}
	if span := rep.lastAnswered.Sub(rep.firstInvite); span > 0 && rep.answered200 > 1 {
		rep.AnsweredCPS = float64(rep.answered200) / span.Seconds()
	}
	if len(rep.Failures) == 0 {
		rep.Failures = nil
	}
	return rep
}
