package config

import (
	"os"
	"slices"
)

// ApplyDefaults fills every empty or zero field that has a default (see the
// Default* constants). A zero Duration counts as unset here; [Load] keeps a
// 0s that is written in the file.
func (c *Config) ApplyDefaults() {
	if t := c.Transfer; t != nil && t.CountryCode == "" {
		t.CountryCode = DefaultCountryCode
	}
	for i := range c.Queues {
		if c.Queues[i].Strategy == "" {
			c.Queues[i].Strategy = DefaultStrategy
		}
	}
	if c.Node.Name == "" {
		c.Node.Name = hostname()
	}
	if c.Node.Lease == 0 {
		c.Node.Lease = Duration(DefaultLease)
	}
	if c.Node.DrainTimeout == 0 {
		c.Node.DrainTimeout = Duration(DefaultDrainTimeout)
	}
	if len(c.SIP.Listen) == 0 {
		c.SIP.Listen = []string{NetworkUDP + ":" + DefaultSIPListen, NetworkTCP + ":" + DefaultSIPListen}
	}
	if c.SIP.Realm == "" {
		c.SIP.Realm = DefaultRealm
	}
	if c.SIP.MaxCalls == 0 {
		c.SIP.MaxCalls = DefaultMaxCalls // restoreZeros keeps an explicit 0 (no limit)
	}
	if c.SIP.Keepalive == 0 {
		c.SIP.Keepalive = Duration(DefaultKeepalive)
	}
	if c.SIP.MaxRegistrations == 0 {
		c.SIP.MaxRegistrations = DefaultMaxRegistrations
	}
	if c.SIP.Flood.Requests == 0 {
		c.SIP.Flood.Requests = DefaultFloodRequests
	}
	if c.SIP.Flood.Window == 0 {
		c.SIP.Flood.Window = Duration(DefaultFloodWindow)
	}
	if c.SIP.Flood.Ban == 0 {
		c.SIP.Flood.Ban = Duration(DefaultFloodBan)
	}
	if c.SIP.AuthLockout.Failures == 0 {
		c.SIP.AuthLockout.Failures = DefaultLockoutFailures
	}
	if c.SIP.AuthLockout.Window == 0 {
		c.SIP.AuthLockout.Window = Duration(DefaultLockoutWindow)
	}
	if c.SIP.AuthLockout.Block == 0 {
		c.SIP.AuthLockout.Block = Duration(DefaultLockoutBlock)
	}
	if c.SIP.Connections.PerIP == 0 {
		c.SIP.Connections.PerIP = DefaultConnsPerIP
	}
	if c.SIP.Connections.FirstMessage == 0 {
		c.SIP.Connections.FirstMessage = Duration(DefaultFirstMessageTimeout)
	}
	if c.SIP.MaxMessageSize == 0 {
		c.SIP.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Networks.Trusted == nil { // an explicit [] trusts nothing
		c.Networks.Trusted = slices.Clone(DefaultTrusted)
	}
	if len(c.SIP.DigestAlgorithms) == 0 {
		c.SIP.DigestAlgorithms = append([]string(nil), DefaultDigestAlgorithms...)
	}
	if c.Media.Timeout == 0 {
		c.Media.Timeout = Duration(DefaultMediaTimeout) // restoreZeros keeps an explicit 0s
	}
	if c.Media.Address == "" {
		c.Media.Address = DefaultMediaAddr
	}
	if c.Media.Ports == "" {
		c.Media.Ports = DefaultMediaPorts
	}
	if c.Media.Quarantine == 0 {
		c.Media.Quarantine = Duration(DefaultQuarantine)
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultHTTPListen
	}
	if c.Store == "" {
		c.Store = DefaultStore
	}
	if c.Bus == "" {
		c.Bus = DefaultBus
	}
	if len(c.PauseReasons) == 0 {
		c.PauseReasons = append([]string(nil), DefaultPauseReasons...)
	}
	for i := range c.Hours {
		if c.Hours[i].Timezone == "" {
			c.Hours[i].Timezone = DefaultTimezone
		}
	}
	for i := range c.Menus {
		if c.Menus[i].Timeout == 0 {
			c.Menus[i].Timeout = Duration(DefaultMenuTimeout)
		}
		if c.Menus[i].Attempts == 0 {
			c.Menus[i].Attempts = DefaultMenuAttempts
		}
	}
	for i := range c.Numbers {
		if e := c.Numbers[i].Emergency; e != nil && e.Then == "" {
			e.Then = EmergencyQueue
		}
		if c.Numbers[i].Answer == "" {
			c.Numbers[i].Answer = DefaultAnswer
		}
	}
	for i := range c.Trunks {
		if o := c.Trunks[i].Outbound; o != nil && o.Transport == "" {
			o.Transport = NetworkUDP
		}
	}
	for i := range c.Queues {
		q := &c.Queues[i]
		if cb := q.Callback; cb != nil {
			cb.withDefaults()
		}
		if q.RingTimeout == 0 {
			q.RingTimeout = Duration(DefaultRingTimeout)
		}
		if q.RingStep == 0 {
			q.RingStep = Duration(DefaultRingStep)
		}
		if q.Wrapup == 0 {
			q.Wrapup = Duration(DefaultWrapup)
		}
		if q.MaxMisses == 0 {
			q.MaxMisses = DefaultMaxMisses
		}
		if q.RejectBackoff == 0 {
			q.RejectBackoff = Duration(DefaultRejectBackoff)
		}
		if !q.LeaveWhenEmpty {
			q.LeaveWhenEmpty = true // restoreZeros keeps an explicit false
		}
		if q.Announce == "" {
			q.Announce = AnnouncePositionWait
		}
		if q.AnnounceFirst == 0 {
			q.AnnounceFirst = Duration(DefaultAnnounceFirst) // restoreZeros keeps an explicit 0s
		}
		if q.AnnounceEvery == 0 {
			q.AnnounceEvery = Duration(DefaultAnnounceEvery)
		}
	}
}

// hostname returns the short host name, or DefaultNodeName if it cannot be
// read or is not a valid node name.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || !nodeNameRE.MatchString(h) {
		return DefaultNodeName
	}
	return h
}

func (cb *Callback) withDefaults() {
	if cb.Key == "" {
		cb.Key = DefaultCallbackKey
	}
	if cb.Attempts == 0 {
		cb.Attempts = DefaultCallbackAttempts
	}
	if cb.RetryAfter == 0 {
		cb.RetryAfter = Duration(DefaultCallbackRetryAfter)
	}
	if cb.RingTimeout == 0 {
		cb.RingTimeout = Duration(DefaultCallbackRingTimeout)
	}
	if cb.CountryCode == "" {
		cb.CountryCode = DefaultCountryCode
	}
}
