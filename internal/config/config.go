package config

import "time"

// Defaults for keys that are absent from the file (or zero in a Config built
// in Go, see [Config.ApplyDefaults]).
const (
	DefaultRingTimeout = 20 * time.Second // an agent's phone rings this long, then the call goes back to the queue
	DefaultWrapup      = 10 * time.Second // an agent stays unavailable this long after a call ends
	DefaultRealm       = "callwerk"       // digest authentication realm for agent phones
	DefaultSIPListen   = "127.0.0.1:5060" // HOST:PORT used for both udp and tcp when sip.listen is empty
	DefaultHTTPListen  = "127.0.0.1:8080" // HTTP API, metrics and health checks
	DefaultMediaAddr   = "127.0.0.1"      // relay address when media.address is empty: loopback, for the demo and tests
	DefaultMediaPorts  = "20000-20999"    // RTP/RTCP port range of the media relay, inclusive
	DefaultQuarantine  = 2 * time.Second  // a released port pair is not handed out again for this long
	DefaultStore       = StoreMemory      // call and agent state in process memory
	DefaultBus         = BusEmbedded      // in-process NATS server
	DefaultAnswer      = AnswerImmediate  // answer mode of a number
	DefaultNodeName    = "callwerk"       // node name when the hostname cannot be read
)

// Values of the enumerated keys.
const (
	StoreMemory     = "memory"    // store: state in process memory, lost on restart, single node only
	BusEmbedded     = "embedded"  // bus: NATS server inside the process
	AnswerImmediate = "immediate" // numbers[].answer: 200 OK at once, then greeting and music
	AnswerEarly     = "early"     // numbers[].answer: 183 early media until an agent answers, free of charge for the caller
	NetworkUDP      = "udp"       // sip.listen transport
	NetworkTCP      = "tcp"       // sip.listen transport
	NetworkTLS      = "tls"       // sip.listen transport: SIP over TLS (SIPS), needs sip.tls
	NetworkWS       = "ws"        // sip.listen transport: SIP over WebSocket (RFC 7118)
	NetworkWSS      = "wss"       // sip.listen transport: SIP over secure WebSocket, needs sip.tls
)

// Limits enforced by [Config.Validate].
const (
	MinRingTimeout     = 5 * time.Second
	MaxRingTimeout     = 120 * time.Second
	MaxWrapup          = 10 * time.Minute
	MaxQuarantine      = 60 * time.Second
	MinMediaPort       = 1024
	MaxMediaPort       = 65535
	MinMediaPorts      = 4  // two RTP/RTCP pairs
	MinPasswordLen     = 8  // agents[].password
	MinPseudonymKeyLen = 16 // privacy.pseudonym_key
)

// Config is the whole configuration file of one Callwerk node.
type Config struct {
	Node    Node    `yaml:"node"`    // identity of this node in a cluster
	SIP     SIP     `yaml:"sip"`     // SIP listeners and digest realm
	Media   Media   `yaml:"media"`   // RTP relay address, ports and hold music
	HTTP    HTTP    `yaml:"http"`    // HTTP API, metrics and health checks
	Store   string  `yaml:"store"`   // "memory" or a redis:// / rediss:// URL; default "memory"
	Bus     string  `yaml:"bus"`     // "embedded" or a nats:// / tls:// URL (comma-separated for a cluster); default "embedded"
	Privacy Privacy `yaml:"privacy"` // pseudonymisation of caller numbers in logs and events
	// Networks says which networks are trusted with unencrypted signalling
	// and media.
	Networks Networks `yaml:"networks"`
	Trunks   []Trunk  `yaml:"trunks"`          // carriers whose INVITEs are accepted without authentication
	Numbers  []Number `yaml:"numbers"`         // dialled numbers and the queue (or menu) each one feeds
	Menus    []Menu   `yaml:"menus,omitempty"` // voice menus numbers can lead to: press 1 for ..., 2 for ...
	Hours    []Hours  `yaml:"hours,omitempty"` // opening hours numbers can keep
	Queues   []Queue  `yaml:"queues"`          // call queues; at least one
	Agents   []Agent  `yaml:"agents"`          // clerks: SIP accounts of their phones and their queues
	// Transfer, if set, lets agents transfer calls to outside numbers.
	Transfer *Transfer `yaml:"transfer,omitempty"`
	// QueueLog is a file the queue events are appended to in the style of
	// Asterisk's queue_log (docs/queue-log.md); empty = no file.
	QueueLog string `yaml:"queue_log"`
	// PauseReasons agents can pause for (phone feature codes and the API pick
	// from this list); default DefaultPauseReasons. "no-answer" is reserved
	// for the automatic pause.
	PauseReasons []string `yaml:"pause_reasons"`
}

