package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/testcert"
	"github.com/callwerk/callwerk/loadtest"
)

// startSecureNode starts a node that also listens on tls, ws and wss, with
// a test certificate; it returns the addresses by network and a client TLS
// configuration that trusts the certificate.
func startSecureNode(t *testing.T, edit func(*config.Config)) (*node, map[string]string, *tls.Config) {
	t.Helper()
	cert := testcert.Write(t)
	n := startNode(t, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, "tls:127.0.0.1:0", "ws:127.0.0.1:0", "wss:127.0.0.1:0")
		c.SIP.TLS = config.TLS{CertFile: cert.Cert, KeyFile: cert.Key}
		c.SIP.Connections.FirstMessage = config.Duration(2 * time.Second)
		if edit != nil {
			edit(c)
		}
	})
	addrs := map[string]string{}
	for _, l := range n.SIPAddrs() {
		addrs[l.Network] = l.Addr
	}
	return n, addrs, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// An agent registers over each stream transport with its own connection
// and no listening port of its own, as behind NAT; a member's call from
// the trunk rings it over that connection, it answers, and RTP flows both
// ways; the agent hangs up over the same connection.
func TestAgentOverStreamTransports(t *testing.T) {
	n, addrs, conf := startSecureNode(t, func(c *config.Config) {
		c.Agents = append(c.Agents, config.Agent{ID: "1004", Password: password, Queues: []string{"service"}})
	})
	for i, network := range []string{"tcp", "tls", "ws", "wss"} {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			id := fmt.Sprint(1001 + i) // an agent of its own: the one before may still be in wrap-up
			a, err := loadtest.NewAgentOver(id, network, conf, loadtest.AgentOptions{})
			require.NoError(t, err)
			defer a.Close()
			res, err := a.Register(ctx, addrs[network], password, time.Hour)
			require.NoError(t, err)
			require.Equal(t, 200, res.StatusCode, res.Reason)
			n.waitAgentState(t, id, acd.Available, 2*time.Second)

			mc := call(t, n, newMember(t), "100")
			ac := waitAnswered(t, a, 5*time.Second)
			require.Eventually(t, func() bool {
				return received(mc) > 25 && ac.RTP.Stats().Received > 25
			}, 5*time.Second, 50*time.Millisecond, "RTP both ways")
			assert.True(t, logged(n, "ringing agent", "agent", id))
			require.NoError(t, ac.Hangup(ctx))
			waitClosed(t, mc.Done(), 3*time.Second, "the member's call should end when the agent hangs up")
		})
	}
}

// A stream's connection that closes takes its registration with it: the
// agent is unregistered at once, not when the registration expires, since
// requests could only reach the phone over that connection.
func TestClosedConnectionUnregisters(t *testing.T) {
	n, addrs, conf := startSecureNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := loadtest.NewAgentOver("1001", "wss", conf, loadtest.AgentOptions{})
	require.NoError(t, err)
	res, err := a.Register(ctx, addrs["wss"], password, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	n.waitAgentState(t, "1001", acd.Available, 2*time.Second)
	a.Close()
	n.waitAgentState(t, "1001", acd.Unreachable, 3*time.Second)
	assert.True(t, logged(n, "agent presence", "agent", "1001", "presence", "expired"))
}

// The tls and wss listeners speak TLS 1.2 and 1.3 only, and in TLS 1.2
// only BSI TR-02102-2's ECDHE suites with AES-GCM.
func TestTLSPolicy(t *testing.T) {
	_, addrs, conf := startSecureNode(t, nil)
	dial := func(c *tls.Config) (*tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", addrs["tls"], c)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return &st, nil
	}
	with := func(f func(*tls.Config)) *tls.Config { c := conf.Clone(); f(c); return c }

	st, err := dial(conf)
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS13), st.Version)

	st, err = dial(with(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }))
	require.NoError(t, err)
	assert.Contains(t, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, st.CipherSuite,
		tls.CipherSuiteName(st.CipherSuite))

	_, err = dial(with(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }))
	assert.Error(t, err, "TLS 1.1 is refused")
	_, err = dial(with(func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	}))
	assert.Error(t, err, "suites outside BSI TR-02102-2 are refused")
}

