//go:build !unix

package claims

// newSlab returns size bytes of zeroed memory for cache records. Outside
// Unix it is ordinary heap memory.
func newSlab(_ *cacheShard, size int) []byte { return make([]byte, size) }
