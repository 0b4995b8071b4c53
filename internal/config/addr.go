package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Listener is one parsed sip.listen entry.
type Listener struct {
	Network string // NetworkUDP, NetworkTCP, NetworkTLS, NetworkWS or NetworkWSS
	Addr    string // HOST:PORT as for net.ListenPacket / net.Listen; port 0 = any free port
}

// String returns the entry as written in the file: "udp:127.0.0.1:5060".
func (l Listener) String() string { return l.Network + ":" + l.Addr }

// Listeners parses sip.listen. It stops at the first bad entry; Validate
// reports them all.
func (s SIP) Listeners() ([]Listener, error) {
	out := make([]Listener, 0, len(s.Listen))
	for i, entry := range s.Listen {
		l, err := parseListener(entry)
		if err != nil {
			return nil, fmt.Errorf("sip.listen[%d]: %w", i, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// parseListener parses "NETWORK:HOST:PORT"; HOST is an IP literal, IPv6 in
// brackets: "tcp:[::1]:5060".
func parseListener(entry string) (Listener, error) {
	network, hostport, ok := strings.Cut(entry, ":")
	if !ok {
		return Listener{}, fmt.Errorf("want NETWORK:HOST:PORT such as \"udp:127.0.0.1:5060\" (got %q)", entry)
	}
	switch network {
	case NetworkUDP, NetworkTCP, NetworkTLS, NetworkWS, NetworkWSS:
	default:
		return Listener{}, fmt.Errorf("unsupported network %q (want udp, tcp, tls, ws or wss)", network)
	}
	ap, err := parseHostPort(hostport, false)
	if err != nil {
		return Listener{}, err
	}
	return Listener{Network: network, Addr: ap}, nil
}

// parseHostPort checks "HOST:PORT" with HOST an IP literal (or empty if
// allowEmptyHost) and a numeric port 0..65535, and returns it normalised.
func parseHostPort(s string, allowEmptyHost bool) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("want HOST:PORT (got %q)", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("port must be a number 0..65535 (got %q)", port)
	}
	if host == "" {
		if allowEmptyHost {
			return net.JoinHostPort("", port), nil
		}
		return "", errors.New("host must be an IP address (0.0.0.0 or [::] for all interfaces)")
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("host must be an IP address (got %q)", host)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// PortRange parses media.ports "MIN-MAX" and checks 1024 <= min < max <=
// 65535 with at least MinMediaPorts ports.
func (m Media) PortRange() (min, max int, err error) {
	lo, hi, ok := strings.Cut(m.Ports, "-")
	if !ok {
		return 0, 0, fmt.Errorf("want MIN-MAX such as %q (got %q)", DefaultMediaPorts, m.Ports)
	}
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("want MIN-MAX such as %q (got %q)", DefaultMediaPorts, m.Ports)
	}
	if min < MinMediaPort || max > MaxMediaPort {
		return 0, 0, fmt.Errorf("ports must be within %d..%d (got %d-%d)", MinMediaPort, MaxMediaPort, min, max)
	}
	if min >= max {
		return 0, 0, fmt.Errorf("min must be below max (got %d-%d)", min, max)
	}
	if n := max - min + 1; n < MinMediaPorts {
		return 0, 0, fmt.Errorf("range must hold at least %d ports (got %d)", MinMediaPorts, n)
	}
	return min, max, nil
}

// Prefixes parses the trunk's addresses; a bare IP becomes a /32 or /128,
// host bits of a CIDR are cleared.
func (t Trunk) Prefixes() ([]netip.Prefix, error) { return parsePrefixes("addresses", t.Addresses) }

// ExemptPrefixes parses sip.flood.exempt like Trunk.Prefixes.
func (f Flood) ExemptPrefixes() ([]netip.Prefix, error) { return parsePrefixes("exempt", f.Exempt) }

// TrustedPrefixes parses networks.trusted; never nil.
func (n Networks) TrustedPrefixes() ([]netip.Prefix, error) {
	ps, err := parsePrefixes("trusted", n.Trusted)
	if ps == nil {
		ps = []netip.Prefix{}
	}
	return ps, err
}

// parsePrefixes parses the list under key; errors name key[i].
func parsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, a := range list {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR such as 192.0.2.0/24 or an IP address (got %q)", s)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want a CIDR such as 192.0.2.0/24 or an IP address (got %q)", s)
	}
	ip = ip.Unmap() // ::ffff:192.0.2.1 matches IPv4 sources
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// LoadCertificate reads sip.tls's certificate and key. A file that cannot
// be read is a *FieldError naming its key (cert_file, key_file).
func LoadCertificate(t TLS) (tls.Certificate, error) {
	var pem [2][]byte
	for i, f := range []struct{ key, path string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return tls.Certificate{}, &FieldError{Path: f.key, Problem: fmt.Sprintf("cannot read %q: %v", f.path, errors.Unwrap(err))}
		}
		pem[i] = b
	}
	c, err := tls.X509KeyPair(pem[0], pem[1])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cert_file %q and key_file %q: %w", t.CertFile, t.KeyFile, err)
	}
	return c, nil
}
