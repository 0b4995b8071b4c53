package queues_test

import (
	"testing"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/queues"
)

func TestMemoryStore(t *testing.T) {
	testStore(t, func() acd.Store { return queues.NewMemory() })
}
