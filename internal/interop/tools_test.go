package interop

// Test-only helpers that drive the external interop tools against a SIP
// server on 127.0.0.1:
//
//   - SIPp (Debian package sip-tester) plays the MEMBER (caller): runSIPpMember
//     / startSIPpMember with testdata/member_uac.xml.
//   - baresip plays the AGENT: startBaresip writes a config dir, registers
//     (optionally) with digest auth, auto-answers and sends a sine tone as PCMU.
//   - dumpcap (installed with tshark) counts the RTP packets that reach a UDP
//     port on lo: captureRTP.
//
// Everything here is loopback only. See TOOLING.md for versions, the exact
// command lines and the pitfalls.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Tools and ports

// toolPackages maps a binary to the Debian package that provides it.
var toolPackages = map[string]string{
	"sipp":     "sip-tester",
	"baresip":  "baresip",
	"tshark":   "tshark",
	"dumpcap":  "tshark", // dumpcap comes with it (wireshark-common)
	"chromium": "chromium",
	"node":     "nodejs",
	"unshare":  "util-linux",
	"ip":       "iproute2",
}

// requireTool FAILS the test (never skips) when a binary is missing, so that a
// missing tool can never turn into a skipped-and-passing interop test.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := toolPackages[name]
		if pkg == "" {
			pkg = name
		}
		t.Fatalf("interop: required tool %q not found in PATH (%v).\n"+
			"Install it with:  DEBIAN_FRONTEND=noninteractive apt-get install -y %s\n"+
			"(see internal/interop/TOOLING.md; dumpcap must be able to capture on 'lo': run as root or give dumpcap its capabilities)",
			name, err, pkg)
	}
	return p
}

var (
	portsMu    sync.Mutex
	portsGiven = map[string]bool{} // "udp/1234": handed out by this test binary
)

// claimPorts records ports as handed out so that two helpers in the same test
// binary never get the same one. It returns false if one was already claimed.
func claimPorts(proto string, base, n int) bool {
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < n; i++ {
		if portsGiven[fmt.Sprintf("%s/%d", proto, base+i)] {
			return false
		}
	}
	for i := 0; i < n; i++ {
		portsGiven[fmt.Sprintf("%s/%d", proto, base+i)] = true
	}
	return true
}

// freeUDPPort returns a UDP port that is currently free on 127.0.0.1.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("interop: freeUDPPort: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		_ = c.Close()
		if claimPorts("udp", port, 1) {
			return port
		}
	}
	t.Fatalf("interop: freeUDPPort: no free port found")
	return 0
}

// freeTCPPort returns a TCP port that is currently free on 127.0.0.1.
//
//lint:ignore U1000 for the server interop tests (HTTP/TCP listeners)
func freeTCPPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("interop: freeTCPPort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if claimPorts("tcp", port, 1) {
			return port
		}
	}
	t.Fatalf("interop: freeTCPPort: no free port found")
	return 0
}

// freeUDPPortBlock returns an EVEN port p such that p .. p+n-1 are all free
// UDP ports on 127.0.0.1. Media ports need this: baresip binds RTP p and RTCP
// p+1, SIPp binds -mp p and p+2 (its "video" echo socket).
func freeUDPPortBlock(t testing.TB, n int) int {
	t.Helper()
	for attempt := 0; attempt < 200; attempt++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("interop: freeUDPPortBlock: %v", err)
		}
		base := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		_ = c.Close()
		if base < 1024 || base+n-1 > 65535 {
			continue
		}
		var held []net.PacketConn
		ok := true
		for i := 0; i < n; i++ {
			pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, pc)
		}
		for _, pc := range held {
			_ = pc.Close()
		}
		if ok && claimPorts("udp", base, n) {
			return base
		}
	}
	t.Fatalf("interop: freeUDPPortBlock(%d): no free block found", n)
	return 0
}

// requireLoopback fails the test unless hostport names a loopback IP literal:
// these helpers must never send anything to another address.
func requireLoopback(t testing.TB, what, hostport string) {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("interop: %s %q: want host:port: %v", what, hostport, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		t.Fatalf("interop: %s %q: only IPv4 loopback literals (127.x.x.x) are allowed", what, hostport)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("interop: %s %q: bad port", what, hostport)
	}
}

