package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/callwerk/callwerk/internal/schedule"
)

// FieldError is one problem with one key. Path uses the YAML names with list
// indexes: "agents[2].queues[0]".
type FieldError struct {
	Path    string // key path; empty for the document as a whole
	Problem string // what is wrong, with the offending value where it is not secret
}

// Error returns "PATH: PROBLEM".
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

var (
	nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	nameRE     = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`) // queues and trunks
	agentIDRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	numberRE   = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)
)

// Validate checks the whole configuration, defaults already applied, and
// returns every problem at once: errors.Join of *FieldError, nil if none.
// It reads media.hold_music to check that the file is a readable WAV file.
func (c *Config) Validate() error {
	v := &validator{}
	v.node(c.Node)
	v.sip(c.SIP)
	v.media(c.Media)
	v.http(c.HTTP)
	v.store(c.Store)
	v.bus(c.Bus)
	v.privacy(c.Privacy)
	if _, err := c.Networks.TrustedPrefixes(); err != nil {
		v.add("networks", "%v", err)
	}
	v.trunks(c.Trunks)
	queues := v.queues(c.Queues)
	v.callbacks(c.Queues, c.Trunks)
	menus := v.menus(c.Menus, queues)
	hours := v.hours(c.Hours)
	v.numbers(c.Numbers, queues, menus, hours)
	v.agents(c.Agents, queues)
	v.forwards(c.Agents, c.Trunks)
	if t := c.Transfer; t != nil {
		v.outboundTrunk("transfer.trunk", t.Trunk, "transfers to outside numbers", c.Trunks)
		if !countryCodeRE.MatchString(t.CountryCode) {
			v.add("transfer.country_code", "must be a country calling code without + or 00, such as 49 (got %q)", t.CountryCode)
		}
	}
	v.pauseReasons(c.PauseReasons)
	return errors.Join(v.errs...)
}

// featureCodeRE matches the feature codes agents dial (sip/feature.go).
var featureCodeRE = regexp.MustCompile(`^\*2[13]$|^\*22[0-9]*$`)

// pauseReasons checks the list of pause reasons: names like queue names,
// unique, not the automatic pause's reason.
func (v *validator) pauseReasons(rs []string) {
	seen := map[string]int{}
	for i, r := range rs {
		path := fmt.Sprintf("pause_reasons[%d]", i)
		switch first, dup := seen[r]; {
		case !nameRE.MatchString(r):
			v.add(path, "must be 1 to 32 lower-case letters, digits, '_' or '-' (got %q)", r)
		case r == "no-answer":
			v.add(path, `"no-answer" is reserved for the automatic pause after missed calls`)
		case dup:
			v.add(path, "duplicate of pause_reasons[%d]", first)
		default:
			seen[r] = i
		}
	}
}

type validator struct {
	errs []error
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

// tls checks sip.tls, which the listener at path needs: both files given,
// readable, PEM, and the key the certificate's.
func (v *validator) tls(t TLS, path string) {
	switch {
	case t.CertFile == "":
		v.add("sip.tls.cert_file", "is required by the tls or wss listener %s", path)
	case t.KeyFile == "":
		v.add("sip.tls.key_file", "is required by the tls or wss listener %s", path)
	default:
		if _, err := LoadCertificate(t); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				v.add("sip.tls."+fe.Path, "%s", fe.Problem)
			} else {
				v.add("sip.tls", "%v", err)
			}
		}
	}
}

func (v *validator) node(n Node) {
	if !nodeNameRE.MatchString(n.Name) {
		v.add("node.name", "must be 1 to 64 letters, digits, '.', '_' or '-' (got %q)", n.Name)
	}
	if n.SIPAddress != "" {
		if l, err := parseListener(n.SIPAddress); err != nil {
			v.add("node.sip_address", "%v", err)
		} else if l.Network != NetworkUDP && l.Network != NetworkTCP {
			v.add("node.sip_address", "must be udp or tcp: nodes reach each other over the trusted network (got %q)", n.SIPAddress)
		} else if ap := netip.MustParseAddrPort(l.Addr); ap.Addr().IsUnspecified() || ap.Port() == 0 {
			v.add("node.sip_address", "must name the IP address and port other nodes reach (got %q)", n.SIPAddress)
		}
	}
	if k := len(n.Secret); k > 0 && k < MinNodeSecretLen {
		v.add("node.secret", "must be at least %d characters (got %d)", MinNodeSecretLen, k)
	}
	if d := n.Lease.D(); d < time.Second || d > time.Minute {
		v.add("node.lease", "must be between 1s and 60s (got %s)", d)
	}
	if d := n.DrainTimeout.D(); d < time.Second || d > time.Hour {
		v.add("node.drain_timeout", "must be between 1s and 1h (got %s)", d)
	}
}

func (v *validator) sip(s SIP) {
	if len(s.Listen) == 0 {
		v.add("sip.listen", "at least one listener is required")
	}
	seen := map[Listener]int{}
	secure := ""
	for i, entry := range s.Listen {
		path := fmt.Sprintf("sip.listen[%d]", i)
		l, err := parseListener(entry)
		if err != nil {
			v.add(path, "%v", err)
			continue
		}
		if Secure(l.Network) && secure == "" {
			secure = path
		}
		if first, dup := seen[l]; dup && !strings.HasSuffix(l.Addr, ":0") {
			v.add(path, "duplicate of sip.listen[%d]", first)
			continue
		}
		seen[l] = i
	}
	if secure != "" {
		v.tls(s.TLS, secure)
	}
	switch {
	case s.Realm == "":
		v.add("sip.realm", "must not be empty")
	case strings.ContainsAny(s.Realm, `"\`) || hasControl(s.Realm):
		// The realm goes into WWW-Authenticate as a quoted string.
		v.add("sip.realm", "must not contain quotes, backslashes or control characters")
	}
	if s.MaxCalls < 0 {
		v.add("sip.max_calls", "must be 0 (no limit) or more (got %d)", s.MaxCalls)
	}
	if s.MaxCallRate < 0 {
		v.add("sip.max_call_rate", "must be 0 (no limit) or more (got %d)", s.MaxCallRate)
	}
	if d := s.Keepalive.D(); d < time.Second || d > 10*time.Minute {
		v.add("sip.keepalive", "must be between 1s and 10m (got %s)", d)
	}
	if s.MaxRegistrations < 0 || s.MaxRegistrations > MaxMaxRegistrations {
		v.add("sip.max_registrations", "must be between 1 and %d (got %d)", MaxMaxRegistrations, s.MaxRegistrations)
	}
	switch f := s.Flood; {
	case f.Requests < 1 || f.Requests > 100000:
		v.add("sip.flood.requests", "must be between 1 and 100000 (got %d)", f.Requests)
	case f.Window.D() < 100*time.Millisecond || f.Window.D() > time.Hour:
		v.add("sip.flood.window", "must be between 100ms and 1h (got %s)", f.Window.D())
	case f.Ban.D() < time.Second || f.Ban.D() > 24*time.Hour:
		v.add("sip.flood.ban", "must be between 1s and 24h (got %s)", f.Ban.D())
	}
	switch l := s.AuthLockout; {
	case l.Failures < 1 || l.Failures > 1000:
		v.add("sip.auth_lockout.failures", "must be between 1 and 1000 (got %d)", l.Failures)
	case l.Window.D() < time.Minute || l.Window.D() > 24*time.Hour:
		v.add("sip.auth_lockout.window", "must be between 1m and 24h (got %s)", l.Window.D())
	case l.Block.D() < time.Minute || l.Block.D() > 24*time.Hour:
		v.add("sip.auth_lockout.block", "must be between 1m and 24h (got %s)", l.Block.D())
	}
	switch c := s.Connections; {
	case c.PerIP < 1 || c.PerIP > 10000:
		v.add("sip.connections.per_ip", "must be between 1 and 10000 (got %d)", c.PerIP)
	case c.FirstMessage.D() < time.Second || c.FirstMessage.D() > 5*time.Minute:
		v.add("sip.connections.first_message_timeout", "must be between 1s and 5m (got %s)", c.FirstMessage.D())
	}
	if s.MaxMessageSize < 1024 || s.MaxMessageSize > 65535 {
		v.add("sip.max_message_size", "must be between 1024 and 65535 bytes (got %d)", s.MaxMessageSize)
	}
	if _, err := s.Flood.ExemptPrefixes(); err != nil {
		v.add("sip.flood", "%v", err)
	}
	if len(s.DigestAlgorithms) == 0 {
		v.add("sip.digest_algorithms", "must name at least one of SHA-256, MD5")
	}
	algs := map[string]bool{}
	for i, a := range s.DigestAlgorithms {
		path := fmt.Sprintf("sip.digest_algorithms[%d]", i)
		switch {
		case a != "SHA-256" && a != "MD5":
			v.add(path, "must be SHA-256 or MD5 (got %q)", a)
		case algs[a]:
			v.add(path, "duplicate %s", a)
		}
		algs[a] = true
	}
}

