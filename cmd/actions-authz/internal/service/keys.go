package service

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actions-authz/actions-authz/claims"
)

// runningVerifier is a claims.Verifier with its Run loop, once started.
type runningVerifier struct {
	v      *claims.Verifier
	cfg    claims.Config // as built, for comparison on reload
	cancel context.CancelFunc
	done   chan struct{}
}

// newRunningVerifier builds a Verifier for cfg; start starts its Run loop.
func newRunningVerifier(cfg claims.Config) (*runningVerifier, error) {
	v, err := claims.NewVerifier(cfg)
	if err != nil {
		return nil, err
	}
	return &runningVerifier{v: v, cfg: cfg}, nil
}

// start starts the Run loop under ctx: the key fetchers run until ctx is
// done or stop is called.
func (rv *runningVerifier) start(ctx context.Context) {
	ctx, rv.cancel = context.WithCancel(ctx)
	rv.done = make(chan struct{})
	go func() {
		defer close(rv.done)
		rv.v.Run(ctx) // returns nil when ctx is done; a second Run is impossible here
	}()
}

// stop ends the Run loop, if started, and waits for it: no key fetcher of
// this verifier is left running. Requests that still hold the verifier may
// finish with it.
func (rv *runningVerifier) stop() {
	if rv.cancel == nil {
		return
	}
	rv.cancel()
	<-rv.done
}

// waitReady waits until every issuer of rv has keys, at most for d.
func (rv *runningVerifier) waitReady(ctx context.Context, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !rv.v.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return rv.v.Ready()
		case <-tick.C:
		}
	}
	return true
}

// keys holds the verifier in force, which reloads replace; readiness (the
// /readyz answer, the gRPC health and the ready metric) follows it.
type keys struct {
	active atomic.Pointer[runningVerifier]

	mu      sync.Mutex // serializes start, replace and Stop
	stopped bool
}

// set puts the first verifier in force, before start.
func (k *keys) set(rv *runningVerifier) { k.active.Store(rv) }

// current returns the verifier in force.
func (k *keys) current() *runningVerifier { return k.active.Load() }

// start starts the key fetchers of the verifier in force under ctx.
func (k *keys) start(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.active.Load().start(ctx)
}

// Ready reports whether the verifier in force has keys for every issuer.
func (k *keys) Ready() bool {
	rv := k.active.Load()
	return rv != nil && rv.v.Ready()
}

// replace puts rv, already started, in force and stops the key fetchers of
// the verifier it replaces. After Stop, rv is stopped instead: no key
// fetcher outlives Stop.
func (k *keys) replace(rv *runningVerifier) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		rv.stop()
		return
	}
	k.active.Swap(rv).stop()
}

// Stop stops the key fetchers of the verifier in force.
func (k *keys) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	k.active.Load().stop()
}
