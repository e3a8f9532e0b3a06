package claimstest

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Unix(1_750_000_000, 0)
	c := NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now() = %v, want %v", c.Now(), start)
	}
	c.Advance(time.Minute)
	if want := start.Add(time.Minute); !c.Now().Equal(want) {
		t.Errorf("after Advance, Now() = %v, want %v", c.Now(), want)
	}
}