func (v *validator) media(m Media) {
	switch ip, err := netip.ParseAddr(m.Address); {
	case m.Address == "":
		v.add("media.address", "must be set to the IP address the relay binds and advertises in SDP")
	case err != nil:
		v.add("media.address", "must be an IP address (got %q)", m.Address)
	case ip.IsUnspecified():
		v.add("media.address", "must be a concrete IP address, not %s: it is advertised in SDP", m.Address)
	case ip.IsMulticast():
		v.add("media.address", "must not be a multicast address (got %s)", m.Address)
	case ip.Zone() != "":
		v.add("media.address", "must not carry a zone (got %s)", m.Address)
	}
	if _, _, err := m.PortRange(); err != nil {
		v.add("media.ports", "%v", err)
	}
	if q := m.Quarantine.D(); q < 0 || q > MaxQuarantine {
		v.add("media.quarantine", "must be between 0s and %s (got %s)", fmtLimit(MaxQuarantine), fmtDur(q))
	}
	if d := m.Timeout.D(); d != 0 && (d < time.Second || d > 10*time.Minute) {
		v.add("media.timeout", "must be 0s (never) or between 1s and 10m (got %s)", d)
	}
	if m.HoldMusic != "" {
		if err := checkWAV(m.HoldMusic); err != nil {
			v.add("media.hold_music", "%v", err)
		}
	}
}

