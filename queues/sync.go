package queues

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callwerk/callwerk/acd"
)

var _ acd.Replicator = (*Sync)(nil)

// SubjectSync carries every node's store writes (JSON acd.Change) to the
// other nodes' routing views. It is internal to a cluster: records hold
// agents' routing state, never caller numbers. Core NATS is at-most-once;
// a lost change is repaired by the receiving node's next resync
// (acd.ResyncInterval).
const SubjectSync = "callwerk.sync.changes"

// Sync passes ACD changes between nodes over NATS.
type Sync struct {
	nc  *nats.Conn
	sub *nats.Subscription
	log zerolog.Logger
}

// NewSync returns a replicator that publishes on nc.
func NewSync(nc *nats.Conn, log zerolog.Logger) *Sync {
	return &Sync{nc: nc, log: log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second})}
}

// Publish sends ch to the other nodes. It never blocks on the network.
func (s *Sync) Publish(ch acd.Change) {
	data, err := json.Marshal(ch)
	if err == nil {
		err = s.nc.Publish(SubjectSync, data)
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("change not published")
	}
}

// Subscribe delivers the other nodes' changes to apply, in order, on the
// NATS client's goroutine, until Close. apply must not block for long.
func (s *Sync) Subscribe(apply func(acd.Change)) error {
	sub, err := s.nc.Subscribe(SubjectSync, func(m *nats.Msg) {
		var ch acd.Change
		if err := json.Unmarshal(m.Data, &ch); err != nil {
			s.log.Warn().Err(err).Msg("bad change on the bus")
			return
		}
		apply(ch)
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", SubjectSync, err)
	}
	// A busy node must not be cut off for a slow consumer: changes are
	// small, and the view is repaired by resyncs anyway.
	if err := sub.SetPendingLimits(-1, 64<<20); err != nil {
		return fmt.Errorf("subscribe %s: %w", SubjectSync, err)
	}
	s.sub = sub
	return s.nc.Flush()
}

// Close stops delivering changes.
func (s *Sync) Close() {
	if s.sub != nil {
		_ = s.sub.Unsubscribe()
	}
}