// ---------------------------------------------------------------------------
// Process plumbing

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// logBuffer is a concurrency-safe append-only buffer whose readers can wait
// for new output.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

// String returns the output so far, without ANSI colour escapes.
func (b *logBuffer) String() string {
	s, _ := b.snapshot()
	return s
}

func (b *logBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return ansiRE.ReplaceAllString(b.buf.String(), ""), b.changed
}

// waitOutput waits until check(output) reports done, the process exits or the
// timeout expires.
func waitOutput(b *logBuffer, exited <-chan struct{}, timeout time.Duration, what string,
	check func(out string) (done bool, err error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		out, changed := b.snapshot()
		if done, err := check(out); done || err != nil {
			return err
		}
		select {
		case <-changed:
		case <-exited:
			out, _ := b.snapshot()
			if done, err := check(out); done || err != nil {
				return err
			}
			return fmt.Errorf("%s: process exited before it happened", what)
		case <-deadline.C:
			return fmt.Errorf("%s: timed out after %v", what, timeout)
		}
	}
}

// mediaCommand is exec.CommandContext, but when running as root the tool is
// started through "nice -n -10": both baresip's ausine source and SIPp's
// rtp_stream are paced by sleeping threads, and on an overloaded CI box
// (CPU pressure > 90 %) baresip was starved for ~0.5 s at a time and sent only
// 80-85 % of its packets. nice applies to all threads since it is set before
// exec. Without root the tool runs at normal priority.
func mediaCommand(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		if nice, err := exec.LookPath("nice"); err == nil {
			return exec.CommandContext(ctx, nice, append([]string{"-n", "-10", bin}, args...)...)
		}
	}
	return exec.CommandContext(ctx, bin, args...)
}

// lifetimeFor returns how long a helper process may live at most (a safety
// net in case the test binary dies without cleaning up).
func lifetimeFor(ctx context.Context, fallback time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl) + 5*time.Second; d > 0 {
			return d
		}
		return 5 * time.Second
	}
	return fallback
}

// ---------------------------------------------------------------------------
// baresip (the AGENT)

// BaresipOpts configures one baresip user agent. Zero values get defaults.
type BaresipOpts struct {
	User     string // account user, default "1001"
	AuthUser string // digest user name, default User
	Password string // digest password (auth_pass); empty = none

	// Registrar is "127.0.0.1:port" of the registrar (our server). Empty means
	// no registration at all (regint=0): the UA only answers calls sent to
	// sip:User@127.0.0.1:SIPPort.
	Registrar string
	// Domain is the host part of the AOR. Default: Registrar (or 127.0.0.1).
	// If it differs from Registrar, requests go via outbound=Registrar.
	Domain string
	RegInt int // registration interval in s, default 60 (only with Registrar)
	// Transport is the account's transport to the registrar: "udp"
	// (default) or "tls". For tls, CAFile is the PEM file of the
	// certificate authority that baresip trusts.
	Transport string
	CAFile    string
	// MediaEnc is the account's media encryption: "" (plain RTP) or
	// "srtp-mand" (SDES-SRTP required: RTP/SAVP, plain offers refused).
	MediaEnc string

	AnswerMode string   // "auto" (default), "manual" or "early"
	Codecs     []string // audio_codecs, default PCMU, PCMA
	ToneHz     int      // ausine tone frequency, default 440

	SIPPort int // sip_listen port on 127.0.0.1; 0 = a free one
	RTPPort int // even RTP port (RTCP is +1); 0 = a free pair

	SIPTrace    bool          // baresip -s: print every SIP message
	MaxLifetime time.Duration // baresip -t safety net; default ctx deadline+5s or 10 min
	ReadyWait   time.Duration // how long to wait for "baresip is ready.", default 10s
}

// Baresip is a running baresip process.
type Baresip struct {
	Opts    BaresipOpts // with defaults filled in
	Dir     string      // config dir (-f)
	SIPPort int
	RTPPort int

	cmd    *exec.Cmd
	out    *logBuffer
	exited chan struct{}

	waitMu  sync.Mutex
	waitErr error

	stopOnce sync.Once
}