// checkWAV checks that path is a readable regular file with a RIFF/WAVE
// header. The player checks the audio format when it loads the file.
func checkWAV(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("cannot use %q: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", path, unwrapPath(err))
	}
	defer f.Close()
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return fmt.Errorf("%q is not a WAV file (no RIFF/WAVE header)", path)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (v *validator) http(h HTTP) {
	if _, err := parseHostPort(h.Listen, true); err != nil {
		v.add("http.listen", "%v", err)
	}
	if n := len(h.APIToken); n > 0 && n < MinAPITokenLen {
		v.add("http.api_token", "must be at least %d characters (got %d)", MinAPITokenLen, n)
	}
}

func (v *validator) store(s string) {
	if s == StoreMemory {
		return
	}
	if err := checkURL(s, "redis", "rediss"); err != nil {
		v.add("store", "must be %q or a redis:// or rediss:// URL: %v", StoreMemory, err)
	}
}

func (v *validator) bus(s string) {
	if s == BusEmbedded {
		return
	}
	// The NATS client takes a comma-separated list of cluster members.
	for _, u := range strings.Split(s, ",") {
		if err := checkURL(strings.TrimSpace(u), "nats", "tls"); err != nil {
			v.add("bus", "must be %q or a nats:// or tls:// URL: %v", BusEmbedded, err)
			return
		}
	}
}

// checkURL checks that s is an absolute URL with one of schemes and a host.
// Its messages never repeat s: it may hold a password.
func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("cannot parse it")
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	switch {
	case u.Scheme == "":
		return errors.New("no scheme")
	case !ok:
		return fmt.Errorf("unsupported scheme %q", u.Scheme)
	case u.Host == "":
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	}
	return nil
}

func (v *validator) privacy(p Privacy) {
	if n := len([]rune(p.PseudonymKey)); n > 0 && n < MinPseudonymKeyLen {
		v.add("privacy.pseudonym_key", "must be at least %d characters or empty (got %d)", MinPseudonymKeyLen, n)
	}
}

