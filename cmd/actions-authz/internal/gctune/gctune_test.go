package gctune

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestGCTuner drives a tuner with a stand-in live heap and runtime: GOGC
// off under a memory limit of the floor while the live heap is under a
// third of it, Go's defaults beyond, and no call while nothing changes.
func TestGCTuner(t *testing.T) {
	const floor = 24 << 20
	var live uint64
	var calls []string
	tn := New(floor, func() uint64 { return live },
		func(p int) int { calls = append(calls, fmt.Sprintf("GOGC=%d", p)); return 0 },
		func(l int64) int64 { calls = append(calls, fmt.Sprintf("limit=%d", l)); return 0 })
	floorLimit, noLimit := fmt.Sprintf("limit=%d", floor), fmt.Sprintf("limit=%d", int64(math.MaxInt64))
	for i, st := range []struct {
		live uint64
		want []string
	}{
		{0, []string{floorLimit, "GOGC=-1"}}, // before the first collection
		{3 << 20, nil},
		{8<<20 - 1, nil},
		{8 << 20, []string{"GOGC=100", noLimit}}, // a third of the floor
		{64 << 20, nil},
		{2 << 20, []string{floorLimit, "GOGC=-1"}}, // the limit before GOGC=off
	} {
		calls = nil
		live = st.live
		tn.update()
		if !slices.Equal(calls, st.want) {
			t.Fatalf("step %d (live %d): calls %v, want %v", i, st.live, calls, st.want)
		}
	}
}

// TestGCTunerRunsAfterEveryCollection: a tune arms the next one, which the
// runtime runs after a collection, until Stop, which restores the settings
// of before.
func TestGCTunerRunsAfterEveryCollection(t *testing.T) {
	var reads atomic.Int64
	var percent atomic.Int64
	percent.Store(77)
	setPercent := func(p int) int { return int(percent.Swap(int64(p))) }
	tn := New(24<<20, func() uint64 { reads.Add(1); return 64 << 20 }, setPercent, func(int64) int64 { return 0 })
	tn.tune()
	for want := int64(2); want <= 4; want++ {
		deadline := time.Now().Add(5 * time.Second)
		for reads.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d tunes, want %d after a collection", reads.Load(), want)
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	tn.Stop()
	if got := percent.Load(); got != 77 {
		t.Errorf("GOGC after Stop = %d, want 77, as before", got)
	}
	stopped := reads.Load()
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if n := reads.Load(); n > stopped+1 { // one tune may have been armed before Stop
		t.Errorf("%d tunes after Stop", n-stopped)
	}
}

func TestGCTunable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"GOGC": "200"}, false},
		{map[string]string{"GOMEMLIMIT": "512MiB"}, false},
		{map[string]string{"GOGC": ""}, false}, // set, even if empty
		{map[string]string{"GODEBUG": "gctrace=1"}, true},
	} {
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		if got := Tunable(lookup); got != tc.want {
			t.Errorf("environment %v: tunable %v, want %v", tc.env, got, tc.want)
		}
	}
}
