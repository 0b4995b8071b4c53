package interop

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// One loopback source (127.0.0.66) sends REGISTERs as fast as a loop
// allows, thousands per second, while SIPp places member calls at 10 per
// second from the trunk and 30 agents answer. The flooder is banned within
// 2 s, every legitimate call succeeds, and the node's heap stays bounded.
func TestFloodDuringCalls(t *testing.T) {
	requireTool(t, "sipp")
	const calls, agents = 300, 30
	udp, _, logs := startCallwerkWith(t, func(c *config.Config) {
		c.Agents = nil
		for i := range agents {
			c.Agents = append(c.Agents, config.Agent{ID: fmt.Sprint(2001 + i), Password: agentPassword, Queues: []string{"service"}})
		}
		c.Queues[0].Wrapup = 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range agents {
		a, err := loadtest.StartAgent(ctx, fmt.Sprint(2001+i), "127.0.0.1", udp, agentPassword, time.Hour, loadtest.AgentOptions{})
		require.NoError(t, err)
		t.Cleanup(a.Close)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// The flooder: REGISTER after REGISTER, each a new transaction, and a
	// reader that notes the last answer it got.
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.66")})
	require.NoError(t, err)
	defer src.Close()
	dst, err := net.ResolveUDPAddr("udp4", udp)
	require.NoError(t, err)
	var sent, answered atomic.Int64
	var lastAnswer atomic.Int64
	start := time.Now()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := src.Read(buf); err != nil {
				return
			}
			answered.Add(1)
			lastAnswer.Store(int64(time.Since(start)))
		}
	}()
	floodCtx, stopFlood := context.WithCancel(ctx)
	defer stopFlood()
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; floodCtx.Err() == nil; i++ {
			msg := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.66:%d;branch=z9hG4bKflood%d\r\n"+
				"From: <sip:2001@127.0.0.1>;tag=f%d\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: flood-%d\r\nCSeq: 1 REGISTER\r\n"+
				"Contact: <sip:2001@127.0.0.66>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", src.LocalAddr().(*net.UDPAddr).Port, i, i, i)
			if _, err := src.WriteTo([]byte(msg), dst); err == nil {
				sent.Add(1)
			}
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond) // about 10,000 a second, within what a loop here can send
			}
		}
	}()

	res, err := runSIPpMember(t, ctx, SIPpOpts{Target: udp, Calls: calls, Rate: 10, Talk: time.Second, Limit: 40})
	elapsed := time.Since(start)
	stopFlood()
	<-flooded
	require.NoError(t, err, "%s", res.Summary())
	rate := float64(sent.Load()) / elapsed.Seconds()
	t.Logf("flood: %d REGISTERs in %v (%.0f/s), %d answered, the last %v after the start; SIPp: %d of %d calls successful",
		sent.Load(), elapsed.Round(time.Millisecond), rate, answered.Load(), time.Duration(lastAnswer.Load()).Round(time.Millisecond), res.Successful, calls)
	assert.Greater(t, rate, 1000.0, "thousands of REGISTERs a second")
	assert.LessOrEqual(t, answered.Load(), int64(30), "at most the allowed 30 messages are answered")
	assert.Less(t, time.Duration(lastAnswer.Load()), 2*time.Second, "banned within 2 s")
	assert.GreaterOrEqual(t, float64(res.Successful), 0.999*calls, "legitimate calls succeed")
	assert.Contains(t, logs.String(), `"security":"flood","source":"127.0.0.66"`)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap: %d KiB before, %d KiB after (%+d KiB)", before.HeapAlloc>>10, after.HeapAlloc>>10, growth>>10)
	assert.Less(t, growth, int64(32<<20), "the heap stays bounded under the flood")
}