func (v *validator) trunks(ts []Trunk) {
	type owner struct {
		path   string
		prefix netip.Prefix
	}
	var all []owner
	names := map[string]int{}
	for i, t := range ts {
		path := fmt.Sprintf("trunks[%d]", i)
		v.name(path+".name", t.Name, "trunks", names, i)
		if len(t.Addresses) == 0 {
			v.add(path+".addresses", "at least one address is required")
		}
		for j, a := range t.Addresses {
			ap := fmt.Sprintf("%s.addresses[%d]", path, j)
			p, err := parsePrefix(a)
			if err != nil {
				v.add(ap, "%v", err)
				continue
			}
			// A source address must name one trunk.
			for _, o := range all {
				if o.prefix.Overlaps(p) {
					v.add(ap, "%s overlaps %s (%s)", p, o.path, o.prefix)
					break
				}
			}
			all = append(all, owner{ap, p})
		}
		if t.Outbound != nil {
			v.outbound(path+".outbound", *t.Outbound, t)
		}
	}
}

// e164RE is an international number: +, country code, at most 15 digits.
var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (v *validator) outbound(path string, o Outbound, t Trunk) {
	if ap, err := netip.ParseAddrPort(o.Address); err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
		v.add(path+".address", "must be the carrier's IP address and port, such as 192.0.2.10:5060 (got %q)", o.Address)
	} else if ps, err := t.Prefixes(); err == nil && !slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(ap.Addr().Unmap()) }) {
		v.add(path+".address", "%s is not within the trunk's addresses: its answers would be refused", ap.Addr())
	}
	if o.Transport != NetworkUDP && o.Transport != NetworkTCP {
		v.add(path+".transport", "must be %q or %q (got %q)", NetworkUDP, NetworkTCP, o.Transport)
	}
	if !e164RE.MatchString(o.From) {
		v.add(path+".from", "must be an international number such as +4930123456 (got %q)", o.From)
	}
	if (o.Username == "") != (o.Password == "") {
		v.add(path+".password", "username and password go together: set both or neither")
	}
}

// callbacks checks the queues' callback offers against the trunks.
func (v *validator) callbacks(qs []Queue, ts []Trunk) {
	for i, q := range qs {
		cb := q.Callback
		if cb == nil {
			continue
		}
		path := fmt.Sprintf("queues[%d].callback", i)
		v.outboundTrunk(path+".trunk", cb.Trunk, "callbacks", ts)
		if !menuKeyRE.MatchString(cb.Key) {
			v.add(path+".key", "must be one of 0-9, * or # (got %q)", cb.Key)
		}
		if cb.Attempts < 1 || cb.Attempts > 10 {
			v.add(path+".attempts", "must be between 1 and 10 (got %d)", cb.Attempts)
		}
		if d := cb.RetryAfter.D(); d < 30*time.Second || d > 2*time.Hour {
			v.add(path+".retry_after", "must be between 30s and 2h (got %s)", fmtDur(d))
		}
		if d := cb.RingTimeout.D(); d < 10*time.Second || d > 2*time.Minute {
			v.add(path+".ring_timeout", "must be between 10s and 2m (got %s)", fmtDur(d))
		}
		if !countryCodeRE.MatchString(cb.CountryCode) {
			v.add(path+".country_code", "must be a country calling code without + or 00, such as 49 (got %q)", cb.CountryCode)
		}
	}
}

var countryCodeRE = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)

