package keyset

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// fetchCall is one fetch of a set's keys that several callers may wait
// for. err is written before done is closed and read only after.
type fetchCall struct {
	done chan struct{}
	err  error
}

// join returns the fetch running for s, or registers a new one that the
// caller (the leader) must run and finish.
func (s *Set) join() (call *fetchCall, leader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight, false
	}
	s.inflight = &fetchCall{done: make(chan struct{})}
	return s.inflight, true
}

// finish publishes the result of call and lets the next fetch start.
func (s *Set) finish(call *fetchCall, err error) {
	call.err = err
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(call.done)
}

// KeepFresh fetches s's keys, retrying failures with a backoff from
// retryMin doubling up to retryMax (but never longer than RefreshInterval),
// then every RefreshInterval (with ±10% jitter), until ctx is done.
func (s *Set) KeepFresh(ctx context.Context, retryMin, retryMax time.Duration) {
	backoff := retryMin
	for {
		err := s.Refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			wait = min(backoff, s.src.RefreshInterval)
			backoff = min(2*backoff, retryMax)
		} else {
			backoff = retryMin
			wait = jitter(s.src.RefreshInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// jitter returns d changed by a random amount of up to ±10%, so that many
// replicas do not refresh in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// Refresh fetches s's keys now, or waits for the fetch already running,
// and returns that fetch's error. On failure s keeps its last good keys.
func (s *Set) Refresh(ctx context.Context) error {
	_, err := s.refresh(ctx)
	return err
}

// Refetch fetches s's keys anew and returns that fetch's error. Unlike
// Refresh it does not settle for a fetch already running, which may have
// read the set before it changed: it waits for that one to finish, then
// fetches again.
func (s *Set) Refetch(ctx context.Context) error {
	for {
		leader, err := s.refresh(ctx)
		if leader {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// refresh is Refresh, and reports whether it ran the fetch itself.
func (s *Set) refresh(ctx context.Context) (leader bool, err error) {
	call, leader := s.join()
	if leader {
		s.finish(call, s.fetch(ctx))
		return true, call.err
	}
	select {
	case <-call.done:
		return false, call.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// refreshForKID is called when a token names a kid the set lacks: the key
// may have just been rotated in. It joins a fetch already running, or
// starts one unless an unknown kid already started one within
// RefreshMinInterval, so a flood of bogus kids costs the issuer at most one
// fetch per interval. It waits for the fetch no longer than ctx. The fetch
// runs in its own goroutine, bounded by fetchTimeout, so that one caller
// giving up does not cancel it for the others.
func (s *Set) refreshForKID(ctx context.Context) {
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		now := s.now()
		if !s.lastOnDemand.IsZero() && now.Before(s.lastOnDemand.Add(s.src.RefreshMinInterval)) {
			s.mu.Unlock()
			return
		}
		s.lastOnDemand = now
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
			defer cancel()
			s.finish(call, s.fetch(fctx))
		}()
	}
	s.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
	}
}

// fetch gets s's key set once, stores it when it holds at least one usable
// key, logs the outcome and reports it to OnFetch.
func (s *Set) fetch(ctx context.Context) error {
	keys, err := s.fetchKeys(ctx)
	if err == nil {
		err = s.store(ctx, keys)
	}
	// A fetch cancelled because KeepFresh is stopping is not worth a
	// warning; one that timed out is.
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("fetching signing keys failed; keeping the last good keys",
			"issuer", s.src.Issuer, "keys", s.count.Load(), "error", err)
	}
	if s.onFetch != nil {
		s.onFetch(s.src.Issuer, int(s.count.Load()), err)
	}
	return err
}