var (
	baresipRegOK   = regexp.MustCompile(`\{\d+/[A-Za-z]+/v[46]\} 2\d\d [^\n]*\[\d+ binding`)
	baresipRegFail = regexp.MustCompile(`(?m)^reg: [^\n]*`)
	baresipReady   = regexp.MustCompile(`(?m)^baresip is ready\.`)
	baresipAnswer  = regexp.MustCompile(`Call established: `)
	baresipClosed  = regexp.MustCompile(`Call with [^\n]* terminated`)
)

// startBaresip writes a config dir under t.TempDir(), starts baresip and
// waits until it reports "baresip is ready.". It is stopped in t.Cleanup.
func startBaresip(t *testing.T, ctx context.Context, opts BaresipOpts) *Baresip {
	t.Helper()
	bin := requireTool(t, "baresip")

	if opts.User == "" {
		opts.User = "1001"
	}
	if opts.AuthUser == "" {
		opts.AuthUser = opts.User
	}
	if opts.AnswerMode == "" {
		opts.AnswerMode = "auto"
	}
	if len(opts.Codecs) == 0 {
		opts.Codecs = []string{"PCMU", "PCMA"}
	}
	if opts.ToneHz == 0 {
		opts.ToneHz = 440
	}
	if opts.SIPPort == 0 {
		opts.SIPPort = freeUDPPort(t)
	}
	if opts.RTPPort == 0 {
		opts.RTPPort = freeUDPPortBlock(t, 2)
	}
	if opts.RTPPort%2 != 0 {
		t.Fatalf("interop: baresip RTPPort %d must be even", opts.RTPPort)
	}
	if opts.ReadyWait == 0 {
		opts.ReadyWait = 10 * time.Second
	}
	if opts.Transport == "" {
		opts.Transport = "udp"
	}
	if opts.MaxLifetime == 0 {
		opts.MaxLifetime = lifetimeFor(ctx, 10*time.Minute)
	}

	var account string
	if opts.Registrar != "" {
		requireLoopback(t, "baresip registrar", opts.Registrar)
		if opts.Domain == "" {
			opts.Domain = opts.Registrar
		}
		if opts.RegInt == 0 {
			opts.RegInt = 60
		}
		account = fmt.Sprintf("<sip:%s@%s;transport=%s>;regint=%d", opts.User, opts.Domain, opts.Transport, opts.RegInt)
		if opts.Domain != opts.Registrar {
			account += fmt.Sprintf(`;outbound="sip:%s;transport=%s"`, opts.Registrar, opts.Transport)
		}
	} else {
		if opts.Domain == "" {
			opts.Domain = "127.0.0.1"
		}
		opts.RegInt = 0
		account = fmt.Sprintf("<sip:%s@%s;transport=udp>;regint=0", opts.User, opts.Domain)
	}
	if opts.Password != "" {
		account += fmt.Sprintf(";auth_user=%s;auth_pass=%s", opts.AuthUser, opts.Password)
	}
	account += fmt.Sprintf(";answermode=%s;audio_codecs=%s;ptime=20", opts.AnswerMode, strings.Join(opts.Codecs, ","))
	if opts.MediaEnc != "" {
		account += ";mediaenc=" + opts.MediaEnc
	}

	// No UI module (stdio needs a pollable stdin), no sound card: ausine is the
	// source (48 kHz stereo only; baresip resamples to 8 kHz for G.711), and no
	// player module is loaded at all, so received audio is decoded and dropped.
	// dns_server points to loopback so nothing can leak off the box.
	config := fmt.Sprintf(`# generated by callwerk internal/interop
poll_method		epoll
sip_listen		127.0.0.1:%d
call_local_timeout	120
call_max_calls		4
audio_source		ausine,%d
ausrc_srate		48000
ausrc_channels		2
audio_level		no
rtp_ports		%d-%d
rtp_timeout		0
rtcp_mux		no
jitter_buffer_delay	5-10
net_interface		127.0.0.1
dns_server		127.0.0.1:53
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module_app		account.so
`, opts.SIPPort, opts.ToneHz, opts.RTPPort, opts.RTPPort+1)
	if opts.CAFile != "" {
		config += "sip_cafile\t\t" + opts.CAFile + "\n"
	}
	if strings.HasPrefix(opts.MediaEnc, "srtp") {
		config += "module\t\t\tsrtp.so\n"
	}

	dir := t.TempDir()
	for name, content := range map[string]string{
		"config":   config,
		"accounts": account + "\n",
		"contacts": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatalf("interop: baresip config: %v", err)
		}
	}

	args := []string{"-4", "-f", dir, "-t", strconv.Itoa(int(math.Ceil(opts.MaxLifetime.Seconds())))}
	if opts.SIPTrace {
		args = append(args, "-s")
	}
	b := &Baresip{
		Opts: opts, Dir: dir, SIPPort: opts.SIPPort, RTPPort: opts.RTPPort,
		out: newLogBuffer(), exited: make(chan struct{}),
	}
	cmd := mediaCommand(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdout = b.out
	cmd.Stderr = b.out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	setPdeathsig(cmd)
	b.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start baresip: %v", err)
	}
	go func() {
		err := cmd.Wait()
		b.waitMu.Lock()
		b.waitErr = err
		b.waitMu.Unlock()
		close(b.exited)
	}()
	t.Cleanup(b.Stop)
	t.Logf("interop: baresip %s listening on 127.0.0.1:%d, RTP %d; account %s", dir, opts.SIPPort, opts.RTPPort, account)

	if err := b.WaitOutput(baresipReady, opts.ReadyWait); err != nil {
		t.Fatalf("interop: baresip did not start: %v\n--- baresip output ---\n%s", err, b.Output())
	}
	return b
}

