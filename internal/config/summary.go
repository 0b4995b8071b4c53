package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// maxListed bounds the numbers and addresses listed per row.
const maxListed = 4

// Summary describes the configuration in one screen for `callwerk config
// check`: node, listeners, media, store, bus, one row per queue and per trunk.
// It never prints passwords, the pseudonym key or URL credentials.
func (c *Config) Summary() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }

	row("node", c.Node.Name)
	row("sip", strings.Join(c.SIP.Listen, " ")+", realm "+strconv.Quote(c.SIP.Realm)+", digest "+strings.Join(c.SIP.DigestAlgorithms, " then "))
	media := c.Media.Address + ", ports " + c.Media.Ports
	if lo, hi, err := c.Media.PortRange(); err == nil {
		media += fmt.Sprintf(" (%d ports)", hi-lo+1)
	}
	media += ", quarantine " + c.Media.Quarantine.String()
	if c.Media.HoldMusic == "" {
		media += ", hold music generated"
	} else {
		media += ", hold music " + c.Media.HoldMusic
	}
	row("media", media)
	row("http", c.HTTP.Listen)
	row("agents", strconv.Itoa(len(c.Agents)))
	row("store", redactURLs(c.Store))
	row("bus", redactURLs(c.Bus))
	if c.Privacy.PseudonymKey == "" {
		row("privacy", "pseudonym key random per start (pseudonyms change on restart)")
	} else {
		row("privacy", "pseudonym key set")
	}
	tw.Flush()

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row("queue", "strategy", "ring", "wrapup", "agents", "numbers")
	for _, q := range c.Queues {
		agents := 0
		for _, a := range c.Agents {
			for _, name := range a.Queues {
				if name == q.Name {
					agents++
					break
				}
			}
		}
		var numbers []string
		for _, n := range c.Numbers {
			if n.Queue != q.Name {
				continue
			}
			if n.Answer == AnswerEarly {
				numbers = append(numbers, n.Number+" (early)")
			} else {
				numbers = append(numbers, n.Number)
			}
		}
		row(q.Name, q.Strategy, q.RingTimeout.String(), q.Wrapup.String(), strconv.Itoa(agents), list(numbers))
	}
	tw.Flush()

	if len(c.Menus) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		row("menu", "keys", "default", "numbers")
		for _, m := range c.Menus {
			var keys []string
			for _, k := range slices.Sorted(maps.Keys(m.Options)) {
				keys = append(keys, k+" "+m.Options[k])
			}
			def := m.Default
			if def == "" {
				def = "goodbye"
			}
			row(m.Name, list(keys), def, list(c.numbersWhere(func(n Number) bool { return n.Menu == m.Name })))
		}
		tw.Flush()
	}
	for _, h := range c.Hours {
		numbers := c.numbersWhere(func(n Number) bool { return n.Hours == h.Name })
		land := h.Land
		if land == "" {
			land = "no holidays"
		}
		fmt.Fprintf(&b, "hours %s: %s, %s, open on %d of 7 days, %d exception dates; numbers %s\n", h.Name, h.Timezone, land, len(h.Week), len(h.Exceptions), list(numbers))
	}

	for _, q := range c.Queues {
		if cb := q.Callback; cb != nil {
			fmt.Fprintf(&b, "callback %s: key %s, over trunk %s, %d attempts %s apart, ringing %s\n",
				q.Name, cb.Key, cb.Trunk, cb.Attempts, cb.RetryAfter, cb.RingTimeout)
		}
	}

	b.WriteString("\n")
	if len(c.Trunks) == 0 {
		b.WriteString("no trunks: every INVITE must authenticate\n")
		return b.String()
	}
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row("trunk", "addresses", "outbound")
	for _, t := range c.Trunks {
		out := "-"
		if o := t.Outbound; o != nil {
			out = o.Transport + ":" + o.Address
		}
		row(t.Name, list(t.Addresses), out)
	}
	tw.Flush()
	return b.String()
}

// numbersWhere returns the numbers for which keep is true, in config order.
func (c *Config) numbersWhere(keep func(Number) bool) []string {
	var out []string
	for _, n := range c.Numbers {
		if keep(n) {
			out = append(out, n.Number)
		}
	}
	return out
}

// list joins up to maxListed items and counts the rest.
func list(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	if len(items) > maxListed {
		return fmt.Sprintf("%s +%d more", strings.Join(items[:maxListed], ", "), len(items)-maxListed)
	}
	return strings.Join(items, ", ")
}

// redactURLs shows a store or bus value without credentials or query: each
// comma-separated URL as scheme://host/path.
func redactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		parts[i] = u.Scheme + "://" + u.Host + u.EscapedPath()
		if u.User != nil {
			parts[i] = u.Scheme + "://***@" + u.Host + u.EscapedPath()
		}
		if u.RawQuery != "" {
			parts[i] += "?…"
		}
	}
	return strings.Join(parts, ",")
}