// queues checks the queues and returns the set of names.
func (v *validator) queues(qs []Queue) map[string]bool {
	if len(qs) == 0 {
		v.add("queues", "at least one queue is required")
	}
	names := map[string]int{}
	set := make(map[string]bool, len(qs))
	for i, q := range qs {
		path := fmt.Sprintf("queues[%d]", i)
		v.name(path+".name", q.Name, "queues", names, i)
		set[q.Name] = true
		switch q.Announce {
		case "", AnnouncePositionWait, AnnouncePosition, AnnounceWait: // "" before defaults: position+wait
		default:
			v.add(path+".announce", "must be %q, %q or %q (got %q)", AnnouncePositionWait, AnnouncePosition, AnnounceWait, q.Announce)
		}
		if d := q.AnnounceFirst.D(); d != 0 && (d < time.Second || d > 10*time.Minute) {
			v.add(path+".announce_first", "must be 0s (no announcements) or between 1s and 10m (got %s)", d)
		}
		if d := q.AnnounceEvery.D(); d != 0 && (d < 5*time.Second || d > 30*time.Minute) {
			v.add(path+".announce_every", "must be 0s (only once) or between 5s and 30m (got %s)", d)
		}
		if q.Greeting != "" && q.Greeting != GreetingNone {
			if err := checkWAV(q.Greeting); err != nil {
				v.add(path+".greeting", "%v", err)
			}
		}
		if d := q.RingTimeout.D(); d < MinRingTimeout || d > MaxRingTimeout {
			v.add(path+".ring_timeout", "must be between %s and %s (got %s)", fmtLimit(MinRingTimeout), fmtLimit(MaxRingTimeout), fmtDur(d))
		}
		if d := q.Wrapup.D(); d < 0 || d > MaxWrapup {
			v.add(path+".wrapup", "must be between 0s and %s (got %s)", fmtLimit(MaxWrapup), fmtDur(d))
		}
		if d := q.RingStep.D(); d != 0 && (d < time.Second || d > time.Minute) { // 0: the default applies
			v.add(path+".ring_step", "must be between 1s and 60s (got %s)", fmtDur(d))
		}
		if q.Strategy != "" && !slices.Contains(Strategies, q.Strategy) { // "" is the default
			v.add(path+".strategy", "must be one of %s (got %q)", strings.Join(Strategies, ", "), q.Strategy)
		}
		if q.MaxMisses < 0 || q.MaxMisses > 100 {
			v.add(path+".max_misses", "must be between 0 and 100 (got %d)", q.MaxMisses)
		}
		if d := q.RejectBackoff.D(); d < 0 || d > MaxRejectBackoff {
			v.add(path+".reject_backoff", "must be between 0s and %s (got %s)", fmtLimit(MaxRejectBackoff), fmtDur(d))
		}
		if d := q.MaxWait.D(); d < 0 || d > MaxMaxWait {
			v.add(path+".max_wait", "must be between 0s and %s (got %s)", fmtLimit(MaxMaxWait), fmtDur(d))
		}
		if q.Overflow != "" && q.MaxWait == 0 {
			v.add(path+".overflow", "needs max_wait: a call overflows after waiting that long")
		}
		if q.Overflow == q.Name && q.Name != "" {
			v.add(path+".overflow", "must name another queue")
		}
		if q.MaxLength < 0 || q.MaxLength > MaxQueueLength {
			v.add(path+".max_length", "must be between 0 and %d (got %d)", MaxQueueLength, q.MaxLength)
		}
		if q.Weight < 0 || q.Weight > MaxWeight {
			v.add(path+".weight", "must be between 0 and %d (got %d)", MaxWeight, q.Weight)
		}
		v.skills(path+".skills", q.Skills)
		prev, prevAfter := q.Skills, time.Duration(0)
		for j, w := range q.Widen {
			wp := fmt.Sprintf("%s.widen[%d]", path, j)
			if w.After.D() <= prevAfter {
				v.add(wp+".after", "must be later than %s (got %s)", fmtDur(prevAfter), fmtDur(w.After.D()))
			}
			v.skills(wp+".skills", w.Skills)
			for _, s := range sortedKeys(w.Skills) {
				if was, ok := prev[s]; !ok || w.Skills[s] > was {
					v.add(wp+".skills."+s, "a widening step may only lower requirements (before: %d, here: %d)", prev[s], w.Skills[s])
				}
			}
			prev, prevAfter = w.Skills, w.After.D()
		}
	}
	for i, q := range qs {
		if q.Overflow != "" && q.Overflow != q.Name {
			v.queueRef(fmt.Sprintf("queues[%d].overflow", i), q.Overflow, set)
		}
	}
	v.overflowCycles(qs)
	return set
}

// overflowCycles refuses overflow chains that come back to a queue: a call
// keeps its age when it overflows, so it would move round for ever.
func (v *validator) overflowCycles(qs []Queue) {
	next := map[string]string{}
	for _, q := range qs {
		next[q.Name] = q.Overflow
	}
	for i, q := range qs {
		seen := map[string]bool{q.Name: true}
		for n := next[q.Name]; n != ""; n = next[n] {
			if seen[n] {
				v.add(fmt.Sprintf("queues[%d].overflow", i), "overflow chain from %q comes back to %q", q.Name, n)
				break
			}
			seen[n] = true
		}
	}
}

