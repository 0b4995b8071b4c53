package interop

import (
	"context"
	"testing"
	"time"
)

// TestToolsSelfCheck proves the helpers work without our server: a SIPp
// member calls baresip directly (baresip auto-answers, no registrar), both
// stream PCMU for ~3 s, and dumpcap counts the RTP arriving at each end.
func TestToolsSelfCheck(t *testing.T) {
	requireTool(t, "sipp")
	requireTool(t, "baresip")
	requireTool(t, "dumpcap") // from the tshark install

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	agent := startBaresip(t, ctx, BaresipOpts{User: "1001"}) // regint=0, answermode=auto
	sippMedia := freeUDPPortBlock(t, 4)

	atMember := captureRTP(t, ctx, sippMedia)    // RTP baresip -> SIPp
	atAgent := captureRTP(t, ctx, agent.RTPPort) // RTP SIPp -> baresip

	const talk = 3 * time.Second
	res, err := runSIPpMember(t, ctx, SIPpOpts{
		Target:    agent.SIPAddr(),
		Service:   "1001",
		Talk:      talk,
		MediaPort: sippMedia,
	})
	if err != nil {
		t.Fatalf("SIPp member call failed: %v\n%s\n--- baresip ---\n%s", err, res.Summary(), agent.Output())
	}
	if err := agent.WaitAnswered(time.Second); err != nil {
		t.Fatalf("%v\n--- baresip ---\n%s", err, agent.Output())
	}
	if err := agent.WaitCallClosed(1, 2*time.Second); err != nil {
		t.Errorf("%v\n--- baresip ---\n%s", err, agent.Output())
	}
	atMember.Stop()
	atAgent.Stop()

	expected, minimum := minPackets(talk)
	t.Logf("sipp: exit=%d successful=%d failed=%d elapsed=%v", res.ExitCode, res.Successful, res.Failed, res.Elapsed)
	t.Logf("RTP at SIPp  (udp dst %d): %d packets, by source port %v", sippMedia, atMember.Count(), atMember.Sources())
	t.Logf("RTP at agent (udp dst %d): %d packets, by source port %v", agent.RTPPort, atAgent.Count(), atAgent.Sources())
	if res.Successful != 1 || res.Failed != 0 {
		t.Errorf("sipp stats: successful=%d failed=%d, want 1/0", res.Successful, res.Failed)
	}
	if n := atMember.CountFrom(agent.RTPPort); n < minimum {
		t.Errorf("RTP baresip -> SIPp: %d packets from port %d, want >= %d (95%% of %d)\n%s",
			n, agent.RTPPort, minimum, expected, atMember.Stderr())
	}
	if n := atAgent.CountFrom(sippMedia); n < minimum {
		t.Errorf("RTP SIPp -> baresip: %d packets from port %d, want >= %d (95%% of %d)\n%s",
			n, sippMedia, minimum, expected, atAgent.Stderr())
	}
}
