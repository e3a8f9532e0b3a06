// Package gctune sizes the garbage collector of a process whose live heap is
// small, so that it does not collect a hundred times a second. It changes
// process-wide settings: only a binary's main should start it, and never a
// test that runs a service in process.
package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the memory the Go runtime may hold before it collects garbage,
// while the live heap is small.
//
// The service keeps little on the Go heap (about 3 MiB: its verified-token
// cache lives outside it), so under Go's default GOGC=100 it collects every
// 3 MiB allocated: about a hundred times a second under load, which, with
// allocations slowed by the running collections and memory handed back to
// the system between them, costs about a quarter of its CPU time. Under the
// floor it collects about five times less often and a cached Check costs
// about 30% less CPU, for about 4 MiB more resident memory at peak (the
// numbers of "make load", in docs/performance.md). The floor is a memory limit, not a
// GOGC, so that a sudden growth of the live heap cannot take memory past it
// before the next collection.
const Floor = 22 << 20

// Tunable reports whether the environment leaves the garbage collector's
// settings to the service: neither GOGC nor GOMEMLIMIT is set, even empty.
// An operator's choice wins.
func Tunable(lookupEnv func(string) (string, bool)) bool {
	_, gogc := lookupEnv("GOGC")
	_, limit := lookupEnv("GOMEMLIMIT")
	return !gogc && !limit
}

// Tuner keeps the runtime from collecting before it holds floor bytes, as
// long as the live heap is small, and leaves it to Go's defaults otherwise:
// after every collection, it reads the live heap and, while three times it
// is under floor, sets GOGC=off with a memory limit of floor, so that the
// runtime collects when its memory reaches floor; beyond that, GOGC=100 and
// no limit, under which the heap grows to twice the live heap, more than
// two thirds of floor, as it would without the tuner. Stop ends it.
type Tuner struct {
	floor          uint64
	live           func() uint64 // the live heap after the last collection
	setGCPercent   func(int) int
	setMemoryLimit func(int64) int64

	mu           sync.Mutex
	tuned, small bool
	stopped      bool
	percent      int   // GOGC before the first update, restored by Stop
	savedLimit   int64 // the memory limit before the first update, likewise
}

// New returns a Tuner over stand-ins for the runtime (for tests); Start
// runs one over the runtime itself.
func New(floor uint64, live func() uint64, setGCPercent func(int) int, setMemoryLimit func(int64) int64) *Tuner {
	return &Tuner{floor: floor, live: live, setGCPercent: setGCPercent, setMemoryLimit: setMemoryLimit}
}

// Start sizes the collector for floor now and after every collection,
// until Stop.
func Start(floor uint64) *Tuner {
	t := New(floor, liveHeap, debug.SetGCPercent, debug.SetMemoryLimit)
	t.tune()
	return t
}

// sentinel is the object whose collection marks the end of a GC cycle. It
// holds a pointer so that the allocator does not pack it with other small
// objects, whose lifetimes would then be its own.
type sentinel struct{ _ *int }

// tune updates the settings, then arms itself to run again after the next
// collection, from the runtime's cleanup goroutine, unless stopped.
func (t *Tuner) tune() {
	if !t.update() {
		return
	}
	runtime.AddCleanup(new(sentinel), func(t *Tuner) { t.tune() }, t)
}

// update sets GOGC and the memory limit for the live heap of the last
// collection, when they change, and reports whether the Tuner still runs.
// The order of the calls never leaves GOGC off without the limit.
func (t *Tuner) update() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	small := 3*t.live() < t.floor
	if t.tuned && small == t.small {
		return true
	}
	first := !t.tuned
	t.tuned, t.small = true, small
	var limit int64
	var percent int
	if small {
		limit = t.setMemoryLimit(int64(t.floor))
		percent = t.setGCPercent(-1)
	} else {
		percent = t.setGCPercent(100)
		limit = t.setMemoryLimit(math.MaxInt64)
	}
	if first {
		t.percent, t.savedLimit = percent, limit
	}
	return true
}

// Stop ends the tuning and gives the runtime back the settings it had
// before. It may be called more than once, and on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	if t.tuned {
		// The limit last: GOGC is never off without one.
		t.setGCPercent(t.percent)
		t.setMemoryLimit(t.savedLimit)
	}
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
