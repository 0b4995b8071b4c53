package loadtest

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBencode(t *testing.T) {
	cmd := map[string]any{"command": "offer", "sdp": "v=0\r\n", "flags": []string{"a", "bc"}, "n": 12}
	b := bencode(cmd)
	assert.Equal(t, "d7:command5:offer5:flagsl1:a2:bce1:ni12e3:sdp5:v=0\r\ne", string(b), "keys sorted")
	v, rest, err := bdecode(b)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, map[string]any{"command": "offer", "sdp": "v=0\r\n", "flags": []any{"a", "bc"}, "n": 12}, v)

	for _, bad := range []string{"", "d", "5:abc", "i12", "ix3e", "d1:ae", "di1e1:ae", "l1:a", "x"} {
		_, _, err := bdecode([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestSDPMedia(t *testing.T) {
	ap := netip.MustParseAddrPort("127.0.0.1:30002")
	got, err := sdpMedia(phoneSDP(ap, 1))
	require.NoError(t, err)
	assert.Equal(t, ap, got)
	_, err = sdpMedia("v=0\r\nc=IN IP4 127.0.0.1\r\n")
	assert.Error(t, err, "no audio port")
}

// The relay scenario against a real rtpengine (Debian's rtpengine-daemon,
// userspace relay): calls set up over ng, tagged RTP counted both ways.
func TestRunAgainstRTPengine(t *testing.T) {
	bin, err := exec.LookPath("rtpengine")
	require.NoError(t, err, "rtpengine is installed by make test-deps (Debian rtpengine-daemon)")
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	ng := l.LocalAddr().String()
	require.NoError(t, l.Close())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Media ports above the ephemeral range, where no other test binds.
	cmd := exec.CommandContext(ctx, bin, "--config-file=none", "--foreground", "--log-stderr", "--log-level=4",
		"--table=-1", "--interface=127.0.0.1", "--listen-ng="+ng, "--port-min=61000", "--port-max=61099", "--num-threads=1")
	require.NoError(t, cmd.Start())
	defer func() { cancel(); _ = cmd.Wait() }()

	var rep Report
	require.Eventually(t, func() bool { // ping until rtpengine is up
		rep, err = Run(ctx, Scenario{RTPengine: ng, Calls: 4, Rate: 20, Talk: time.Second}, nil)
		return err == nil
	}, 5*time.Second, 100*time.Millisecond, "run: %v", err)
	assert.Equal(t, 4, rep.Attempted)
	assert.Equal(t, 4, rep.Answered, "failures: %v", rep.Failures)
	assert.Zero(t, rep.Failed)
	assert.Equal(t, "rtpengine ng "+ng, rep.Server)
	for name, d := range map[string]Direction{"to member": rep.ToMember, "to agent": rep.ToAgent} {
		assert.Greater(t, d.Received, uint64(4*40), "%s: about 50 frames a second per call", name)
		assert.Zero(t, d.LossPct, name)
		assert.Zero(t, d.Foreign, name)
		assert.EqualValues(t, d.Received, d.Delay.N, "%s: every packet's delay", name)
	}
}

func TestRTPengineScenarioChecks(t *testing.T) {
	_, err := Scenario{RTPengine: "192.0.2.1:2223"}.withDefaults()
	assert.ErrorIs(t, err, ErrNotLoopback)
	_, err = Scenario{RTPengine: "127.0.0.1:" + strconv.Itoa(2223)}.withDefaults()
	assert.NoError(t, err, "no password needed")
	// Nothing listening: the run does not start.
	_, err = Run(context.Background(), Scenario{RTPengine: "127.0.0.1:9", Calls: 1}, nil)
	assert.Error(t, err)
}
