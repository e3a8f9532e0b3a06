package intern

import (
	"sync"
	"testing"
)

func TestTable(t *testing.T) {
	var tb Table[string]
	a := tb.Acquire("a")
	if b := tb.Acquire("a"); b != a {
		t.Fatalf("the same value got indexes %d and %d", a, b)
	}
	b := tb.Acquire("b")
	if tb.Len() != 2 || *tb.At(a) != "a" || *tb.At(b) != "b" {
		t.Fatalf("Len %d, At(a) %q, At(b) %q", tb.Len(), *tb.At(a), *tb.At(b))
	}
	held := tb.At(a)
	tb.Release(a)
	if tb.Len() != 2 {
		t.Fatal("a value with a holder left was forgotten")
	}
	tb.Release(a)
	if tb.Len() != 1 {
		t.Fatal("a value without holders is still held")
	}
	if c := tb.Acquire("c"); c != a || *tb.At(c) != "c" {
		t.Errorf("c got index %d (a's was %d), At = %q", c, a, *tb.At(c))
	}
	if *held != "a" {
		t.Errorf("a value read before its index was reused changed to %q", *held)
	}
}

// TestTableConcurrent: At, without a lock, beside Acquire and Release that
// grow the index and reuse its entries (run with -race).
func TestTableConcurrent(t *testing.T) {
	var tb Table[int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				v := g*1_000_000 + i%50
				id := tb.Acquire(v)
				if got := *tb.At(id); got != v {
					t.Errorf("At(%d) = %d, want %d", id, got, v)
					return
				}
				tb.Release(id)
			}
		})
	}
	wg.Wait()
	if tb.Len() != 0 {
		t.Errorf("%d values left", tb.Len())
	}
}
