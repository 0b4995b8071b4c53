package loadtest_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/app"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

const password = "load-test-password"

// startNode runs a node on free ports: queue "service" without wrap-up,
// number 100, trunk 127.0.0.1/32 and agents 1001.. sharing one password.
// It returns the SIP UDP address.
func startNode(t *testing.T, agents int) string {
	t.Helper()
	return startNodeWithPorts(t, agents, "36000-36999")
}

// startNodeWithPorts is startNode with the media port range ports.
func startNodeWithPorts(t *testing.T, agents int, ports string) string {
	t.Helper()
	cfg := config.Demo()
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.Ports = ports
	cfg.Node.DrainTimeout = config.Duration(2 * time.Second)
	cfg.Privacy.PseudonymKey = "test pseudonym key 0123456789"
	cfg.Trunks = []config.Trunk{{Name: "carrier", Addresses: []string{"127.0.0.1/32"}}}
	cfg.Queues[0].Wrapup = 0
	cfg.Agents = nil
	for i := range agents {
		cfg.Agents = append(cfg.Agents, config.Agent{ID: strconv.Itoa(1001 + i), Password: password, Queues: []string{"service"}})
	}
	require.NoError(t, cfg.Validate())
	a, err := app.New(cfg, zerolog.Nop())
	require.NoError(t, err)
	stop := a.Start()
	t.Cleanup(func() { assert.NoError(t, stop(15*time.Second)) })
	for _, l := range a.SIPAddrs() {
		if l.Network == "udp" {
			return l.Addr
		}
	}
	t.Fatal("no udp listener")
	return ""
}

