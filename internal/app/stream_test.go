package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
	sipedge "github.com/callwerk/callwerk/sip"
)

// tcpExchange dials the node's TCP listener, writes msg and returns what
// the node sends within 300 ms; if that is nothing, it half-closes the
// connection (the node then answers what it holds of an unfinished message)
// and adds what arrives before the node closes or 2 s pass.
func tcpExchange(t *testing.T, n *node, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", n.tcp)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, 8192)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	if k, _ := c.Read(buf); k > 0 {
		return string(buf[:k])
	}
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	got, _ := io.ReadAll(c)
	return string(got)
}

// Every RFC 4475 torture message, each on its own TCP connection: those
// the sanity check refuses get the same status as over UDP, dropped ones
// get no answer, and the ones it passes are answered by the handlers (or,
// for responses, discarded). A stream is then closed by the node when the
// phone closes it, answered or not. Afterwards an OPTIONS over TCP gets 200.
func TestTortureMessagesOverTCP(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.SIP.Flood.Exempt = []string{"127.0.0.1"} })
	files, err := filepath.Glob("../../sip/testdata/rfc4475/*/*.dat")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 49)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		name := filepath.Base(f)
		v := sipedge.Sanity(data, sipedge.DefaultMaxMessageSize)
		got := firstLineOf([]byte(tcpExchange(t, n, string(data))))
		switch {
		case v.Drop:
			assert.Empty(t, got, "%s is dropped without an answer", name)
		case v.Status != 0:
			assert.True(t, strings.HasPrefix(got, fmt.Sprintf("SIP/2.0 %d ", v.Status)), "%s: want %d, got %q", name, v.Status, got)
		case strings.HasPrefix(string(data), "SIP/"):
			assert.Empty(t, got, "%s: a stray response is not answered", name)
		default:
			assert.True(t, strings.HasPrefix(got, "SIP/2.0 "), "%s: the handlers answer it, got %q", name, got)
		}
	}
	assert.True(t, strings.HasPrefix(tcpExchange(t, n, optionsReq("after-torture")), "SIP/2.0 200 "), "the server still answers")
	assert.NotContains(t, n.logs.String(), "Fluffy", "raw messages are not logged")
}

func optionsReq(callID string) string {
	return "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;rport;branch=z9hG4bK" + callID + "\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: " + callID + "\r\nCSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

// A stream that cannot be framed gets one answer and is closed; pipelined
// messages and keep-alives on one connection are each handled.
func TestTCPFraming(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.SIP.Flood.Exempt = []string{"127.0.0.1"} })
	noLength := strings.Replace(optionsReq("no-length"), "Content-Length: 0\r\n", "", 1)
	got := tcpExchange(t, n, noLength+optionsReq("never-read"))
	assert.True(t, strings.HasPrefix(got, "SIP/2.0 400 Bad Request: missing Content-Length"), got)
	assert.Contains(t, got, "Call-ID: no-length")
	assert.NotContains(t, got, "never-read", "after a framing error the stream is closed")

	twoLengths := strings.Replace(optionsReq("two"), "Content-Length: 0\r\n", "Content-Length: 0\r\nl: 4\r\n", 1)
	got = tcpExchange(t, n, twoLengths)
	assert.True(t, strings.HasPrefix(got, "SIP/2.0 400 Bad Request: more than one Content-Length"), got)

	huge := strings.Replace(optionsReq("huge"), "Content-Length: 0", "Content-Length: 900000", 1)
	got = tcpExchange(t, n, huge)
	assert.True(t, strings.HasPrefix(got, "SIP/2.0 513 "), got)

	short := strings.Replace(optionsReq("short"), "Content-Length: 0", "Content-Length: 50", 1) + "v=0\r\n"
	got = tcpExchange(t, n, short)
	assert.True(t, strings.HasPrefix(got, "SIP/2.0 400 "), "the phone closed in the middle of a body: %q", got)

	// Pipelined: a keep-alive ping, a bad request (400, the stream goes
	// on), then two good ones, in one write.
	bad := strings.Replace(optionsReq("bad-cseq"), "CSeq: 1 OPTIONS", "CSeq: x OPTIONS", 1)
	c, err := net.Dial("tcp", n.tcp)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("\r\n\r\n" + bad + optionsReq("one") + optionsReq("two")))
	require.NoError(t, err)
	got = ""
	buf := make([]byte, 8192)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	for strings.Count(got, "SIP/2.0 ") < 3 {
		k, err := c.Read(buf)
		if err != nil {
			break
		}
		got += string(buf[:k])
	}
	assert.True(t, strings.HasPrefix(got, "\r\nSIP/2.0 400 "), "pong first, then the 400: %q", got)
	assert.Equal(t, 3, strings.Count(got, "SIP/2.0 "), got)
	assert.Contains(t, got, "Call-ID: one")
	assert.Contains(t, got, "Call-ID: two")
	assert.NotContains(t, n.logs.String(), "probe@", "refused messages are not logged")
}

// sip.connections: one address may hold per_ip connections; more are
// closed at once. A connection that sends nothing within
// first_message_timeout is closed, one that has sent a message is not.
func TestTCPConnectionLimits(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.SIP.Connections.PerIP = 3
		c.SIP.Connections.FirstMessage = config.Duration(time.Second)
	})
	dial := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", n.tcp)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	closedWithin := func(c net.Conn, d time.Duration) bool {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
		_, err := c.Read(make([]byte, 64))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	var held []net.Conn
	for range 3 {
		held = append(held, dial("127.0.0.21"))
	}
	extra := dial("127.0.0.21")
	assert.True(t, closedWithin(extra, 500*time.Millisecond), "the fourth connection from one address is closed")
	other := dial("127.0.0.22")

	// One of the three sends a message and stays; the idle ones go after 1 s.
	_, err := held[0].Write([]byte(optionsReq("keeps")))
	require.NoError(t, err)
	require.NoError(t, held[0].SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, 2048)
	k, err := held[0].Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:k]), "SIP/2.0 200 "))
	assert.True(t, closedWithin(held[1], 3*time.Second), "an idle connection is closed after the first-message timeout")
	assert.True(t, closedWithin(other, 3*time.Second))
	assert.False(t, closedWithin(held[0], 1500*time.Millisecond), "a connection that sent a message stays open")
	assert.Contains(t, n.logs.String(), `"security":"connections","source":"127.0.0.21"`)

	// Places freed by closed connections can be taken again.
	again := dial("127.0.0.21")
	_, err = again.Write([]byte(optionsReq("again")))
	require.NoError(t, err)
	require.NoError(t, again.SetReadDeadline(time.Now().Add(2*time.Second)))
	k, err = again.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:k]), "SIP/2.0 200 "))

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
}
