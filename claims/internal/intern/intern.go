// Package intern keeps one copy of each value many holders share, counting
// the holders, and names it by a small index that fits in memory outside
// the Go heap (a slab record holds no pointer).
package intern

import (
	"sync"
	"sync/atomic"
)

// Table interns values of type T. Acquire and Release lock; At does not:
// interned values are never modified, and the index is replaced, not
// changed in place, when it grows.
type Table[T comparable] struct {
	mu    sync.Mutex
	ids   map[T]uint32
	refs  []int                // by index
	free  []uint32             // unused indexes
	items atomic.Pointer[[]*T] // by index; nil when unused
}

// Acquire returns the index of v, adding it if new, and counts one more
// holder.
func (t *Table[T]) Acquire(v T) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = make(map[T]uint32)
	}
	id, ok := t.ids[v]
	if !ok {
		var items []*T
		if p := t.items.Load(); p != nil {
			items = *p
		}
		if n := len(t.free); n > 0 {
			id, t.free = t.free[n-1], t.free[:n-1]
			items[id] = &v // no reader: no holder has id
		} else {
			// Readers index their own copy of the slice, below its length:
			// an append in place writes beyond it.
			id = uint32(len(items))
			items = append(items, &v)
			t.items.Store(&items)
			t.refs = append(t.refs, 0)
		}
		t.ids[v] = id
	}
	t.refs[id]++
	return id
}

// Release counts one holder fewer of index id, and forgets its value when
// none is left; the index may then name another value.
func (t *Table[T]) Release(id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refs[id]--; t.refs[id] == 0 {
		items := *t.items.Load()
		delete(t.ids, *items[id])
		items[id] = nil
		t.free = append(t.free, id)
	}
}

// At returns the value of index id. The caller must hold id (an Acquire
// not yet released, or a lock under which a holder keeps it), and happen
// after that Acquire; the value stays valid after the hold ends.
func (t *Table[T]) At(id uint32) *T { return (*t.items.Load())[id] }

// Len returns the number of distinct values held.
func (t *Table[T]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ids)
}
