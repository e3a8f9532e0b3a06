//go:build !unix

package slab

// newSlab returns size bytes of zeroed memory for records. Outside
// Unix it is ordinary heap memory.
func newSlab(_ *cacheShard, size int) []byte { return make([]byte, size) }