// SIPAddr is the "127.0.0.1:port" baresip listens on.
func (b *Baresip) SIPAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.SIPPort) }

// Output returns everything baresip printed so far (stdout+stderr, no colours).
func (b *Baresip) Output() string { return b.out.String() }

// Exited reports whether the process has exited, and its wait error.
func (b *Baresip) Exited() (bool, error) {
	select {
	case <-b.exited:
		b.waitMu.Lock()
		defer b.waitMu.Unlock()
		return true, b.waitErr
	default:
		return false, nil
	}
}

// WaitOutput waits until baresip's output matches re.
func (b *Baresip) WaitOutput(re *regexp.Regexp, timeout time.Duration) error {
	return b.WaitCount(re, 1, timeout)
}

// WaitCount waits until re matches at least n times in baresip's output.
func (b *Baresip) WaitCount(re *regexp.Regexp, n int, timeout time.Duration) error {
	return waitOutput(b.out, b.exited, timeout, fmt.Sprintf("baresip: waiting for %d x %q", n, re),
		func(out string) (bool, error) { return len(re.FindAllStringIndex(out, n)) >= n, nil })
}

// WaitRegistered waits for a successful REGISTER ("{0/UDP/v4} 200 OK () [1
// binding]") and fails early on a final failure ("reg: ...: 403 Forbidden").
func (b *Baresip) WaitRegistered(timeout time.Duration) error {
	return waitOutput(b.out, b.exited, timeout, "baresip: waiting for registration",
		func(out string) (bool, error) {
			ok := baresipRegOK.FindStringIndex(out)
			bad := baresipRegFail.FindStringIndex(out)
			switch {
			case ok != nil && (bad == nil || ok[0] < bad[0]):
				return true, nil
			case bad != nil:
				return true, fmt.Errorf("baresip: registration failed: %s", out[bad[0]:bad[1]])
			}
			return false, nil
		})
}

// WaitAnswered waits until baresip has answered a call ("Call established").
func (b *Baresip) WaitAnswered(timeout time.Duration) error {
	return b.WaitCount(baresipAnswer, 1, timeout)
}

// WaitAnsweredN waits until baresip has answered n calls in total.
func (b *Baresip) WaitAnsweredN(n int, timeout time.Duration) error {
	return b.WaitCount(baresipAnswer, n, timeout)
}

// WaitCallClosed waits until n calls have terminated ("Call with ... terminated").
func (b *Baresip) WaitCallClosed(n int, timeout time.Duration) error {
	return b.WaitCount(baresipClosed, n, timeout)
}

// Stop terminates baresip: SIGTERM (it un-REGISTERs and exits), after 2 s a
// second SIGTERM (baresip 1.0.0 exits at once on the second signal, e.g. when
// the registrar is already gone), after 2 more s SIGKILL. Idempotent.
func (b *Baresip) Stop() {
	b.stopOnce.Do(func() {
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGTERM, os.Kill} {
			select {
			case <-b.exited:
				return
			default:
			}
			_ = b.cmd.Process.Signal(sig)
			select {
			case <-b.exited:
				return
			case <-time.After(2 * time.Second):
			}
		}
		<-b.exited
	})
}

