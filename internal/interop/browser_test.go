package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/testcert"
)

// inNetns is set in the environment of the test binary that
// runInLoopbackNetns starts.
const inNetns = "CALLWERK_TEST_NETNS"

// runInLoopbackNetns runs the calling test again in a network namespace of
// its own with only lo up, and reports its outcome; it returns false there,
// so the test body runs inside. A browser pairs its other interfaces'
// addresses with a loopback candidate and sends ICE checks from them (see
// ../shared/TESTING-WEBRTC.md §3): in the namespace there are none, and
// nothing can leave the box.
func runInLoopbackNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(inNetns) == "1" {
		return false
	}
	requireTool(t, "unshare")
	requireTool(t, "ip")
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`,
		exe, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inNetns+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a loopback-only network namespace:\n%s", out)
	require.NoError(t, err, "the test in the namespace failed")
	require.Contains(t, string(out), "--- PASS: "+t.Name(), "the test ran in the namespace")
	return true
}

// desktopResult is the last line of testdata/agent_desktop.js.
type desktopResult struct {
	Error string `json:"error"`
	Panel struct {
		Queue, Caller, Waited string
	} `json:"panel"`
	BeforeHold *pageStats `json:"before_hold"` // 2 s after the answer
	Stats      *pageStats `json:"stats"`       // 1.5 s after the resume
}

// pageStats are the page's audio RTP counters (getStats).
type pageStats struct {
	PacketsReceived int    `json:"packetsReceived"`
	PacketsSent     int    `json:"packetsSent"`
	Codec           string `json:"codec"`
}

// A clerk outside the trusted networks (none are trusted) signs in to the
// agent desktop in headless Chromium: JsSIP registers over WSS, a SIPp
// member's call rings the page, which shows the queue, and the clerk
// answers. The media is WebRTC (ICE-lite, DTLS-SRTP) on the relay: packets
// flow both ways, counted by the page's getStats and at SIPp's RTP port.
// The clerk holds and resumes, the member hangs up, and the clerk pauses
// and becomes available again from the page. Screenshots of each state are
// kept in artifacts/.
func TestBrowserAgentDesktop(t *testing.T) {
	if runInLoopbackNetns(t) {
		return
	}
	requireTool(t, "sipp")
	requireTool(t, "dumpcap")
	node := requireTool(t, "node")
	chromium := requireTool(t, "chromium")
	web, err := filepath.Abs("../../web")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("web/node_modules is missing: run make web (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(web, "build", "jssip.js")); err != nil {
		t.Fatalf("web/build/jssip.js is missing: run make web, then test again (%v)", err)
	}
	artefacts, err := filepath.Abs("artifacts")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(artefacts, 0o755))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cert := testcert.Write(t)
	var httpAddr string
	server, _, logs := startCallwerkWith(t, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, fmt.Sprintf("wss:127.0.0.1:%d", freeTCPPort(t)))
		c.SIP.TLS = config.TLS{CertFile: cert.Cert, KeyFile: cert.Key}
		c.Networks.Trusted = []string{}
		c.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
		httpAddr = c.HTTP.Listen
	})

	cmd := exec.CommandContext(ctx, node, "testdata/agent_desktop.js", "http://"+httpAddr+"/agent/", "1001", agentPassword, artefacts)
	cmd.Env = append(os.Environ(), "CALLWERK_WEB="+web, "CHROMIUM="+chromium)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	setPdeathsig(cmd)
	require.NoError(t, cmd.Start())
	steps := make(chan string, 16)
	var result desktopResult
	var output strings.Builder
	go func() {
		defer close(steps)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			output.WriteString(line + "\n")
			switch {
			case strings.HasPrefix(line, "STEP "):
				steps <- strings.TrimPrefix(line, "STEP ")
			case strings.HasPrefix(line, "RESULT "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &result); err != nil {
					result.Error = "bad result line: " + err.Error()
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	waitStep := func(want string) {
		t.Helper()
		select {
		case got, ok := <-steps:
			if !ok || got != want {
				_ = cmd.Wait()
				t.Fatalf("page: want step %q, got %q (ended %v); result %+v\n%s", want, got, !ok, result, output.String())
			}
		case <-ctx.Done():
			t.Fatalf("page: no step %q\n%s", want, output.String())
		}
	}
	waitStep("registered")

	sippMedia := freeUDPPortBlock(t, 4)
	atMember := captureRTP(t, ctx, sippMedia)
	const talk = 12 * time.Second
	member := startSIPpMember(t, ctx, SIPpOpts{Target: server, Service: "100", Talk: talk, MediaPort: sippMedia})
	waitStep("answered")
	answeredAt := time.Now()
	waitStep("resumed")
	res, err := member.Wait()
	require.NoError(t, err, "SIPp member call: %s", res.Summary())
	hungUpAt := time.Now()
	waitStep("ended")
	waitStep("available")
	require.NoError(t, cmd.Wait(), output.String())
	atMember.Stop()
	t.Logf("page: %s", output.String())

	require.Empty(t, result.Error)
	assert.Equal(t, "service", result.Panel.Queue, "the incoming-call panel shows the queue")
	require.NotNil(t, result.BeforeHold, "getStats in the page")
	require.NotNil(t, result.Stats, "getStats in the page")
	assert.Contains(t, []string{"audio/PCMU", "audio/PCMA"}, result.Stats.Codec, "G.711, relayed without transcoding")
	// 2 s after the answer, 100 packets each way at 20 ms. Chromium starts
	// its inbound counters afresh when the call is resumed: 1.5 s later, 75.
	assert.GreaterOrEqual(t, result.BeforeHold.PacketsReceived, 70, "RTP relay -> browser before the hold (getStats)")
	assert.GreaterOrEqual(t, result.BeforeHold.PacketsSent, 70, "RTP browser -> relay before the hold (getStats)")
	assert.GreaterOrEqual(t, result.Stats.PacketsReceived, 40, "RTP relay -> browser after the resume (getStats)")
	assert.GreaterOrEqual(t, result.Stats.PacketsSent, result.BeforeHold.PacketsSent+40, "RTP browser -> relay after the resume (getStats)")
	_, wantMember := minPackets(talk)
	assert.GreaterOrEqual(t, atMember.Count(), wantMember, "RTP relay -> SIPp, counted at SIPp's port")
	leg := agentRTP(t, logs.String())
	talked := hungUpAt.Sub(answeredAt)
	assert.GreaterOrEqual(t, leg.RX, int(talked.Seconds()*50*0.8), "the browser's SRTP, authenticated at the relay, over %v", talked)
	assert.Zero(t, leg.Unauthentic)
	require.NotContains(t, logs.String(), agentPassword)
	for _, name := range []string{"signin", "signed-in", "ringing", "talking", "held", "paused", "after-call"} {
		assert.FileExists(t, filepath.Join(artefacts, "agent-"+name+".png"))
	}
}
