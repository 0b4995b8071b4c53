package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/app"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/logging"
	"github.com/callwerk/callwerk/internal/testcert"
	"github.com/callwerk/callwerk/internal/testlog"
)

const agentPassword = "interop-password-1"

// startCallwerk runs a node on a free UDP port with one queue, number 100
// and agent 1001; the trunk is 127.0.0.1/32. It returns the SIP address.
func startCallwerk(t *testing.T) (string, *testlog.Buffer) {
	t.Helper()
	udp, _, logs := startCallwerkUDPTCP(t)
	return udp, logs
}

// startCallwerkUDPTCP is startCallwerk with a TCP listener too; it returns
// the UDP and TCP addresses.
func startCallwerkUDPTCP(t *testing.T) (string, string, *testlog.Buffer) {
	t.Helper()
	return startCallwerkWith(t, nil)
}

// startCallwerkWith is startCallwerkUDPTCP with edit applied to the config.
func startCallwerkWith(t *testing.T, edit func(*config.Config)) (string, string, *testlog.Buffer) {
	t.Helper()
	cfg := config.Demo()
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.Ports = "34000-34199"
	cfg.Node.DrainTimeout = config.Duration(2 * time.Second)
	cfg.Trunks = []config.Trunk{{Name: "sipp", Addresses: []string{"127.0.0.1/32"}}}
	cfg.Agents = []config.Agent{{ID: "1001", Password: agentPassword, Queues: []string{"service"}}}
	// baresip 1.0 (libre 1.1) gives up when the first challenge is not MD5.
	cfg.SIP.DigestAlgorithms = []string{"MD5"}
	cfg.Queues[0].Wrapup = config.Duration(time.Second)
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	logs := &testlog.Buffer{}
	log, err := logging.New(logs, "json")
	require.NoError(t, err)
	a, err := app.New(cfg, log)
	require.NoError(t, err)
	stop := a.Start()
	t.Cleanup(func() {
		require.NoError(t, stop(15*time.Second))
		if t.Failed() {
			t.Logf("callwerk log:\n%s", logs.String())
		}
	})
	return a.SIPAddrs()[0].Addr, a.SIPAddrs()[1].Addr, logs
}