// ---------------------------------------------------------------------------
// SIPp (the MEMBER)

// SIPpOpts configures one SIPp member run. Zero values get defaults.
type SIPpOpts struct {
	Target    string        // "127.0.0.1:port" of the UAS / B2BUA (required)
	Service   string        // -s: called number, default "100"
	Scenario  string        // default testdata/member_uac.xml
	Calls     int           // -m: number of calls, default 1
	Limit     int           // -l: max simultaneous calls, default Calls
	Rate      int           // -r: calls per second, default 10
	Talk      time.Duration // -d: talk time (RTP streaming), default 3s
	SIPPort   int           // -p: local SIP port; 0 = free
	MediaPort int           // -mp: even; SIPp binds mp and mp+2; 0 = free block
	Timeout   time.Duration // -timeout (global, with -timeout_error); default Calls*Talk+30s
	ExtraArgs []string      // appended verbatim, e.g. -key foo bar
}

// SIPpResult is what one SIPp run produced.
type SIPpResult struct {
	ExitCode   int // 0 all calls OK, 1 some failed, 97 internal exit, 99 no calls, 255 fatal
	Successful int // SuccessfulCall(C) from the -trace_stat CSV (-1 if unknown)
	Failed     int // FailedCall(C) from the -trace_stat CSV (-1 if unknown)
	Stdout     string
	Stderr     string
	Errors     string // -trace_err file: unexpected messages
	Messages   string // -trace_msg file: every SIP message
	Dir        string // working dir with scenario, audio, logs
	SIPPort    int
	MediaPort  int
	Elapsed    time.Duration
}

// Summary is a compact report for failure messages.
func (r SIPpResult) Summary() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "sipp exit=%d successful=%d failed=%d elapsed=%v sip=127.0.0.1:%d media=%d dir=%s\n",
		r.ExitCode, r.Successful, r.Failed, r.Elapsed.Round(time.Millisecond), r.SIPPort, r.MediaPort, r.Dir)
	if s := strings.TrimSpace(r.Stderr); s != "" {
		fmt.Fprintf(&sb, "--- sipp stderr ---\n%s\n", s)
	}
	if s := strings.TrimSpace(r.Errors); s != "" {
		fmt.Fprintf(&sb, "--- sipp errors ---\n%s\n", s)
	}
	if s := strings.TrimSpace(r.Messages); s != "" {
		fmt.Fprintf(&sb, "--- sipp messages ---\n%s\n", s)
	}
	return sb.String()
}

// SIPpRun is a SIPp process started by startSIPpMember.
type SIPpRun struct {
	Opts SIPpOpts // with defaults filled in
	Dir  string
	done chan struct{}
	res  SIPpResult
	err  error
}

// Wait blocks until SIPp has finished and returns its result. err is non-nil
// when SIPp could not run, exited non-zero, or not all calls succeeded.
func (r *SIPpRun) Wait() (SIPpResult, error) {
	<-r.done
	return r.res, r.err
}

// runSIPpMember runs SIPp to completion (see startSIPpMember).
func runSIPpMember(t *testing.T, ctx context.Context, opts SIPpOpts) (SIPpResult, error) {
	t.Helper()
	return startSIPpMember(t, ctx, opts).Wait()
}

