// Package claimstest provides utilities for tests of code that verifies
// tokens, in the manner of net/http/httptest.
package claimstest

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when the test moves it, for
// claims.Config.Now and the like: "within max_stale" and "beyond it", or
// "expired" and "not yet", are then exact. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the Clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the Clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
