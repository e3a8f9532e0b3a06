package loadgen

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestClosedLoop(t *testing.T) {
	const workers = 4
	var mu sync.Mutex
	seen := map[uint64]int{}
	perWorker := make([]int, workers)
	elapsed := ClosedLoop(t.Context(), workers, 100*time.Millisecond, func(ctx context.Context, w int, i uint64) {
		mu.Lock()
		seen[i]++
		perWorker[w]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
	})
	if elapsed < 100*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("ran %v, want about 100ms", elapsed)
	}
	for w, n := range perWorker {
		if n == 0 {
			t.Errorf("worker %d sent nothing", w)
		}
	}
	// Every index from 0 is handed out once.
	for i := range uint64(len(seen)) {
		if seen[i] != 1 {
			t.Fatalf("index %d sent %d times, want once (%d sent)", i, seen[i], len(seen))
		}
	}
}

func TestClosedLoopEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	elapsed := ClosedLoop(ctx, 1, time.Hour, func(ctx context.Context, _ int, _ uint64) {
		if calls++; calls == 3 {
			cancel()
		}
	})
	if calls != 3 || elapsed > time.Minute {
		t.Errorf("%d calls in %v, want 3 and a prompt return", calls, elapsed)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		lat  []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 1, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{ms(1, 2), 0.01, time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.lat, tt.q); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.lat, tt.q, got, tt.want)
		}
	}
}
