package loadtest

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram buckets: 10 µs wide up to 10 ms, then 1 ms wide up to 1 s;
// longer delays go to the last bucket. Percentiles are read as a bucket's
// upper edge, so they err high by at most one bucket.
const (
	fineWidth   = 10 * time.Microsecond
	fineBuckets = 1000 // up to 10 ms
	wideWidth   = time.Millisecond
	wideBuckets = 990 // 10 ms .. 1 s
)

// Histogram counts durations in fixed buckets with atomic counters, so
// many receivers can record into one without locks or allocation.
type Histogram struct {
	b   [fineBuckets + wideBuckets + 1]atomic.Uint64
	n   atomic.Uint64
	max atomic.Int64
}

// Record counts d; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	var i int
	if d < fineBuckets*fineWidth {
		i = int(d / fineWidth)
	} else {
		i = min(fineBuckets+int((d-fineBuckets*fineWidth)/wideWidth), len(h.b)-1)
	}
	h.b[i].Add(1)
	h.n.Add(1)
	for m := h.max.Load(); int64(d) > m && !h.max.CompareAndSwap(m, int64(d)); m = h.max.Load() {
	}
}

// upper is bucket i's upper edge.
func upper(i int) time.Duration {
	if i < fineBuckets {
		return time.Duration(i+1) * fineWidth
	}
	return fineBuckets*fineWidth + time.Duration(i-fineBuckets+1)*wideWidth
}

// Quantile is the upper edge of the bucket that holds the q-quantile
// (nearest rank), capped at the largest value recorded; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(n))), 1)
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank && i < len(h.b)-1 {
			return min(upper(i), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Percentiles summarises the histogram.
func (h *Histogram) Percentiles() Percentiles {
	return Percentiles{N: int(h.n.Load()), P50: h.Quantile(0.50), P95: h.Quantile(0.95), P99: h.Quantile(0.99),
		P999: h.Quantile(0.999), Max: time.Duration(h.max.Load())}
}
