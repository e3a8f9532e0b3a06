package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcMemoryFloor is the memory the Go runtime may hold before it collects
// garbage, while the live heap is small.
//
// The service keeps little on the Go heap (about 3 MiB: its verified-token
// cache lives outside it), so under Go's default GOGC=100 it collects every
// 3 MiB allocated: about a hundred times a second under load, which, with
// allocations slowed by the running collections and memory handed back to
// the system between them, costs about a quarter of its CPU time. Under the
// floor it collects about five times less often and a cached Check costs
// about 30% less CPU, for about 4 MiB more resident memory at peak (the
// numbers of "make load", in docs/performance.md). The floor is a memory limit,
// not a GOGC, so that a sudden growth of the live heap cannot take memory past
// it before the next collection.
const gcMemoryFloor = 22 << 20

// tuneGC starts, once a process, a gcTuner with gcMemoryFloor, unless the
// environment sets GOGC or GOMEMLIMIT: an operator's choice wins. It reports
// whether the tuner runs.
var tuneGC = sync.OnceValue(func() bool {
	if !gcTunable(os.LookupEnv) {
		return false
	}
	newGCTuner(gcMemoryFloor, liveHeap, debug.SetGCPercent, debug.SetMemoryLimit).tune()
	return true
})

// gcTunable reports whether the environment leaves the garbage collector's
// settings to the service.
func gcTunable(lookupEnv func(string) (string, bool)) bool {
	_, gogc := lookupEnv("GOGC")
	_, limit := lookupEnv("GOMEMLIMIT")
	return !gogc && !limit
}

// gcTuner keeps the runtime from collecting before it holds floor bytes, as
// long as the live heap is small, and leaves it to Go's defaults otherwise:
// after every collection, it reads the live heap and, while three times it
// is under floor, sets GOGC=off with a memory limit of floor, so that the
// runtime collects when its memory reaches floor; beyond that, GOGC=100 and
// no limit, under which the heap grows to twice the live heap, more than
// two thirds of floor, as it would without the tuner.
type gcTuner struct {
	floor          uint64
	live           func() uint64 // the live heap after the last collection
	setGCPercent   func(int) int
	setMemoryLimit func(int64) int64
	tuned, small   bool
}

func newGCTuner(floor uint64, live func() uint64, setGCPercent func(int) int, setMemoryLimit func(int64) int64) *gcTuner {
	return &gcTuner{floor: floor, live: live, setGCPercent: setGCPercent, setMemoryLimit: setMemoryLimit}
}

// sentinel is the object whose collection marks the end of a GC cycle. It
// holds a pointer so that the allocator does not pack it with other small
// objects, whose lifetimes would then be its own.
type sentinel struct{ _ *int }

// tune updates the settings, then arms itself to run again after the next
// collection, from the runtime's cleanup goroutine.
func (t *gcTuner) tune() {
	t.update()
	runtime.AddCleanup(new(sentinel), func(t *gcTuner) { t.tune() }, t)
}

// update sets GOGC and the memory limit for the live heap of the last
// collection, when they change. The order of the calls never leaves GOGC
// off without the limit.
func (t *gcTuner) update() {
	small := 3*t.live() < t.floor
	if t.tuned && small == t.small {
		return
	}
	t.tuned, t.small = true, small
	if small {
		t.setMemoryLimit(int64(t.floor))
		t.setGCPercent(-1)
		return
	}
	t.setGCPercent(100)
	t.setMemoryLimit(math.MaxInt64)
}

var liveHeapSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// liveHeap returns the heap marked live by the last collection. Only the
// tuner calls it, one call at a time.
func liveHeap() uint64 {
	metrics.Read(liveHeapSample)
	if liveHeapSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return liveHeapSample[0].Value.Uint64()
}
