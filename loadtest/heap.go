package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Memory is what the node under test held on its heap, read from its
// /debug/pprof/heap (Go's runtime.MemStats.HeapAlloc after a forced GC):
// before the agents registered, after, and with CallsUp calls in progress.
type Memory struct {
	Before   uint64 `json:"heap_before"`
	Agents   uint64 `json:"heap_agents"`
	Peak     uint64 `json:"heap_calls"`
	CallsUp  int    `json:"calls_up"`
	PerAgent int64  `json:"bytes_per_agent"` // (Agents-Before) / agents
	PerCall  int64  `json:"bytes_per_call"`  // (Peak-Agents) / CallsUp
}

// HeapSettle is how long a run with Scenario.HeapURL waits after the
// agents registered before it reads the heap: RFC 3261 timer J (64 x
// 500 ms, how long the node keeps each REGISTER transaction) and a second.
const HeapSettle = 33 * time.Second

// HeapTimeout bounds one heap reading.
const HeapTimeout = 10 * time.Second

// ErrHeapNotLoopback refuses a heap URL off this machine.
var ErrHeapNotLoopback = errors.New("heap URL must be http:// on a loopback IP literal")

// checkHeapURL accepts only http://LOOPBACK-IP:PORT/... URLs.
func checkHeapURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("%q: %w", raw, ErrHeapNotLoopback)
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("%q: %w", raw, ErrHeapNotLoopback)
	}
	return nil
}

// HeapAlloc reads the node's heap in use after a GC from rawURL (the
// node's /debug/pprof/heap), sending token as a bearer token.
func HeapAlloc(ctx context.Context, rawURL, token string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, HeapTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL+"?gc=1&debug=1", nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("heap: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("heap: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("heap: %w", err)
	}
	return 0, errors.New("heap: no HeapAlloc line (is the URL the node's /debug/pprof/heap?)")
}

func (m *Memory) finish(agents int) {
	if agents > 0 {
		m.PerAgent = (int64(m.Agents) - int64(m.Before)) / int64(agents)
	}
	if m.CallsUp > 0 {
		m.PerCall = (int64(m.Peak) - int64(m.Agents)) / int64(m.CallsUp)
	}
}
