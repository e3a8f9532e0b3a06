// Package slab is a fixed-capacity table of fixed-size records keyed by a
// 32-byte digest, held in memory outside the Go heap: the garbage collector
// neither scans it nor counts it in the heap it sizes its cycles by, so a
// full table does not double the process's memory. A record holds bytes
// only, never a Go pointer.
//
// The records and an open-addressing index (linear probing, backward-shift
// deletion) share one block. A Table is not safe for concurrent use: the
// caller locks. What to keep and what to evict is the caller's policy.
package slab

import "encoding/binary"

// KeySize is the size of a key: a SHA-256 digest.
const KeySize = 32

// Key is a record's key. Its bytes 1 to 4 choose where probing starts, so
// a caller may use byte 0 to choose among several Tables.
type Key = [KeySize]byte

// Table holds at most Cap records of a fixed size, each found by its Key.
type Table struct {
	mem   []byte   // records (key, then payload), then the index
	index []byte   // 4 bytes a slot, in mem: 0 (empty) or a record number plus one
	slots uint32   // a power of two, at least twice the capacity
	size  int      // bytes a record, key included
	free  []uint32 // record numbers not in use
	n     int
}

// New returns a Table of capacity records, each with payload bytes besides
// its key.
func New(capacity, payload int) *Table {
	t := &Table{slots: 2, size: KeySize + payload}
	for int(t.slots) < 2*capacity {
		t.slots *= 2
	}
	t.mem = newSlab(t, capacity*t.size+int(t.slots)*4)
	t.index = t.mem[capacity*t.size:]
	t.free = make([]uint32, capacity)
	for j := range t.free {
		t.free[j] = uint32(capacity - 1 - j)
	}
	return t
}

// Len returns the number of records held.
func (t *Table) Len() int { return t.n }

// Full reports whether Insert needs a Remove first.
func (t *Table) Full() bool { return len(t.free) == 0 }

func (t *Table) rec(i uint32) []byte { return t.mem[int(i)*t.size : (int(i)+1)*t.size] }

func (t *Table) slot(p uint32) uint32 { return binary.LittleEndian.Uint32(t.index[4*p:]) }

func (t *Table) setSlot(p, v uint32) { binary.LittleEndian.PutUint32(t.index[4*p:], v) }

// home is the slot where probing for key k starts.
func (t *Table) home(k []byte) uint32 { return binary.LittleEndian.Uint32(k[1:]) & (t.slots - 1) }

// Find returns the slot and payload of k's record, or ok false. The payload
// is the Table's memory: it is valid until the record is removed.
func (t *Table) Find(k *Key) (slot uint32, payload []byte, ok bool) {
	for p := t.home(k[:]); ; p = (p + 1) & (t.slots - 1) {
		v := t.slot(p)
		if v == 0 {
			return 0, nil, false
		}
		if r := t.rec(v - 1); Key(r[:KeySize]) == *k {
			return p, r[KeySize:], true
		}
	}
}

// Insert adds a record for k, which must not be held, and returns its
// payload, zeroed or left from a removed record, for the caller to fill.
// The Table must not be Full.
func (t *Table) Insert(k *Key) []byte {
	i := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	r := t.rec(i)
	copy(r, k[:])
	p := t.home(k[:])
	for t.slot(p) != 0 {
		p = (p + 1) & (t.slots - 1)
	}
	t.setSlot(p, i+1)
	t.n++
	return r[KeySize:]
}

// Remove drops the record in slot p, shifting back the records that probed
// past it so that every record stays reachable from its home slot.
func (t *Table) Remove(p uint32) {
	t.free = append(t.free, t.slot(p)-1)
	t.n--
	mask := t.slots - 1
	for {
		t.setSlot(p, 0)
		q := p
		for {
			q = (q + 1) & mask
			v := t.slot(q)
			if v == 0 {
				return
			}
			// The record in q stays unless its home is not cyclically in (p, q].
			h := t.home(t.rec(v - 1))
			if p <= q && p < h && h <= q || p > q && (p < h || h <= q) {
				continue
			}
			t.setSlot(p, v)
			p = q
			break
		}
	}
}

// Scan calls yield with the slot, key and payload of each record, in slot
// order from slot from (taken modulo the slot count) and around, until
// yield returns false. yield must not change the Table.
func (t *Table) Scan(from uint32, yield func(slot uint32, k *Key, payload []byte) bool) {
	mask := t.slots - 1
	for j := uint32(0); j <= mask; j++ {
		p := (from + j) & mask
		if v := t.slot(p); v != 0 {
			r := t.rec(v - 1)
			if !yield(p, (*Key)(r[:KeySize]), r[KeySize:]) {
				return
			}
		}
	}
}