// skills checks a skill map: names like queue names, levels 1..MaxSkill.
func (v *validator) skills(path string, m map[string]int) {
	for _, s := range sortedKeys(m) {
		if !nameRE.MatchString(s) {
			v.add(path, "skill names must be 1 to 32 lower-case letters, digits, '_' or '-' (got %q)", s)
		}
		if l := m[s]; l < 1 || l > MaxSkill {
			v.add(path+"."+s, "level must be between 1 and %d (got %d)", MaxSkill, l)
		}
	}
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

// name checks a queue or trunk name and its uniqueness among kind.
func (v *validator) name(path, name, kind string, seen map[string]int, i int) {
	switch first, dup := seen[name]; {
	case name == "":
		v.add(path, "must not be empty")
	case !nameRE.MatchString(name):
		v.add(path, "must be 1 to 32 lower-case letters, digits, '_' or '-' (got %q)", name)
	case dup:
		v.add(path, "duplicate name %q (also %s[%d])", name, kind, first)
	default:
		seen[name] = i
	}
}

// menuKeyRE matches a menu option's key.
var menuKeyRE = regexp.MustCompile(`^[0-9*#]$`)

func (v *validator) menus(ms []Menu, queues map[string]bool) map[string]bool {
	seen := map[string]int{}
	for i, m := range ms {
		path := fmt.Sprintf("menus[%d]", i)
		v.name(path+".name", m.Name, "menus", seen, i)
		if m.Prompt == "" {
			v.add(path+".prompt", "must name a WAV file")
		} else if err := checkWAV(m.Prompt); err != nil {
			v.add(path+".prompt", "%v", err)
		}
		if len(m.Options) == 0 {
			v.add(path+".options", "must map at least one key to a queue")
		}
		for _, k := range slices.Sorted(maps.Keys(m.Options)) {
			if !menuKeyRE.MatchString(k) {
				v.add(path+".options", "key %q must be one of 0-9, * or #", k)
				continue
			}
			v.queueRef(path+".options."+k, m.Options[k], queues)
		}
		if m.Timeout.D() < time.Second || m.Timeout.D() > time.Minute {
			v.add(path+".timeout", "must be between 1s and 60s (got %s)", m.Timeout.D())
		}
		if m.Attempts < 1 || m.Attempts > 6 {
			v.add(path+".attempts", "must be between 1 and 6 (got %d)", m.Attempts)
		}
		if m.Default != "" {
			v.queueRef(path+".default", m.Default, queues)
		}
	}
	out := make(map[string]bool, len(seen))
	for name := range seen {
		out[name] = true
	}
	return out
}

func (v *validator) hours(hs []Hours) map[string]bool {
	seen := map[string]int{}
	for i, h := range hs {
		path := fmt.Sprintf("hours[%d]", i)
		v.name(path+".name", h.Name, "hours", seen, i)
		zone := h.Timezone
		if zone == "" {
			zone = DefaultTimezone
		}
		if _, err := schedule.New(zone, h.Land, h.Week, h.Exceptions); err != nil {
			for _, e := range unjoin(err) {
				v.add(path, "%v", e)
			}
		}
		if len(h.Week) == 0 {
			v.add(path+".week", "must give the opening times of at least one weekday")
		}
		if h.ClosedPrompt != "" {
			if err := checkWAV(h.ClosedPrompt); err != nil {
				v.add(path+".closed_prompt", "%v", err)
			}
		}
	}
	out := make(map[string]bool, len(seen))
	for name := range seen {
		out[name] = true
	}
	return out
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (v *validator) numbers(ns []Number, queues, menus, hours map[string]bool) {
	seen := map[string]int{}
	for i, n := range ns {
		path := fmt.Sprintf("numbers[%d]", i)
		switch first, dup := seen[n.Number]; {
		case n.Number == "":
			v.add(path+".number", "must not be empty")
		case !numberRE.MatchString(n.Number):
			v.add(path+".number", "must be up to 32 digits, '*' or '#', with an optional leading '+' (got %q)", n.Number)
		case featureCodeRE.MatchString(n.Number):
			v.add(path+".number", "%q is an agent feature code (*21, *22, *22N, *23)", n.Number)
		case dup:
			v.add(path+".number", "duplicate number %q (also numbers[%d])", n.Number, first)
		default:
			seen[n.Number] = i
		}
		switch {
		case n.Menu != "" && n.Queue != "":
			v.add(path, "names both a queue and a menu: one of them")
		case n.Menu != "" && !menus[n.Menu]:
			v.add(path+".menu", "unknown menu %q", n.Menu)
		case n.Menu == "":
			v.queueRef(path+".queue", n.Queue, queues)
		}
		if e := n.Emergency; e != nil {
			if err := checkWAV(e.Prompt); e.Prompt == "" {
				v.add(path+".emergency.prompt", "must name a WAV file")
			} else if err != nil {
				v.add(path+".emergency.prompt", "%v", err)
			}
			switch e.Then {
			case "", EmergencyQueue, EmergencyHangup:
			default:
				v.add(path+".emergency.then", "must be %q or %q (got %q)", EmergencyQueue, EmergencyHangup, e.Then)
			}
		}
		if n.Hours != "" && !hours[n.Hours] {
			v.add(path+".hours", "unknown hours %q", n.Hours)
		}
		switch n.Answer {
		case AnswerImmediate, AnswerEarly:
		default:
			v.add(path+".answer", "must be %q or %q (got %q)", AnswerImmediate, AnswerEarly, n.Answer)
		}
		if n.Priority < 0 || n.Priority > MaxPriority {
			v.add(path+".priority", "must be between 0 and %d (got %d)", MaxPriority, n.Priority)
		}
	}
}

func (v *validator) agents(as []Agent, queues map[string]bool) {
	seen := map[string]int{}
	for i, a := range as {
		path := fmt.Sprintf("agents[%d]", i)
		switch first, dup := seen[a.ID]; {
		case a.ID == "":
			v.add(path+".id", "must not be empty")
		case !agentIDRE.MatchString(a.ID):
			v.add(path+".id", "must be 1 to 64 letters, digits, '.', '_' or '-' (got %q)", a.ID)
		case dup:
			v.add(path+".id", "duplicate id %q (also agents[%d])", a.ID, first)
		default:
			seen[a.ID] = i
		}
		// Never echo the password.
		switch n := len([]rune(a.Password)); {
		case n < MinPasswordLen:
			v.add(path+".password", "must be at least %d characters (got %d)", MinPasswordLen, n)
		case hasControl(a.Password):
			v.add(path+".password", "must not contain control characters")
		}
		if len(a.Queues) == 0 {
			v.add(path+".queues", "at least one queue is required")
		}
		member := map[string]int{}
		for j, q := range a.Queues {
			qp := fmt.Sprintf("%s.queues[%d]", path, j)
			if first, dup := member[q]; dup {
				v.add(qp, "duplicate of %s.queues[%d]", path, first)
				continue
			}
			member[q] = j
			v.queueRef(qp, q, queues)
		}
		v.skills(path+".skills", a.Skills)
	}
}

// forwards checks the agents' forwarding against the trunks.
func (v *validator) forwards(as []Agent, ts []Trunk) {
	for i, a := range as {
		f := a.Forward
		if f == nil {
			continue
		}
		path := fmt.Sprintf("agents[%d].forward", i)
		if !e164RE.MatchString(f.Number) {
			v.add(path+".number", "must be an international number: +, country code, up to 15 digits (got %q)", f.Number)
		}
		v.outboundTrunk(path+".trunk", f.Trunk, "the agent's calls", ts)
	}
}

// outboundTrunk checks that name (at path) is a trunk calls can go out
// over: what says who uses it.
func (v *validator) outboundTrunk(path, name, what string, ts []Trunk) {
	ti := slices.IndexFunc(ts, func(t Trunk) bool { return t.Name == name })
	switch {
	case name == "":
		v.add(path, "must name the trunk %s go out over", what)
	case ti < 0:
		v.add(path, "no trunk named %q", name)
	case ts[ti].Outbound == nil:
		v.add(path, "trunk %q has no outbound: set trunks[%d].outbound", name, ti)
	}
}

func (v *validator) queueRef(path, name string, queues map[string]bool) {
	switch {
	case name == "":
		v.add(path, "must name a queue")
	case !queues[name]:
		v.add(path, "unknown queue %q", name)
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// fmtLimit prints a limit as the documentation writes it: whole seconds
// below ten minutes ("120s", "60s"), else short ("10m").
func fmtLimit(d time.Duration) string {
	if d < 10*time.Minute && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmtDur(d)
}

// fmtDur prints whole minutes and hours short: "10m", "1h" rather than
// "10m0s", "1h0m0s".
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
