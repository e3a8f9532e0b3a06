package slab

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestTable inserts and removes many keys in one small table, many of them
// with the same home slot, near the end of the index so that probes wrap,
// and checks against a map that every key present is found with its own
// payload and no other is.
func TestTable(t *testing.T) {
	const capacity = 32
	tb := New(capacity, 8)
	mkKey := func(i int) Key {
		var k Key
		home := tb.slots - 1 - uint32(i%5) // the last five slots
		if i%3 == 0 {
			home = uint32(i) // spread
		}
		binary.LittleEndian.PutUint32(k[1:], home)
		binary.LittleEndian.PutUint32(k[8:], uint32(i)) // distinct keys
		return k
	}
	want := map[Key]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 5000 {
		i := rng.IntN(80)
		k := mkKey(i)
		_, held := want[k]
		switch {
		case held && rng.IntN(2) == 0:
			p, _, ok := tb.Find(&k)
			if !ok {
				t.Fatalf("step %d: key %d lost", step, i)
			}
			tb.Remove(p)
			delete(want, k)
		case held:
			_, payload, _ := tb.Find(&k)
			binary.LittleEndian.PutUint64(payload, uint64(step))
			want[k] = uint64(step)
		default:
			if tb.Full() {
				// Remove the first record from a random slot, as an
				// eviction would.
				tb.Scan(rng.Uint32(), func(p uint32, victim *Key, _ []byte) bool {
					delete(want, *victim)
					tb.Remove(p)
					return false
				})
			}
			binary.LittleEndian.PutUint64(tb.Insert(&k), uint64(step))
			want[k] = uint64(step)
		}
		if tb.Len() != len(want) {
			t.Fatalf("step %d: %d records, want %d", step, tb.Len(), len(want))
		}
	}
	for k, v := range want {
		_, payload, ok := tb.Find(&k)
		if !ok {
			t.Fatalf("key %x lost", k[:12])
		}
		if got := binary.LittleEndian.Uint64(payload); got != v {
			t.Errorf("key %x: payload %d, want %d", k[:12], got, v)
		}
	}
	n := 0
	tb.Scan(0, func(_ uint32, k *Key, _ []byte) bool {
		if _, ok := want[*k]; !ok {
			t.Errorf("Scan yields key %x, not held", k[:12])
		}
		n++
		return true
	})
	if n != len(want) {
		t.Errorf("Scan yields %d records, want %d", n, len(want))
	}
}

func TestNewEmpty(t *testing.T) {
	tb := New(0, 8)
	var k Key
	if _, _, ok := tb.Find(&k); ok || !tb.Full() || tb.Len() != 0 {
		t.Error("an empty table finds a key, or has room")
	}
}