// startSIPpMember starts SIPp with the member scenario against opts.Target
// and returns at once. The scenario and tone_pcmu.raw are copied into a temp
// dir which is SIPp's working directory (rtp_stream paths are relative to it).
func startSIPpMember(t *testing.T, ctx context.Context, opts SIPpOpts) *SIPpRun {
	t.Helper()
	bin := requireTool(t, "sipp")
	requireLoopback(t, "sipp target", opts.Target)
	if opts.Service == "" {
		opts.Service = "100"
	}
	if opts.Scenario == "" {
		opts.Scenario = filepath.Join("testdata", "member_uac.xml")
	}
	if opts.Calls == 0 {
		opts.Calls = 1
	}
	if opts.Limit == 0 {
		opts.Limit = opts.Calls
	}
	if opts.Rate == 0 {
		opts.Rate = 10
	}
	if opts.Talk == 0 {
		opts.Talk = 3 * time.Second
	}
	if opts.SIPPort == 0 {
		opts.SIPPort = freeUDPPort(t)
	}
	if opts.MediaPort == 0 {
		opts.MediaPort = freeUDPPortBlock(t, 4)
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Duration(opts.Calls)*opts.Talk + 30*time.Second
	}

	dir := t.TempDir()
	scenario := filepath.Join(dir, filepath.Base(opts.Scenario))
	copyFile(t, opts.Scenario, scenario)
	copyFile(t, filepath.Join(filepath.Dir(opts.Scenario), "tone_pcmu.raw"), filepath.Join(dir, "tone_pcmu.raw"))

	statsFile := filepath.Join(dir, "stats.csv")
	errFile := filepath.Join(dir, "errors.log")
	msgFile := filepath.Join(dir, "messages.log")
	args := []string{
		opts.Target,
		"-sf", scenario,
		"-s", opts.Service,
		"-i", "127.0.0.1", "-p", strconv.Itoa(opts.SIPPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(opts.MediaPort),
		// the UDP control socket defaults to 0.0.0.0:8888: pin it to loopback
		"-ci", "127.0.0.1", "-cp", strconv.Itoa(freeUDPPort(t)),
		"-m", strconv.Itoa(opts.Calls),
		"-l", strconv.Itoa(opts.Limit),
		"-r", strconv.Itoa(opts.Rate),
		"-d", strconv.FormatInt(opts.Talk.Milliseconds(), 10),
		"-timeout", fmt.Sprintf("%ds", int(math.Ceil(opts.Timeout.Seconds()))), "-timeout_error",
		"-nostdin",
		"-trace_stat", "-stf", statsFile,
		"-trace_err", "-error_file", errFile,
		"-trace_msg", "-message_file", msgFile,
	}
	args = append(args, opts.ExtraArgs...)

	run := &SIPpRun{Opts: opts, Dir: dir, done: make(chan struct{})}
	stdout, stderr := newLogBuffer(), newLogBuffer()
	cmd := mediaCommand(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	setPdeathsig(cmd)
	t.Logf("interop: %s %s", bin, strings.Join(args, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		run.err = fmt.Errorf("start sipp: %w", err)
		close(run.done)
		return run
	}
	go func() {
		defer close(run.done)
		werr := cmd.Wait()
		res := SIPpResult{
			ExitCode: cmd.ProcessState.ExitCode(), Successful: -1, Failed: -1,
			Stdout: stdout.String(), Stderr: stderr.String(),
			Errors: readFileString(errFile), Messages: readFileString(msgFile),
			Dir: dir, SIPPort: opts.SIPPort, MediaPort: opts.MediaPort,
			Elapsed: time.Since(start),
		}
		res.Successful, res.Failed = parseSIPpStats(readFileString(statsFile))
		run.res = res
		var exitErr *exec.ExitError
		switch {
		case werr != nil && !errors.As(werr, &exitErr):
			run.err = fmt.Errorf("sipp: %w", werr)
		case res.ExitCode != 0:
			run.err = fmt.Errorf("sipp exited with code %d (successful=%d failed=%d)", res.ExitCode, res.Successful, res.Failed)
		case res.Successful >= 0 && (res.Successful < opts.Calls || res.Failed > 0):
			run.err = fmt.Errorf("sipp: %d of %d calls successful, %d failed", res.Successful, opts.Calls, res.Failed)
		}
	}()
	// Make sure a run the test forgot to Wait for is gone before the temp dir
	// is removed (Cleanups run last-in first-out, TempDir's ran first).
	t.Cleanup(func() {
		select {
		case <-run.done:
		case <-time.After(100 * time.Millisecond):
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-run.done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-run.done
			}
		}
	})
	return run
}

// parseSIPpStats returns SuccessfulCall(C) and FailedCall(C) from the last
// row of a SIPp -trace_stat CSV (';' separated, header in the first row).
func parseSIPpStats(csv string) (successful, failed int) {
	successful, failed = -1, -1
	var lines []string
	for _, l := range strings.Split(csv, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, "\r"))
		}
	}
	if len(lines) < 2 {
		return
	}
	header := strings.Split(lines[0], ";")
	last := strings.Split(lines[len(lines)-1], ";")
	for i, h := range header {
		if i >= len(last) {
			break
		}
		v, err := strconv.Atoi(strings.TrimSpace(last[i]))
		if err != nil {
			continue
		}
		switch h {
		case "SuccessfulCall(C)":
			successful = v
		case "FailedCall(C)":
			failed = v
		}
	}
	return
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatalf("interop: %v", err)
	}
}

