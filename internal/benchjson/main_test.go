package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	in := `goos: linux
pkg: github.com/callwerk/callwerk/acd
BenchmarkDispatchLatency/redis-2   3511   379872 ns/op   856034 p99-ns   4.000 redis-rt/op   12588 B/op   171 allocs/op
--- BENCH: BenchmarkDispatchLatency/redis-2
    dispatch_bench_test.go:234: setup: 2000 agents in 618ms
pkg: github.com/callwerk/callwerk/media
BenchmarkForward-2   232248   5109 ns/op   0 B/op   0 allocs/op
PASS
`
	r, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, r.Benchmarks, 2)
	assert.Equal(t, Benchmark{Package: "github.com/callwerk/callwerk/acd", Name: "BenchmarkDispatchLatency/redis-2", Runs: 3511,
		Metrics: map[string]float64{"ns/op": 379872, "p99-ns": 856034, "redis-rt/op": 4, "B/op": 12588, "allocs/op": 171}}, r.Benchmarks[0])
	assert.Equal(t, "github.com/callwerk/callwerk/media", r.Benchmarks[1].Package)
}

func TestDescribe(t *testing.T) {
	m := describe()
	assert.Positive(t, m.Cores)
	assert.NotEmpty(t, m.Go)
}
