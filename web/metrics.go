package web

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/callwerk/callwerk/media"
	"github.com/callwerk/callwerk/sip"
)

// Node is what /metrics reads of the node besides the queue figures.
type Node interface {
	MessageCounts() sip.MessageCounts
	ActiveCalls() int
	Registrations() (agents, devices int)
	RelayStats() media.RelayStats
}

// WithNode makes /metrics show the node's SIP, call and relay figures.
func (a *API) WithNode(n Node) *API {
	a.node = n
	return a
}

// metrics serves the Prometheus text format (version 0.0.4). Queue
// figures are per queue, never per agent (privacy: no performance figures
// of clerks); the counting period of the "today" figures is the KPI
// tracker's (a day), so they are gauges.
func (a *API) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := metricWriter{w: w}
	if n := a.node; n != nil {
		mc := n.MessageCounts()
		m.labelled("callwerk_sip_requests_received_total", "counter", "SIP requests read, by method.", "method", strMap(mc.RequestsIn))
		m.labelled("callwerk_sip_requests_sent_total", "counter", "SIP requests written, by method.", "method", strMap(mc.RequestsOut))
		m.labelled("callwerk_sip_responses_received_total", "counter", "SIP responses read, by status code.", "code", codeMap(mc.ResponsesIn))
		m.labelled("callwerk_sip_responses_sent_total", "counter", "SIP responses written, by status code.", "code", codeMap(mc.ResponsesOut))
		m.one("callwerk_calls_active", "gauge", "Member calls in progress on this node.", float64(n.ActiveCalls()))
		agents, devices := n.Registrations()
		m.one("callwerk_registered_agents", "gauge", "Agents with at least one phone registered on this node.", float64(agents))
		m.one("callwerk_registered_devices", "gauge", "Phones registered on this node.", float64(devices))
		r := n.RelayStats()
		m.one("callwerk_relay_legs", "gauge", "Relay legs open (two per bridged call).", float64(r.Legs))
		m.one("callwerk_relay_packets_received_total", "counter", "RTP datagrams read by the relay.", float64(r.RxPackets))
		m.one("callwerk_relay_packets_sent_total", "counter", "RTP packets the relay sent (forwarded and played).", float64(r.TxPackets))
		m.one("callwerk_relay_packets_dropped_total", "counter", "RTP datagrams read and not forwarded: not RTP, a stranger's, not bridged, or on hold.", float64(r.Dropped))
		m.one("callwerk_relay_packets_unauthentic_total", "counter", "SRTP packets refused: failed authentication or replayed.", float64(r.Unauthentic))
		m.one("callwerk_relay_rtcp_unauthentic_total", "counter", "SRTCP packets refused: failed authentication or replayed.", float64(r.UnauthenticRTCP))
		m.one("callwerk_relay_played_frames_total", "counter", "Prompt and music frames the relay played.", float64(r.PlayedFrames))
		m.one("callwerk_relay_rtcp_received_total", "counter", "RTCP datagrams read by the relay.", float64(r.RTCPPackets))
		m.one("callwerk_relay_rtcp_sent_total", "counter", "RTCP packets the relay passed on.", float64(r.RTCPSent))
	}
	if a.figures == nil {
		return
	}
	kpis := a.figures.Snapshot(time.Now())
	queues := slices.Sorted(maps.Keys(kpis))
	per := func(name, typ, help string, v func(string) float64) {
		vals := make(map[string]float64, len(queues))
		for _, q := range queues {
			vals[q] = v(q)
		}
		m.labelled(name, typ, help, "queue", vals)
	}
	per("callwerk_queue_waiting", "gauge", "Calls waiting in the queue now, ringing ones included.", func(q string) float64 { return float64(kpis[q].Waiting) })
	per("callwerk_queue_longest_wait_seconds", "gauge", "How long the oldest waiting call has waited.", func(q string) float64 { return kpis[q].LongestWait.Seconds() })
	per("callwerk_queue_offered", "gauge", "Calls that entered the queue today.", func(q string) float64 { return float64(kpis[q].Offered) })
	per("callwerk_queue_answered", "gauge", "Calls answered today.", func(q string) float64 { return float64(kpis[q].Answered) })
	per("callwerk_queue_abandoned", "gauge", "Calls that left unanswered today.", func(q string) float64 { return float64(kpis[q].Abandoned) })
	per("callwerk_queue_service_level", "gauge", "Share of today's calls answered within the target (0 to 1).", func(q string) float64 { return kpis[q].ServiceLevel })
	per("callwerk_queue_asa_seconds", "gauge", "Average wait of today's answered calls.", func(q string) float64 { return kpis[q].ASA.Seconds() })
	per("callwerk_queue_callbacks_pending", "gauge", "Callbacks waiting now.", func(q string) float64 { return float64(kpis[q].CallbacksPending) })
}

// metricWriter writes metric families; label values are escaped.
type metricWriter struct{ w io.Writer }

func (m metricWriter) head(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m metricWriter) one(name, typ, help string, v float64) {
	m.head(name, typ, help)
	fmt.Fprintf(m.w, "%s %s\n", name, strconv.FormatFloat(v, 'g', -1, 64))
}

func (m metricWriter) labelled(name, typ, help, label string, vals map[string]float64) {
	m.head(name, typ, help)
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		fmt.Fprintf(m.w, "%s{%s=%s} %s\n", name, label, strconv.Quote(k), strconv.FormatFloat(vals[k], 'g', -1, 64))
	}
}

func strMap(in map[string]uint64) map[string]float64 {
	out := make(map[string]float64, len(in))
	for k, v := range in {
		out[k] = float64(v)
	}
	return out
}

func codeMap(in map[int]uint64) map[string]float64 {
	out := make(map[string]float64, len(in))
	for k, v := range in {
		out[strconv.Itoa(k)] = float64(v)
	}
	return out
}