// A SIPp member calls the hotline from a trunk address; baresip, registered
// with digest auth as agent 1001, answers automatically; RTP reaches both.
func TestSIPpMemberReachesBaresipAgent(t *testing.T) {
	requireTool(t, "sipp")
	requireTool(t, "baresip")
	requireTool(t, "dumpcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	server, logs := startCallwerk(t)
	agent := startBaresip(t, ctx, BaresipOpts{User: "1001", Password: agentPassword, Registrar: server})
	if err := agent.WaitRegistered(10 * time.Second); err != nil {
		t.Fatalf("baresip did not register: %v\n--- baresip ---\n%s", err, agent.Output())
	}

	sippMedia := freeUDPPortBlock(t, 4)
	atMember := captureRTP(t, ctx, sippMedia)
	atAgent := captureRTP(t, ctx, agent.RTPPort)

	const talk = 4 * time.Second
	res, err := runSIPpMember(t, ctx, SIPpOpts{Target: server, Service: "100", Talk: talk, MediaPort: sippMedia})
	if err != nil {
		t.Fatalf("SIPp member call failed: %v\n%s\n--- baresip ---\n%s", err, res.Summary(), agent.Output())
	}
	if err := agent.WaitAnswered(time.Second); err != nil {
		t.Fatalf("%v\n--- baresip ---\n%s", err, agent.Output())
	}
	if err := agent.WaitCallClosed(1, 5*time.Second); err != nil {
		t.Errorf("agent's leg not closed after the member's BYE: %v", err)
	}
	atMember.Stop()
	atAgent.Stop()

	t.Logf("sipp: exit=%d successful=%d failed=%d elapsed=%v", res.ExitCode, res.Successful, res.Failed, res.Elapsed)
	t.Logf("RTP at SIPp: %d packets by source %v; at baresip: %d by source %v",
		atMember.Count(), atMember.Sources(), atAgent.Count(), atAgent.Sources())
	require.Equal(t, 1, res.Successful, "SIPp call")
	// The member hears hold music from the answer on, then the agent: one
	// continuous stream from the relay for the whole talk time.
	_, wantMember := minPackets(talk)
	if n := atMember.Count(); n < wantMember {
		t.Errorf("RTP relay -> SIPp: %d packets, want >= %d", n, wantMember)
	}
	// The agent hears the member from the bridge on: allow one second for
	// ringing and answering.
	_, wantAgent := minPackets(talk - time.Second)
	if n := atAgent.Count(); n < wantAgent {
		t.Errorf("RTP relay -> baresip: %d packets, want >= %d", n, wantAgent)
	}
	require.NotContains(t, logs.String(), agentPassword)
	require.True(t, strings.Contains(logs.String(), `"call ended"`), "call logged")
}

// A SIPp member calls over TCP; the agent (baresip, UDP) answers; RTP flows.
func TestSIPpMemberOverTCP(t *testing.T) {
	requireTool(t, "sipp")
	requireTool(t, "baresip")
	requireTool(t, "dumpcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	udp, tcp, _ := startCallwerkUDPTCP(t)
	agent := startBaresip(t, ctx, BaresipOpts{User: "1001", Password: agentPassword, Registrar: udp})
	if err := agent.WaitRegistered(10 * time.Second); err != nil {
		t.Fatalf("baresip did not register: %v\n%s", err, agent.Output())
	}
	sippMedia := freeUDPPortBlock(t, 4)
	atMember := captureRTP(t, ctx, sippMedia)
	const talk = 3 * time.Second
	res, err := runSIPpMember(t, ctx, SIPpOpts{Target: tcp, Service: "100", Talk: talk, MediaPort: sippMedia,
		ExtraArgs: []string{"-t", "t1"}})
	if err != nil {
		t.Fatalf("SIPp member call over TCP failed: %v\n%s\n--- baresip ---\n%s", err, res.Summary(), agent.Output())
	}
	atMember.Stop()
	require.Equal(t, 1, res.Successful, "SIPp call over TCP")
	_, want := minPackets(talk)
	if n := atMember.Count(); n < want {
		t.Errorf("RTP relay -> SIPp: %d packets, want >= %d", n, want)
	}
}

// baresip is an agent outside the trusted networks (none are trusted):
// it registers over TLS with SRTP mandatory (mediaenc=srtp-mand, so it
// refuses a plain RTP offer). A SIPp member's call reaches it; every RTP
// packet the relay sends it is SRTP (G.711 20 ms plus the 80-bit tag:
// 182 bytes, where plain RTP is 172), and the relay authenticates and
// forwards baresip's SRTP to the member as plain RTP.
func TestBaresipAgentOverTLSWithSRTP(t *testing.T) {
	requireTool(t, "sipp")
	requireTool(t, "baresip")
	requireTool(t, "dumpcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cert := testcert.Write(t)
	var tlsAddr string
	server, _, logs := startCallwerkWith(t, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, fmt.Sprintf("tls:127.0.0.1:%d", freeTCPPort(t)))
		tlsAddr = strings.TrimPrefix(c.SIP.Listen[len(c.SIP.Listen)-1], "tls:")
		c.SIP.TLS = config.TLS{CertFile: cert.Cert, KeyFile: cert.Key}
		c.Networks.Trusted = []string{}
	})
	agent := startBaresip(t, ctx, BaresipOpts{User: "1001", Password: agentPassword, Registrar: tlsAddr, Transport: "tls",
		CAFile: cert.Cert, MediaEnc: "srtp-mand"})
	if err := agent.WaitRegistered(10 * time.Second); err != nil {
		t.Fatalf("baresip did not register over TLS: %v\n--- baresip ---\n%s", err, agent.Output())
	}

	sippMedia := freeUDPPortBlock(t, 4)
	atAgent := captureRTP(t, ctx, agent.RTPPort)
	atMember := captureRTP(t, ctx, sippMedia)
	const talk = 4 * time.Second
	res, err := runSIPpMember(t, ctx, SIPpOpts{Target: server, Service: "100", Talk: talk, MediaPort: sippMedia})
	if err != nil {
		t.Fatalf("SIPp member call failed: %v\n%s\n--- baresip ---\n%s", err, res.Summary(), agent.Output())
	}
	if err := agent.WaitAnswered(time.Second); err != nil {
		t.Fatalf("%v\n--- baresip ---\n%s", err, agent.Output())
	}
	if err := agent.WaitCallClosed(1, 5*time.Second); err != nil {
		t.Errorf("agent's leg not closed after the member's BYE: %v", err)
	}
	atAgent.Stop()
	atMember.Stop()
	t.Logf("at baresip: %d packets by size %v; at SIPp: %d by size %v", atAgent.Count(), atAgent.Sizes(), atMember.Count(), atMember.Sizes())
	require.Equal(t, 1, res.Successful, "SIPp call")
	_, want := minPackets(talk - time.Second)
	sizes := atAgent.Sizes()
	assert.GreaterOrEqual(t, sizes[182], want, "SRTP relay -> baresip")
	assert.Zero(t, sizes[172], "no plain RTP to baresip")
	// The agent leg's counters, logged when the call ends: what baresip
	// sent was authenticated and forwarded, not dropped.
	leg := agentRTP(t, logs.String())
	assert.GreaterOrEqual(t, leg.RX, want, "SRTP baresip -> relay")
	assert.LessOrEqual(t, leg.Dropped, 5, "packets the agent's leg dropped")
	assert.Zero(t, leg.Unauthentic, "SRTP packets that failed authentication")
	if leg.UnauthenticRTCP > 0 {
		t.Logf("SRTCP packets refused: %d", leg.UnauthenticRTCP)
	}
	_, wantMember := minPackets(talk)
	assert.GreaterOrEqual(t, atMember.Sizes()[172], wantMember, "plain RTP relay -> SIPp")
	require.NotContains(t, logs.String(), "inline:", "no SRTP key in the log")
}

// agentRTP returns the agent leg's counters from the node's "call ended"
// log line.
func agentRTP(t *testing.T, log string) (rtp struct{ RX, Dropped, Unauthentic, UnauthenticRTCP int }) {
	t.Helper()
	for line := range strings.SplitSeq(log, "\n") {
		var ev struct {
			Message string `json:"message"`
			Agent   *struct {
				RX              int `json:"rx"`
				Dropped         int `json:"dropped"`
				Unauthentic     int `json:"unauthentic"`
				UnauthenticRTCP int `json:"unauthentic_rtcp"`
			} `json:"agent_rtp"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Message == "call ended" && ev.Agent != nil {
			rtp.RX, rtp.Dropped, rtp.Unauthentic, rtp.UnauthenticRTCP = ev.Agent.RX, ev.Agent.Dropped, ev.Agent.Unauthentic, ev.Agent.UnauthenticRTCP
			return rtp
		}
	}
	t.Fatal("no \"call ended\" log line with agent_rtp")
	return rtp
}