// With no trusted network, an agent must use TLS and SRTP: plain UDP, TCP
// and WS registrations get 403 saying TLS is required, and one over WSS
// without +sip.ice (not a WebRTC phone: its calls would be plain RTP) 403
// saying why. Over TLS the agent registers, and
// a member's call reaches it as SRTP: every packet it receives
// authenticates with the key the node gave. Its feature-code calls are
// taken with an SRTP offer and refused (488) with a plain one.
func TestEncryptionPolicyByTransport(t *testing.T) {
	n, addrs, conf := startSecureNode(t, func(c *config.Config) { c.Networks.Trusted = []string{} })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for network, reason := range map[string]string{
		"udp": "Forbidden: TLS required outside the trusted networks",
		"tcp": "Forbidden: TLS required outside the trusted networks",
		"ws":  "Forbidden: TLS required outside the trusted networks",
		"wss": "Forbidden: DTLS-SRTP required outside the trusted networks: register as a WebRTC phone (+sip.ice)",
	} {
		var p *loadtest.Phone
		var err error
		if network == "udp" {
			p, err = loadtest.NewPhone("1001")
		} else {
			p, err = loadtest.NewPhoneOver("1001", network, conf)
		}
		require.NoError(t, err)
		res, err := p.Register(ctx, addrs[network], password, time.Hour)
		p.Close()
		require.NoError(t, err, network)
		assert.Equal(t, 403, res.StatusCode, network)
		assert.Equal(t, reason, res.Reason, network)
		assert.True(t, logged(n, "request refused: outside the trusted networks without encryption", "transport", strings.ToUpper(network)), network)
	}
	// Trunk calls are not affected: this one is taken and queued, and finds
	// no agent.
	_, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930123456789"})
	assert.ErrorContains(t, err, "480 Temporarily Unavailable: no agent logged in")

	a, err := loadtest.NewAgentOver("1001", "tls", conf, loadtest.AgentOptions{})
	require.NoError(t, err)
	defer a.Close()
	res, err := a.Register(ctx, addrs["tls"], password, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, res.Reason)
	n.waitAgentState(t, "1001", acd.Available, 2*time.Second)

	_, err = a.Call(ctx, loadtest.CallOptions{Server: addrs["tls"], Number: "*21", From: "1001", Password: password})
	assert.ErrorContains(t, err, "488 Not Acceptable Here: SRTP required outside the trusted networks", "plain RTP offered")
	fc, err := a.Call(ctx, loadtest.CallOptions{Server: addrs["tls"], Number: "*22", From: "1001", Password: password, SRTP: true})
	require.NoError(t, err, "SRTP offered over TLS")
	require.Eventually(t, func() bool { return fc.RTP.Stats().Received > 5 }, 3*time.Second, 20*time.Millisecond, "the tone, as SRTP")
	assert.Zero(t, fc.RTP.Stats().Unauthentic)
	waitClosed(t, fc.Done(), 3*time.Second, "the node hangs up after the tone")
	n.waitAgentState(t, "1001", acd.Paused, 2*time.Second)
	_, err = a.Call(ctx, loadtest.CallOptions{Server: addrs["tls"], Number: "*21", From: "1001", Password: password, SRTP: true})
	require.NoError(t, err)
	n.waitAgentState(t, "1001", acd.Available, 3*time.Second)

	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, a, 5*time.Second)
	assert.True(t, ac.SRTP, "the node offered SRTP")
	require.Eventually(t, func() bool {
		return received(mc) > 25 && ac.RTP.Stats().Received > 25
	}, 5*time.Second, 50*time.Millisecond, "audio both ways")
	assert.Zero(t, ac.RTP.Stats().Unauthentic, "every packet to the agent authenticates")
	code, err := ac.Hold(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, 200, code, "hold keeps SRTP")
	require.NoError(t, ac.Hangup(ctx))
	waitClosed(t, mc.Done(), 3*time.Second, "the member's call ends with the agent's")
}

// A malformed message over WebSocket gets a 400 over its connection, and
// the connection and the node carry on; a connection that sends no
// upgrade request is closed after the first-message timeout and holds no
// other browser back meanwhile.
func TestWebSocketBadInput(t *testing.T) {
	n, addrs, conf := startSecureNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	idle, err := net.Dial("tcp", addrs["wss"]) // sends nothing, not even a TLS hello
	require.NoError(t, err)
	defer idle.Close()

	a, err := loadtest.NewAgentOver("1001", "wss", conf, loadtest.AgentOptions{})
	require.NoError(t, err)
	defer a.Close()
	start := time.Now()
	res, err := a.Register(ctx, addrs["wss"], password, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	assert.Less(t, time.Since(start), time.Second, "the idle connection held the registration back")

	require.NoError(t, idle.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadAll(idle)
	assert.NoError(t, err, "the idle connection is closed by the node, not timed out here")
	assert.True(t, logged(n, "connection closed: TLS handshake failed"))

	d := ws.Dialer{TLSConfig: conf, Protocols: []string{"sip"}}
	raw, _, _, err := d.Dial(ctx, "wss://"+addrs["wss"])
	require.NoError(t, err)
	defer raw.Close()
	bad := "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n" +
		"To: <sip:100@127.0.0.1>\r\nCall-ID: bad-1\r\nCSeq: one OPTIONS\r\nContent-Length: 0\r\n\r\n"
	good := strings.Replace(strings.Replace(bad, "CSeq: one", "CSeq: 1", 1), "bad-1", "good-1", 1)
	require.NoError(t, raw.SetDeadline(time.Now().Add(5*time.Second)))
	for _, msg := range []string{bad, good} {
		require.NoError(t, wsutil.WriteClientText(raw, []byte(msg)))
		reply, err := wsutil.ReadServerText(raw)
		require.NoError(t, err)
		status, _, _ := strings.Cut(string(reply), "\r\n")
		if msg == bad {
			assert.True(t, strings.HasPrefix(status, "SIP/2.0 400 "), status)
		} else {
			assert.Equal(t, "SIP/2.0 200 OK", status, "the connection carries on after a bad message")
		}
	}

	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, a, 5*time.Second)
	require.Eventually(t, func() bool { return received(mc) > 10 && ac.RTP.Stats().Received > 10 }, 5*time.Second, 50*time.Millisecond)
}

// Every registered phone gets an OPTIONS each sip.keepalive. A phone that
// answers keeps its registration; one that has gone silent (its process
// ended without unregistering, like a laptop that went to sleep) is
// dropped after two unanswered OPTIONS, long before its registration
// expires, and its agent becomes unreachable.
func TestKeepaliveDropsSilentPhones(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.SIP.Keepalive = config.Duration(time.Second) })
	registerAgent(t, n, "1001", loadtest.AgentOptions{})
	gone := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	start := time.Now()
	gone.Close() // no un-REGISTER: the registration would last an hour
	n.waitAgentState(t, "1002", acd.Unreachable, 6*time.Second)
	t.Logf("silent phone dropped after %v", time.Since(start).Round(100*time.Millisecond))
	assert.True(t, logged(n, "device dropped: keep-alive OPTIONS unanswered", "agent", "1002"))
	time.Sleep(2 * time.Second)
	n.waitAgentState(t, "1001", acd.Available, time.Second) // answered every OPTIONS
}