// Node identifies this process.
type Node struct {
	Name string `yaml:"name"` // unique per node, [A-Za-z0-9._-]{1,64}; default: the hostname
	// SIPAddress is where the other nodes send INVITEs for agents
	// registered here, "udp:HOST:PORT" or "tcp:HOST:PORT" with a specific
	// IP; default: the first sip.listen entry, if its IP is specific.
	SIPAddress string `yaml:"sip_address"`
	// Secret signs the INVITEs nodes send each other for their agents; the
	// same on every node, at least MinNodeSecretLen characters. Empty: this
	// node routes only to agents registered with it.
	Secret string `yaml:"secret"`
	// Lease is how long the node's reservations outlive it; it renews the
	// lease every third of it. 1s..60s; default DefaultLease.
	Lease Duration `yaml:"lease"`
	// DrainTimeout is how long calls in progress may go on after SIGTERM
	// before they are hung up: 1s..1h; default DefaultDrainTimeout.
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// DefaultDrainTimeout is node.drain_timeout's default.
const DefaultDrainTimeout = 30 * time.Second

// MinNodeSecretLen is the shortest node.secret accepted.
const MinNodeSecretLen = 24

// DefaultLease is node.lease's default.
const DefaultLease = 6 * time.Second

// SIP configures the signalling side.
type SIP struct {
	Listen []string `yaml:"listen"` // "NETWORK:HOST:PORT", NETWORK udp, tcp, tls, ws or wss, HOST an IP literal, port 0 = any free port; default udp and tcp on DefaultSIPListen
	// TLS is the certificate of the tls and wss listeners.
	TLS   TLS    `yaml:"tls"`
	Realm string `yaml:"realm"` // digest realm for agent phones; default DefaultRealm
	// DigestAlgorithms are the challenges sent to phones, most preferred
	// first (RFC 8760): "SHA-256" and/or "MD5"; default DefaultDigestAlgorithms.
	DigestAlgorithms []string `yaml:"digest_algorithms"`
	// MaxCalls is the most member calls this node carries at once; more get
	// 503 with Retry-After. 0 = no limit; default DefaultMaxCalls.
	MaxCalls int `yaml:"max_calls"`
	// MaxCallRate is the most new member calls per second this node
	// accepts; more get 503 with Retry-After. 0 = no limit (the default).
	MaxCallRate int `yaml:"max_call_rate,omitempty"`
	// MaxRegistrations is the most devices one agent may register at once;
	// default DefaultMaxRegistrations.
	MaxRegistrations int `yaml:"max_registrations"`
	// Keepalive is how often each registered phone gets an OPTIONS, to
	// keep its NAT binding or connection open and to find phones that are
	// gone; default DefaultKeepalive.
	Keepalive Duration `yaml:"keepalive"`
	// Flood is the per-source message limit with a temporary ban.
	Flood Flood `yaml:"flood"`
	// AuthLockout blocks addresses that fail digest authentication again
	// and again.
	AuthLockout AuthLockout `yaml:"auth_lockout"`
	// Connections limits stream (TCP) connections.
	Connections Connections `yaml:"connections"`
	// MaxMessageSize is the largest SIP message accepted, in bytes; default
	// DefaultMaxMessageSize.
	MaxMessageSize int `yaml:"max_message_size"`
}

// TLS (sip.tls) names the PEM files of the certificate (chain) and its
// private key that the tls and wss listeners present.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Secure reports whether network is encrypted (tls, wss).
func Secure(network string) bool { return network == NetworkTLS || network == NetworkWSS }

// AuthLockout (sip.auth_lockout): Failures failed digest authentications
// from one address within Window block it for Block.
type AuthLockout struct {
	Failures int      `yaml:"failures"` // 1..1000; default DefaultLockoutFailures
	Window   Duration `yaml:"window"`   // 1m..24h; default DefaultLockoutWindow
	Block    Duration `yaml:"block"`    // 1m..24h; default DefaultLockoutBlock
}

// Connections (sip.connections) limits stream connections: PerIP at once
// from one address, and FirstMessage for a new connection to send its
// first complete message.
type Connections struct {
	PerIP        int      `yaml:"per_ip"`                // 1..10000; default DefaultConnsPerIP
	FirstMessage Duration `yaml:"first_message_timeout"` // 1s..5m; default DefaultFirstMessageTimeout
}

// Defaults of sip.auth_lockout, sip.connections and sip.max_message_size.
const (
	DefaultLockoutFailures     = 5
	DefaultLockoutWindow       = 10 * time.Minute
	DefaultLockoutBlock        = 10 * time.Minute
	DefaultConnsPerIP          = 32
	DefaultFirstMessageTimeout = 10 * time.Second
	DefaultMaxMessageSize      = 16 << 10
)

// Flood limits SIP messages per source address (sip.flood): more than
// Requests within Window ban the address for Ban (no answer at all).
// Trunk addresses and the Exempt prefixes are never limited.
type Flood struct {
	Requests int      `yaml:"requests"`         // 1..100000; default DefaultFloodRequests
	Window   Duration `yaml:"window"`           // 100ms..1h; default DefaultFloodWindow
	Ban      Duration `yaml:"ban"`              // 1s..24h; default DefaultFloodBan
	Exempt   []string `yaml:"exempt,omitempty"` // CIDRs or IP addresses, e.g. an SBC or a monitoring probe
}

// Flood defaults (Kamailio pike's).
const (
	DefaultFloodRequests = 30
	DefaultFloodWindow   = 2 * time.Second
	DefaultFloodBan      = 300 * time.Second
)

// Defaults and limits of the SIP admission keys.
const (
	DefaultMaxCalls         = 2000
	DefaultMaxRegistrations = 5
	DefaultKeepalive        = 30 * time.Second
	MaxMaxRegistrations     = 100
)

// Media configures the RTP relay.
type Media struct {
	Address    string   `yaml:"address"`    // IP the relay binds and advertises in SDP; not 0.0.0.0 or ::; default DefaultMediaAddr
	Ports      string   `yaml:"ports"`      // "MIN-MAX", inclusive, within 1024..65535, at least 4 ports; default DefaultMediaPorts
	Quarantine Duration `yaml:"quarantine"` // released port pairs are not reused for this long, 0s..60s; default DefaultQuarantine (an explicit 0s in the file turns it off)
	HoldMusic  string   `yaml:"hold_music"` // WAV file played while waiting; empty = generated music
	// Timeout ends a connected call when one side has sent no RTP for this
	// long (while neither side holds the call); 0s = never; 1s..10m;
	// default DefaultMediaTimeout.
	Timeout Duration `yaml:"timeout"`
}

// DefaultMediaTimeout is media.timeout's default.
const DefaultMediaTimeout = 30 * time.Second

// HTTP configures the HTTP server.
type HTTP struct {
	Listen string `yaml:"listen"` // HOST:PORT, HOST an IP literal or empty for all interfaces; default DefaultHTTPListen
	// APIToken is the bearer token of /api/v1 (at least MinAPITokenLen
	// characters); empty = no API. Never logged or printed by config check.
	APIToken string `yaml:"api_token"`
}

// MinAPITokenLen is the shortest API token accepted.
const MinAPITokenLen = 24

// Networks (networks) are the addresses whose phones may use plain UDP or
// TCP and RTP. Agents anywhere else must use TLS (and, once available,
// SRTP): a plain REGISTER from them gets 403. Trunks are not affected.
type Networks struct {
	// Trusted are CIDRs or IPs; default DefaultTrusted (loopback and the
	// private ranges: the office LAN, not the internet). An explicit empty
	// list trusts nothing.
	Trusted []string `yaml:"trusted"`
}

// DefaultTrusted is networks.trusted's default: loopback, RFC 1918 and
// RFC 4193 unique local addresses.
var DefaultTrusted = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Privacy configures how caller numbers are pseudonymised.
type Privacy struct {
	PseudonymKey string `yaml:"pseudonym_key"` // HMAC key, at least 16 characters; empty = random per start, so pseudonyms change on restart
	// AgentStatistics allows records that show per-agent performance (the
	// queue log then names agents instead of pseudonyms). Default false: the
	// staff council must agree first.
	AgentStatistics bool `yaml:"agent_statistics"`
}

// Trunk is a carrier: INVITEs from its addresses are member calls and need no
// authentication.
type Trunk struct {
	Name      string   `yaml:"name"`      // [a-z0-9_-]{1,32}, unique
	Addresses []string `yaml:"addresses"` // CIDRs or bare IPs (/32, /128); at least one; must not overlap other trunks
	// Outbound, if set, lets Callwerk place calls over the trunk
	// (callbacks to members).
	Outbound *Outbound `yaml:"outbound,omitempty"`
}

// Outbound is where and how calls go out over a trunk. Digest credentials,
// if the carrier asks for them, are only ever sent to Address.
type Outbound struct {
	Address   string `yaml:"address"`   // IP:port of the carrier's SIP server, within the trunk's addresses
	Transport string `yaml:"transport"` // "udp" (default) or "tcp"
	// From is the number the called member sees (the hotline's, E.164:
	// +4930...).
	From     string `yaml:"from"`
	Username string `yaml:"username,omitempty"` // digest user, if the carrier challenges
	Password string `yaml:"password,omitempty"` // digest password; never logged or printed
}

// Number maps a dialled number to a queue.
type Number struct {
	Number string `yaml:"number"`         // Request-URI user part: optional leading +, then digits, * and #; unique
	Queue  string `yaml:"queue"`          // name of a configured queue; or
	Menu   string `yaml:"menu,omitempty"` // name of a configured menu, which leads to queues
	// Hours names the opening hours the number keeps; outside them callers
	// hear the closed prompt. Empty: always open.
	Hours  string `yaml:"hours,omitempty"`
	Answer string `yaml:"answer"` // "immediate" or "early"; default DefaultAnswer
	// Emergency is the number's emergency announcement, switched on and off
	// through the API (or on from the start with Active).
	Emergency *Emergency `yaml:"emergency,omitempty"`
	// Priority of calls to this number: 0..100, higher first, whatever
	// their wait; default 0.
	Priority int `yaml:"priority,omitempty"`
}

// Menu is a voice menu: the member hears Prompt and presses a key; each
// key in Options leads to a queue. No key within Timeout after the prompt,
// or a key not offered, plays the prompt again (after "invalid input" for a
// wrong key), Attempts times in all; then the call goes to Default, or,
// without one, hears goodbye and is hung up. Keys are RFC 4733
// telephone-events or SIP INFO (application/dtmf-relay, application/dtmf).
type Menu struct {
	Name     string            `yaml:"name"`     // [a-z0-9_-]{1,32}, unique
	Prompt   string            `yaml:"prompt"`   // WAV file (any rate, converted to 8 kHz)
	Options  map[string]string `yaml:"options"`  // key (0-9, * or #) -> queue
	Timeout  Duration          `yaml:"timeout"`  // 1s..60s; default DefaultMenuTimeout
	Attempts int               `yaml:"attempts"` // 1..6; default DefaultMenuAttempts
	Default  string            `yaml:"default"`  // queue after the last attempt; "" = goodbye
}

// Hours are opening hours (hours[]): per weekday, closed on the public
// holidays of Land, with exceptions for single dates that win over both.
type Hours struct {
	Name     string `yaml:"name"`     // [a-z0-9_-]{1,32}, unique
	Timezone string `yaml:"timezone"` // IANA zone; default DefaultTimezone
	// Land is the German Land whose public holidays close the line: BW, BY,
	// BE, BB, HB, HH, HE, MV, NI, NW, RP, SL, SN, ST, SH, TH, or DE for the
	// national ones only; "" = no holidays.
	Land string `yaml:"land"`
	// Week maps weekdays (mon ... sun) to opening times, "08:00-12:00,
	// 13:00-17:00"; a day not listed is closed.
	Week map[string]string `yaml:"week"`
	// Exceptions map dates (2006-01-02) to that day's opening times, "" =
	// closed all day (24 December: "08:00-12:00").
	Exceptions map[string]string `yaml:"exceptions,omitempty"`
	// ClosedPrompt is played to callers while closed; "" = the built-in one.
	ClosedPrompt string `yaml:"closed_prompt,omitempty"`
}

// Emergency is an announcement every new caller of a number hears while it
// is switched on (an outage, a storm): then the call is hung up (Then
// "hangup") or goes on to the number's queue or menu (Then "queue").
type Emergency struct {
	Prompt string `yaml:"prompt"` // WAV file
	Then   string `yaml:"then"`   // "queue" (default) or "hangup"
	Active bool   `yaml:"active,omitempty"`
}

// Emergency Then values.
const (
	EmergencyQueue  = "queue"
	EmergencyHangup = "hangup"
)

// DefaultTimezone is hours[].timezone's default.
const DefaultTimezone = "Europe/Berlin"

// Menu defaults.
const (
	DefaultMenuTimeout  = 5 * time.Second
	DefaultMenuAttempts = 3
)

// Queue is a call queue served by agents.
type Queue struct {
	Name        string   `yaml:"name"`         // [a-z0-9_-]{1,32}, unique
	RingTimeout Duration `yaml:"ring_timeout"` // 5s..120s; default DefaultRingTimeout
	Wrapup      Duration `yaml:"wrapup"`       // 0s..10m; default DefaultWrapup (an explicit 0s in the file means no wrap-up)
	// Strategy picks among the free qualified agents: longest-idle
	// (default), round-robin, fewest-calls, least-talk-time, linear (agents'
	// config order), random; or rings several: ring-all,
	// ring-progressively.
	Strategy string `yaml:"strategy"`
	// RingStep is ring-progressively's delay before each further agent's
	// phone joins the ringing: 1s..60s; default DefaultRingStep.
	RingStep Duration `yaml:"ring_step"`
	// Weight breaks ties between equally old calls of different queues for
	// an agent serving both: 0..100, higher first; default 0.
	Weight int `yaml:"weight,omitempty"`
	// Skills an agent needs, with the minimum level 1..5.
	Skills map[string]int `yaml:"skills,omitempty"`
	// MaxMisses pauses an agent (reason "no-answer") after this many offers
	// in a row rang out unanswered: 0..100, 0 = never; default DefaultMaxMisses.
	MaxMisses int `yaml:"max_misses"`
	// RejectBackoff: an agent who declines an offer (busy, decline) is
	// offered nothing for this long; 0s..5m, default DefaultRejectBackoff.
	// Declining is not a miss.
	RejectBackoff Duration `yaml:"reject_backoff"`
	// MaxWait: a call that has waited this long moves to Overflow (keeping
	// its age) or, without one, leaves the queue; 0 = no limit.
	MaxWait  Duration `yaml:"max_wait"`
	Overflow string   `yaml:"overflow,omitempty"` // another queue's name; needs max_wait
	// MaxLength refuses new calls (486 Busy Here) while this many wait; 0 =
	// no limit.
	MaxLength int `yaml:"max_length,omitempty"`
	// JoinEmpty lets calls join while no agent of the queue is logged in
	// (paused agents count as logged in); default false: such calls get 480.
	JoinEmpty bool `yaml:"join_empty,omitempty"`
	// LeaveWhenEmpty ends waiting calls when the last agent of the queue
	// logs out; default true.
	LeaveWhenEmpty bool `yaml:"leave_when_empty"`
	// Widen lowers the skill requirement for calls that have waited longer:
	// steps in increasing `after` order, each listing the requirement from
	// then on (a skill not listed is no longer required).
	Widen []Widen `yaml:"widen,omitempty"`
	// Greeting is played once when a call joins, before the music: a WAV
	// file, "" for the built-in German greeting, or "none".
	Greeting string `yaml:"greeting,omitempty"`
	// Announce says what the periodic announcements tell a waiting member:
	// "position+wait" (default), "position" or "wait". The first comes after
	// AnnounceFirst (0s = no announcements), then every AnnounceEvery (0s =
	// only once); an announcement is skipped if the member's position has
	// not improved since the last one.
	Announce      string   `yaml:"announce"`
	AnnounceFirst Duration `yaml:"announce_first"` // 0s or 1s..10m; default DefaultAnnounceFirst
	AnnounceEvery Duration `yaml:"announce_every"` // 0s or 5s..30m; default DefaultAnnounceEvery
	// Callback, if set, offers waiting members a callback (virtual hold)
	// with each announcement.
	Callback *Callback `yaml:"callback,omitempty"`
}

// Callback is a queue's callback offer: a waiting member presses Key,
// confirms the number they call from or keys in another, and hangs up;
// the call keeps its place. When its turn comes an agent's phone rings
// first, then the member is called over Trunk, up to Attempts times,
// RetryAfter apart, each ringing up to RingTimeout.
type Callback struct {
	Trunk       string   `yaml:"trunk"`        // a trunk with outbound set
	Key         string   `yaml:"key"`          // 0-9, * or #; default DefaultCallbackKey
	Attempts    int      `yaml:"attempts"`     // 1..10; default DefaultCallbackAttempts
	RetryAfter  Duration `yaml:"retry_after"`  // 30s..2h; default DefaultCallbackRetryAfter
	RingTimeout Duration `yaml:"ring_timeout"` // 10s..120s; default DefaultCallbackRingTimeout
	// CountryCode makes national numbers (0301234567) international
	// (+49301234567); default DefaultCountryCode.
	CountryCode string `yaml:"country_code"`
	// International allows callbacks to numbers outside CountryCode;
	// default false (no toll fraud through the callback).
	International bool `yaml:"international,omitempty"`
}

// Callback defaults.
const (
	DefaultCallbackKey         = "1"
	DefaultCallbackAttempts    = 3
	DefaultCallbackRetryAfter  = 5 * time.Minute
	DefaultCallbackRingTimeout = 30 * time.Second
	DefaultCountryCode         = "49"
)

// Announcement defaults and values.
const (
	DefaultAnnounceFirst = 30 * time.Second
	DefaultAnnounceEvery = 60 * time.Second
	AnnouncePositionWait = "position+wait"
	AnnouncePosition     = "position"
	AnnounceWait         = "wait"
	GreetingNone         = "none"
)

// Widen is one step of a queue's skill widening.
type Widen struct {
	After  Duration       `yaml:"after"`            // wait after which this requirement applies, > 0
	Skills map[string]int `yaml:"skills,omitempty"` // skill -> minimum level 1..5, each at most the earlier requirement
}

// Agent is a clerk with a SIP account.
type Agent struct {
	ID       string         `yaml:"id"`               // SIP user name, [A-Za-z0-9._-]{1,64}, unique
	Password string         `yaml:"password"`         // digest password, at least 8 characters; never logged or printed
	Queues   []string       `yaml:"queues"`           // names of configured queues; at least one
	Skills   map[string]int `yaml:"skills,omitempty"` // skill -> level 1..5 (5 = expert)
	// Forward, if set, reaches the agent at a phone number over a trunk
	// instead of a registered phone (a clerk at home on their own line).
	Forward *Forward `yaml:"forward,omitempty"`
}

// Transfer is how agents' blind transfers to outside numbers go out.
type Transfer struct {
	Trunk string `yaml:"trunk"` // a trunk with outbound set
	// CountryCode makes national numbers international and, unless
	// International, is the only country transfers may go to; default
	// DefaultCountryCode.
	CountryCode   string `yaml:"country_code"`
	International bool   `yaml:"international,omitempty"`
}

// Forward is where a forwarded agent's calls go.
type Forward struct {
	Number string `yaml:"number"` // E.164: +4917612345678
	Trunk  string `yaml:"trunk"`  // a trunk with outbound set
}

// DefaultDigestAlgorithms is the RFC 8760 order: SHA-256 first, MD5 for
// phones that know nothing better.
var DefaultDigestAlgorithms = []string{"SHA-256", "MD5"}

// Queue strategies (queues[].strategy).
var Strategies = []string{"longest-idle", "round-robin", "fewest-calls", "least-talk-time", "linear", "random", "ring-all", "ring-progressively"}

// DefaultRingStep is queues[].ring_step's default.
const DefaultRingStep = 5 * time.Second

// DefaultStrategy is the strategy of a queue that names none.
const DefaultStrategy = "longest-idle"

// Defaults of the agent-state keys.
const (
	DefaultMaxMisses     = 3                // missed offers in a row before an automatic pause
	DefaultRejectBackoff = 10 * time.Second // no offers after declining one
	MaxRejectBackoff     = 5 * time.Minute
	MaxMaxWait           = 24 * time.Hour
	MaxQueueLength       = 100000
)

// DefaultPauseReasons are offered when pause_reasons is not set.
var DefaultPauseReasons = []string{"break", "lunch", "meeting", "backoffice", "training"}

// Limits of the routing keys.
const (
	MaxPriority = 100
	MaxWeight   = 100
	MaxSkill    = 5
)