func readFileString(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}

// ---------------------------------------------------------------------------
// RTP counting (dumpcap, the capture engine of tshark)
//
// tshark itself is not used for counting: it prints "Capturing on 'lo'"
// BEFORE it has started dumpcap (so that line is no readiness signal) and
// its dissector start-up costs ~1 s of CPU, 20 s and more on a loaded CI box.
// dumpcap (same package) starts in ~50 ms and writes the libpcap header to
// stdout only after the pcap handle and the BPF filter are active, which is
// an exact readiness signal; it flushes every packet to the pipe.

// RTPCounter counts the UDP packets sent to one port on 127.0.0.1, as seen
// on the loopback interface.
type RTPCounter struct {
	Port int

	t        testing.TB
	cmd      *exec.Cmd
	cmdline  string
	stderr   *logBuffer
	ready    chan struct{} // closed when the pcap header has been read
	exited   chan struct{} // closed when dumpcap has exited and stdout is drained
	stopOnce sync.Once

	mu       sync.Mutex
	n        int
	bySrc    map[int]int
	bySize   map[int]int // by UDP payload length
	readErr  error
	reported int // "Packets captured: N" from dumpcap on exit, -1 if unknown
}

var dumpcapCaptured = regexp.MustCompile(`(?m)^Packets captured: (\d+)`)

// captureRTP starts dumpcap on lo with the capture filter
// "udp and dst host 127.0.0.1 and dst port PORT" and returns once the capture
// is really active (traffic sent afterwards is counted). Call Stop before
// reading the final Count; Stop also runs in t.Cleanup.
func captureRTP(t *testing.T, ctx context.Context, port int) *RTPCounter {
	t.Helper()
	c := startCaptureRTP(t, ctx, port)
	c.WaitReady()
	return c
}

// startCaptureRTP starts the capture like captureRTP but does not wait for
// it to be active; call WaitReady before sending traffic.
func startCaptureRTP(t *testing.T, ctx context.Context, port int) *RTPCounter {
	t.Helper()
	bin := requireTool(t, "dumpcap")
	filter := fmt.Sprintf("udp and dst host 127.0.0.1 and dst port %d", port)
	lifetime := int(math.Ceil(lifetimeFor(ctx, 10*time.Minute).Seconds()))
	args := []string{
		"-i", "lo", // loopback only
		"-f", filter,
		"-s", "128", // headers are enough
		"-P",      // classic libpcap format
		"-w", "-", // to stdout
		"-a", fmt.Sprintf("duration:%d", lifetime), // safety net
	}
	c := &RTPCounter{
		Port: port, t: t, stderr: newLogBuffer(),
		ready: make(chan struct{}), exited: make(chan struct{}),
		bySrc: map[int]int{}, bySize: map[int]int{}, reported: -1,
		cmdline: bin + " " + strings.Join(args, " "),
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = c.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	setPdeathsig(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("interop: dumpcap: %v", err)
	}
	c.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start dumpcap: %v", err)
	}
	go func() {
		c.readPcap(stdout)
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		if m := dumpcapCaptured.FindStringSubmatch(c.stderr.String()); m != nil {
			n, _ := strconv.Atoi(m[1])
			c.mu.Lock()
			c.reported = n
			c.mu.Unlock()
		}
		close(c.exited)
	}()
	t.Cleanup(c.Stop)
	return c
}

// WaitReady waits (up to 20 s) until the capture is active, failing the test
// otherwise (e.g. no permission to capture).
func (c *RTPCounter) WaitReady() {
	c.t.Helper()
	select {
	case <-c.ready:
		return
	case <-c.exited:
	case <-time.After(20 * time.Second):
	}
	c.t.Fatalf("interop: dumpcap could not start capturing on lo (needs root or the dumpcap capabilities: "+
		"dpkg-reconfigure wireshark-common + group wireshark)\ncommand: %s\n--- dumpcap stderr ---\n%s",
		c.cmdline, c.stderr.String())
}