func TestRunAgainstNode(t *testing.T) {
	server := startNode(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var ticks int
	rep, err := loadtest.Run(ctx, loadtest.Scenario{Server: server, Agents: 5, Password: password,
		Calls: 20, Rate: 10, Talk: 2 * time.Second, Timeout: 10 * time.Second},
		func(loadtest.Progress) { ticks++ })
	require.NoError(t, err)
	t.Logf("\n%s", rep.Text())

	assert.Equal(t, 20, rep.Attempted)
	assert.Equal(t, 20, rep.Answered)
	require.Len(t, rep.Series, ticks, "one sample per progress tick")
	peak := 0
	for _, s := range rep.Series {
		peak = max(peak, s.Up)
		assert.LessOrEqual(t, s.Waiting, s.Up)
	}
	assert.GreaterOrEqual(t, peak, 10, "10 calls a second talking 2 s: about 20 up at once")
	assert.Equal(t, 0, rep.Failed, rep.Failures)
	assert.True(t, rep.WithinSetupTarget)
	assert.Equal(t, 20, rep.AgentCalls)
	assert.GreaterOrEqual(t, ticks, 3, "progress once a second")

	for name, p := range map[string]loadtest.Percentiles{"200 OK": rep.SetupOK, "agent audio": rep.SetupAgent} {
		assert.Equal(t, 20, p.N, name)
		assert.Positive(t, p.P50, name)
		assert.True(t, p.P50 <= p.P95 && p.P95 <= p.P99 && p.P99 <= p.Max, "%s: ordered percentiles %+v", name, p)
		assert.Less(t, p.Max, 5*time.Second, name)
	}
	assert.LessOrEqual(t, rep.SetupOK.P50, rep.SetupAgent.P50, "200 OK comes before the agent's audio")

	for name, d := range map[string]loadtest.Direction{"agent->member": rep.ToMember, "member->agent": rep.ToAgent} {
		// 20 calls x 2 s at 50 packets/s.
		assert.Greater(t, d.Sent, uint64(20*80), name)
		assert.Greater(t, d.Expected, uint64(20*80), name)
		assert.LessOrEqual(t, d.Received, d.Expected, name)
		assert.GreaterOrEqual(t, d.LossPct, 0.0, name)
		assert.Less(t, d.LossPct, 1.0, name)
		assert.LessOrEqual(t, d.Gaps, 2, name)
		// Every tagged packet's delay is counted, also those that arrive
		// between a call's final count and its socket's close.
		assert.GreaterOrEqual(t, uint64(d.Delay.N), d.Received, name)
		assert.LessOrEqual(t, uint64(d.Delay.N), d.Received+20*3, name)
		assert.Positive(t, d.Delay.P50, name)
		assert.True(t, d.Delay.P50 <= d.Delay.P99 && d.Delay.P99 <= d.Delay.P999 && d.Delay.P999 <= d.Delay.Max,
			"%s: ordered percentiles %+v", name, d.Delay)
		assert.Less(t, d.Delay.Max, time.Second, name)
	}
	assert.InDelta(t, 10, rep.OfferedCPS, 2)
	assert.Positive(t, rep.AnsweredCPS)

	b, err := rep.JSON()
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.EqualValues(t, 20, back["answered"])
	assert.Contains(t, back, "setup_agent_audio")
}

func TestRunRefusesNonLoopback(t *testing.T) {
	cases := []struct {
		server string
		ok     bool
	}{
		{"127.0.0.1:5060", true},
		{"127.1.2.3:5060", true},
		{"[::1]:5060", true},
		{"[::ffff:127.0.0.1]:5060", true},
		{"10.0.0.1:5060", false},
		{"192.168.1.10:5060", false},
		{"[2001:db8::1]:5060", false},
		{"[fe80::1%lo]:5060", false},
		{"localhost:5060", false}, // names are not resolved: IP literals only
		{"example.com:5060", false},
		{"0.0.0.0:5060", false},
	}
	for _, tc := range cases {
		t.Run(tc.server, func(t *testing.T) {
			_, err := loadtest.LoopbackServer(tc.server)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.True(t, errors.Is(err, loadtest.ErrNotLoopback), "%v", err)
			_, err = loadtest.Run(context.Background(), loadtest.Scenario{Server: tc.server, Password: "x"}, nil)
			assert.ErrorIs(t, err, loadtest.ErrNotLoopback)
		})
	}
}

// max_up holds the calls in progress down, whatever the rate.
func TestRunCapsCallsInProgress(t *testing.T) {
	server := startNode(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, loadtest.Scenario{Server: server, Agents: 5, Password: password,
		Calls: 6, Rate: 50, Talk: time.Second, TalkDist: loadtest.TalkUniform, TalkMax: 1500 * time.Millisecond,
		MaxUp: 2, Timeout: 10 * time.Second}, nil)
	require.NoError(t, err)
	assert.Equal(t, 6, rep.Answered, rep.Failures)
	assert.Equal(t, 2, rep.PeakUp, "never more than max_up at once")
}

// Forged RTP from another host during calls: an attacker on 127.0.0.2
// sprays packets carrying our payload marker and its own tag at every RTP
// port of the node's media range every 5 ms, so it also hits each leg
// between its creation and the phone's first packet (RTP bleed). The relay
// learns a source only from the signalled address, so none of it reaches a
// phone, and the calls lose nothing. The media range lies below the OS's
// ephemeral ports, so the spray cannot hit the load tool's own phones.
func TestForgedRTPIsNotForwarded(t *testing.T) {
	const lo, hi = 27000, 27199 // 50 port pairs for 20 calls of 2 legs
	server := startNodeWithPorts(t, 5, fmt.Sprintf("%d-%d", lo, hi))
	attacker, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	require.NoError(t, err)
	defer attacker.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var sprayed atomic.Uint64
	spray, stopSpray := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xbad}, Payload: make([]byte, 160)}
		copy(pkt.Payload, "CWLT") // our frame layout: marker, tag, send time, counter, stream id
		pkt.Payload[4] = 'X'
		buf := make([]byte, 1500)
		node := netip.MustParseAddr("127.0.0.1")
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for spray.Err() == nil {
			for port := lo; port <= hi; port += 2 {
				pkt.SequenceNumber++
				binary.BigEndian.PutUint64(pkt.Payload[5:], uint64(time.Now().UnixNano()))
				n, _ := pkt.MarshalTo(buf)
				if _, err := attacker.WriteToUDPAddrPort(buf[:n], netip.AddrPortFrom(node, uint16(port))); err == nil {
					sprayed.Add(1)
				}
			}
			select {
			case <-spray.Done():
			case <-tick.C:
			}
		}
	})
	rep, err := loadtest.Run(ctx, loadtest.Scenario{Server: server, Agents: 5, Password: password,
		Calls: 20, Rate: 10, Talk: 2 * time.Second, Timeout: 10 * time.Second}, nil)
	stopSpray()
	wg.Wait()
	require.NoError(t, err)
	t.Logf("%d forged packets sent\n%s", sprayed.Load(), rep.Text())

	assert.Greater(t, sprayed.Load(), uint64(50_000), "the attack ran during the calls")
	assert.Equal(t, 20, rep.Answered, rep.Failures)
	for name, d := range map[string]loadtest.Direction{"agent->member": rep.ToMember, "member->agent": rep.ToAgent} {
		assert.Zero(t, d.Foreign, "%s: no forged packet reached a phone", name)
		assert.Less(t, d.LossPct, loadtest.TargetLossPct, "%s: the calls lost nothing to the attack", name)
	}
}
