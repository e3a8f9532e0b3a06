// Package loadgen is what the project's load generators share: a closed
// loop of workers bounded in time, and the percentile of sorted latencies.
// cmd/loadtest sends Checks over gRPC with it, examples/benchenvoy HTTP
// requests through Envoy.
package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ClosedLoop runs workers goroutines for d, or until ctx is done, and
// returns how long they ran. Each calls send again as soon as it returns:
// with its worker number, the context that ends the run, and the index of
// the next request, counted from 0 across all workers, so that requests
// taken modulo a list cycle through it. send keeps its own figures, per
// worker, and must return once ctx is done.
func ClosedLoop(ctx context.Context, workers int, d time.Duration, send func(ctx context.Context, worker int, i uint64)) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				send(ctx, w, next.Add(1)-1)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// Percentile returns the q-quantile (0 < q <= 1) of sorted latencies, by
// the nearest rank, or 0 when there are none.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