// readPcap parses the libpcap stream from dumpcap and counts packets by UDP
// source port.
func (c *RTPCounter) readPcap(r io.Reader) {
	br := bufio.NewReader(r)
	var gh [24]byte
	if _, err := io.ReadFull(br, gh[:]); err != nil {
		c.setReadErr(fmt.Errorf("pcap header: %w", err))
		return
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(gh[0:4]) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		c.setReadErr(fmt.Errorf("not a pcap stream: % x", gh[0:4]))
		return
	}
	linkType := bo.Uint32(gh[20:24]) & 0x0fffffff
	close(c.ready)
	var rh [16]byte
	buf := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(br, rh[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				c.setReadErr(err)
			}
			return
		}
		incl := int(bo.Uint32(rh[8:12]))
		if incl < 0 || incl > 1<<20 {
			c.setReadErr(fmt.Errorf("bad pcap record length %d", incl))
			return
		}
		buf = buf[:0]
		buf = append(buf, make([]byte, incl)...)
		if _, err := io.ReadFull(br, buf); err != nil {
			c.setReadErr(err)
			return
		}
		src, size := udpHeader(linkType, buf)
		c.mu.Lock()
		c.n++
		c.bySrc[src]++
		c.bySize[size]++
		c.mu.Unlock()
	}
}

func (c *RTPCounter) setReadErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readErr = err
}

// udpHeader returns the source port and the payload length of the IPv4
// UDP datagram in the captured frame p, or -1, -1 if it is none.
func udpHeader(linkType uint32, p []byte) (src, payload int) {
	var ip []byte
	switch linkType {
	case 1: // Ethernet (Linux lo)
		if len(p) >= 14 && binary.BigEndian.Uint16(p[12:14]) == 0x0800 {
			ip = p[14:]
		}
	case 113: // Linux cooked v1
		if len(p) >= 16 && binary.BigEndian.Uint16(p[14:16]) == 0x0800 {
			ip = p[16:]
		}
	case 276: // Linux cooked v2
		if len(p) >= 20 && binary.BigEndian.Uint16(p[0:2]) == 0x0800 {
			ip = p[20:]
		}
	case 0: // BSD loopback
		if len(p) >= 4 {
			ip = p[4:]
		}
	case 12, 101: // raw IP
		ip = p
	}
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return -1, -1
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+6 {
		return -1, -1
	}
	return int(binary.BigEndian.Uint16(ip[ihl : ihl+2])), int(binary.BigEndian.Uint16(ip[ihl+4:ihl+6])) - 8
}

// Stop waits until no new packet has arrived for 400 ms (at most 3 s; the
// kernel hands packets to dumpcap in blocks), stops dumpcap (SIGINT) and
// waits until every captured packet has been counted. Idempotent.
func (c *RTPCounter) Stop() {
	c.stopOnce.Do(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		last, quietSince, deadline := c.Count(), time.Now(), time.Now().Add(3*time.Second)
		for time.Now().Before(deadline) && time.Since(quietSince) < 400*time.Millisecond {
			time.Sleep(50 * time.Millisecond)
			if n := c.Count(); n != last {
				last, quietSince = n, time.Now()
			}
		}
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		c.mu.Lock()
		n, reported, rerr := c.n, c.reported, c.readErr
		c.mu.Unlock()
		if rerr != nil {
			c.t.Errorf("interop: dumpcap port %d: reading capture: %v\n%s", c.Port, rerr, c.stderr.String())
		}
		if reported >= 0 && reported != n {
			c.t.Logf("interop: dumpcap port %d: parsed %d packets but dumpcap reported %d captured", c.Port, n, reported)
		}
	})
}

// Count is the number of packets to the port (final after Stop).
func (c *RTPCounter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// CountFrom is the number of packets to the port from UDP source port src.
func (c *RTPCounter) CountFrom(src int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bySrc[src]
}

// Sources returns packets per UDP source port.
func (c *RTPCounter) Sources() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.bySrc)
}

// Sizes returns packets per UDP payload length.
func (c *RTPCounter) Sizes() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.bySize)
}

// Stderr returns what dumpcap printed on stderr (for failure messages).
func (c *RTPCounter) Stderr() string { return c.stderr.String() }

// minPackets is the 95 % threshold for RTP at 50 packets/s (20 ms ptime).
func minPackets(talk time.Duration) (expected, minimum int) {
	expected = int(talk.Seconds() * 50)
	return expected, int(math.Ceil(float64(expected) * 0.95))
}
