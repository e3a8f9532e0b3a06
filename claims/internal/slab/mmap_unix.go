//go:build unix

package slab

import (
	"runtime"
	"syscall"
)

// newSlab returns size bytes of zeroed memory for records, mapped
// anonymously outside the Go heap: the garbage collector neither scans it
// nor counts it when it sizes the heap (a full heap-allocated table would
// double the process's memory), and pages no record has used yet are never
// resident. owner is the object whose lifetime the slab follows: the
// mapping is released once owner is unreachable.
func newSlab(owner *Table, size int) []byte {
	if size == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
	if err != nil {
		return make([]byte, size) // on the heap, then
	}
	runtime.AddCleanup(owner, func(b []byte) { syscall.Munmap(b) }, b)
	return b
}
