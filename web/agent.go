package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"strconv"
)

// The agent desktop: a page at /agent/ where a clerk signs in with their
// agent id and SIP password and works in the browser. The page registers
// over SIP on WebSocket (JsSIP) and takes calls with WebRTC media; it sets
// the agent's state with feature codes sent as SIP MESSAGEs, so it needs
// no other credentials than the phone's. JsSIP comes from npm and is
// bundled by `make web` into build/jssip.js, which is embedded when present.
//
//go:embed agent build
var agentFiles embed.FS

// AgentDesktopConfig is what the page needs to know of this node.
type AgentDesktopConfig struct {
	// WebSocket is the network ("wss" or "ws") and port of the listener
	// the page's SIP stack connects to, on the host the page came from;
	// empty: the node has none, and the page says so.
	WebSocket string
	Port      int
	// PauseReasons are the reasons an agent may pause with, in the
	// order of the feature codes *221, *222, ...
	PauseReasons []string
}

// pageConfig is /agent/config.json.
type pageConfig struct {
	WebSocket    string   `json:"websocket"` // "wss://host:port", "" if none
	Domain       string   `json:"domain"`    // the host part of the agents' SIP URIs
	PauseReasons []string `json:"pause_reasons"`
}

// AgentDesktop serves the agent desktop under /agent/.
func AgentDesktop(conf AgentDesktopConfig) http.Handler {
	page, _ := fs.Sub(agentFiles, "agent")
	files := http.FileServerFS(page)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent/config.json", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		pc := pageConfig{Domain: host, PauseReasons: conf.PauseReasons}
		if conf.WebSocket != "" {
			pc.WebSocket = conf.WebSocket + "://" + net.JoinHostPort(host, strconv.Itoa(conf.Port))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(pc)
	})
	mux.HandleFunc("GET /agent/jssip.js", func(w http.ResponseWriter, r *http.Request) {
		b, err := agentFiles.ReadFile("build/jssip.js")
		if err != nil {
			http.Error(w, "the softphone library is not built into this binary: run make web, then build callwerk", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.Handle("GET /agent/", http.StripPrefix("/agent", securePage(files)))
	return mux
}

// securePage sets the headers every desktop response carries: no framing,
// no sniffing, scripts only from this origin.
func securePage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
