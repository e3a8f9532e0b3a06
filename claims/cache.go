package claims

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/actions-authz/actions-authz/claims/internal/intern"
	"github.com/actions-authz/actions-authz/claims/internal/keyset"
	"github.com/actions-authz/actions-authz/claims/internal/slab"
)

// CacheStats counts the work of the verified-token cache since the Verifier
// was built. Counters only grow; Entries is the number held now.
type CacheStats struct {
	Hits      uint64 // Verify answered from the cache
	Misses    uint64 // Verify ran the full verification (the token was new, expired, or its key had left the set)
	Evictions uint64 // entries dropped to make room for newer ones
	Entries   int    // tokens held now
}

// CacheStats returns the counters of the verified-token cache; all zero when
// the cache is off. It takes each shard's lock briefly, so it is meant for
// metric scrapes, not for every request.
func (v *Verifier) CacheStats() CacheStats {
	if v.cache == nil {
		return CacheStats{}
	}
	return v.cache.stats()
}

// The cache is keyed by the SHA-256 of the whole compact token: any change to
// any byte (header, claims or signature) is another key, and a collision
// would need a SHA-256 collision. The token itself is not kept.
type cacheKey = slab.Key

// digest returns the cache key of a raw token. It hashes the string's bytes
// in place: []byte(raw) would copy the token (about 1 KiB) on every call,
// and Sum256 only reads its argument.
func digest(raw string) cacheKey {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// tokenCache is a bounded map from token digest to verified claims, split
// into shards with a lock each, so concurrent Checks of different tokens
// rarely wait for one another. Each shard's records live in a slab.Table,
// outside the Go heap; this file is the policy: a record serves until its
// token's exp and while the key that verified it is current, and a full
// shard evicts the record that expires first among a few.
type tokenCache struct {
	shards   []cacheShard
	mask     uint8
	perShard int
	shapes   intern.Table[shape] // a record names its shape by index
	keys     keyList
}

// cacheShard is one table and its counters, under one lock.
type cacheShard struct {
	mu                      sync.Mutex
	table                   *slab.Table
	hits, misses, evictions uint64
	_                       [64]byte // keep shards on separate cache lines
}

// maxCacheShards bounds the number of shards: a power of two, at most 256
// (the shard is chosen by the first byte of the digest; the table probes
// from the next four).
const maxCacheShards = 64

// evictionSample is how many entries a full shard looks at to choose the
// one to evict: the one that expires first, so that the tokens still worth
// the most stay.
const evictionSample = 8

// newTokenCache returns a cache that holds at most max entries (max > 0).
func newTokenCache(max int) *tokenCache {
	n := 1
	for n*2 <= maxCacheShards && n*2 <= max {
		n *= 2
	}
	return newShardedCache(n, max/n)
}

// newShardedCache returns a cache of n shards (a power of two) holding
// perShard entries each.
func newShardedCache(n, perShard int) *tokenCache {
	c := &tokenCache{shards: make([]cacheShard, n), mask: uint8(n - 1), perShard: perShard}
	for i := range c.shards {
		c.shards[i].table = slab.New(perShard, recSize)
	}
	return c
}

func (c *tokenCache) shard(k *cacheKey) *cacheShard { return &c.shards[k[0]&c.mask] }

// remove drops the record in slot p of s, and its hold on its shape.
func (c *tokenCache) remove(s *cacheShard, p uint32, r []byte) {
	c.shapes.Release(binary.LittleEndian.Uint32(r[offShape:]))
	s.table.Remove(p)
}

// get returns the record for k when it has not expired at now and the key
// that verified it is still in its issuer's set. Otherwise the record, if
// any, is dropped and get reports a miss.
func (c *tokenCache) get(k *cacheKey, now time.Time) (hit, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, r, ok := s.table.Find(k)
	if !ok {
		s.misses++
		return hit{}, false
	}
	h := readRecord(r, &c.keys)
	if now.UnixNano() >= h.exp || !h.key.Current() {
		c.remove(s, p, r)
		s.misses++
		return hit{}, false
	}
	// The shape is read while the record holds its index: once the shard's
	// lock is released, the record may go, and the index be given to
	// another token's shape (the *shape read stays this token's).
	h.shape = c.shapes.At(binary.LittleEndian.Uint32(r[offShape:]))
	s.hits++
	return h, true
}

// put stores e under k, evicting an entry first when the shard is full.
// An entry whose own claims do not fit a record is not stored.
func (c *tokenCache) put(k *cacheKey, e *entry) {
	if len(e.own) > recOwnMax {
		return
	}
	shapeID := c.shapes.Acquire(e.shape)
	keyIdx := c.keys.indexOf(e.key)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, r, ok := s.table.Find(k); ok {
		c.remove(s, p, r) // the same token, verified twice at once
	}
	if s.table.Full() {
		c.evictOne(s)
	}
	writeRecord(s.table.Insert(k), e, shapeID, keyIdx)
}

// evictOne drops, among evictionSample records found from a random slot on,
// the one that expires first.
func (c *tokenCache) evictOne(s *cacheShard) {
	var (
		victim []byte
		slot   uint32
		exp    int64 = math.MaxInt64
		seen   int
	)
	s.table.Scan(rand.Uint32(), func(p uint32, _ *cacheKey, r []byte) bool {
		if e := int64(binary.LittleEndian.Uint64(r[offExp:])); e < exp {
			victim, slot, exp = r, p, e
		}
		seen++
		return seen < evictionSample
	})
	if victim != nil {
		c.remove(s, slot, victim)
		s.evictions++
	}
}

// dropKeys removes every entry verified with a key of is that is not in
// keep, and returns how many it removed. A refresh calls it when keys leave
// the set or change, so that their entries stop taking room at once (they
// are refused from the moment keep is the issuer's set: see get).
func (c *tokenCache) dropKeys(is *keyset.Set, keep []*keyset.Key) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		var drop []cacheKey
		s.table.Scan(0, func(_ uint32, k *cacheKey, r []byte) bool {
			key := c.keys.at(binary.LittleEndian.Uint32(r[offKey:]))
			if key.Set() == is && !slices.Contains(keep, key) {
				drop = append(drop, *k)
			}
			return true
		})
		for _, k := range drop {
			if p, r, ok := s.table.Find(&k); ok {
				c.remove(s, p, r)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

func (c *tokenCache) stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.Misses += s.misses
		st.Evictions += s.evictions
		st.Entries += s.table.Len()
		s.mu.Unlock()
	}
	return st
}

// keyList numbers the keys cache records were verified with. It only grows,
// by one per key an issuer ever published, a handful a year.
type keyList struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*keyset.Key] // replaced on append, never modified
}

// indexOf returns the index of k, adding it if new.
func (l *keyList) indexOf(k *keyset.Key) uint32 {
	if p := l.list.Load(); p != nil {
		if i := slices.Index(*p, k); i >= 0 {
			return uint32(i)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var cur []*keyset.Key
	if p := l.list.Load(); p != nil {
		cur = *p
	}
	if i := slices.Index(cur, k); i >= 0 {
		return uint32(i)
	}
	next := append(slices.Clip(cur), k)
	l.list.Store(&next)
	return uint32(len(next) - 1)
}

// at returns the key with index i.
func (l *keyList) at(i uint32) *keyset.Key { return (*l.list.Load())[i] }
