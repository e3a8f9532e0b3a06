package claims

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
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
type cacheKey [32]byte

// digest returns the cache key of a raw token. It hashes the string's bytes
// in place: []byte(raw) would copy the token (about 1 KiB) on every call,
// and Sum256 only reads its argument.
func digest(raw string) cacheKey {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// keyID identifies one public key of one issuer across refreshes: a refresh
// that publishes the same kid with the same modulus and exponent keeps the
// same *keyID, so cache entries survive routine refreshes, while a key that
// leaves the set, or a kid that comes back with other key material, makes
// every entry verified with the old key unusable.
type keyID struct {
	issuer *issuerKeys
	kid    string
	n      *big.Int
	e      int
}

// noTime marks an absent nbf in a cache entry.
const noTime = math.MinInt64

// A cache entry is a fixed-size record in its shard's slab, a block of
// memory outside the Go heap (see newSlab), found through an open-addressing
// table in the same block: the cache's bulk is neither scanned by the
// garbage collector nor counted in the heap it sizes its cycles by, so a full
// cache does not double the process's memory. A record holds no Go pointer;
// it names its shape and its key by index:
//
//	digest         [32]byte  the cache key, compared in full on every lookup
//	exp, iat, nbf  int64     Unix nanoseconds; nbf may be noTime
//	shape          uint32    index in the cache's shapeTable
//	key            uint32    index in the cache's key list
//	own            uint16 length, then bytes: encodeOwn (jti, run claims)
const (
	recSize   = 224
	recHeader = 32 + 3*8 + 4 + 4 + 2
	recOwnMax = recSize - recHeader // a token whose own claims are longer is not cached
)

// Offsets in a record.
const (
	offExp   = 32
	offIat   = 40
	offNbf   = 48
	offShape = 56
	offKey   = 60
	offOwn   = 64
)

// entry is a verified token on its way into the cache.
type entry struct {
	exp, iat, nbf int64
	shape         shape
	key           *keyID
	own           string
}

// hit is a cache record read out of the slab, under its shard's lock.
type hit struct {
	exp, iat, nbf int64
	shape         shape // copied out of the shape table: its index may be reused once the lock is released
	key           *keyID
	own           string // copied out of the slab
}

// tokenCache is a bounded map from token digest to verified claims, split
// into shards with a lock each, so concurrent Checks of different tokens
// rarely wait for one another.
type tokenCache struct {
	shards   []cacheShard
	mask     uint8
	perShard int
	shapes   shapeTable
	keys     keyList
}

// cacheShard is perShard records and a table of twice as many slots, each 0
// (empty) or a record number plus one, probed linearly from the slot the
// digest's bytes 1 to 4 name (byte 0 chose the shard).
type cacheShard struct {
	mu                      sync.Mutex
	slab                    []byte   // records, then the table
	table                   []byte   // 4 bytes a slot, in slab
	slots                   uint32   // a power of two
	free                    []uint32 // records not in use
	n                       int      // records in use
	hits, misses, evictions uint64
	_                       [64]byte // keep shards on separate cache lines
}

// maxCacheShards bounds the number of shards: a power of two, at most 256
// (the shard is chosen by the first byte of the digest).
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
	c.shapes.ids = make(map[shape]uint32)
	for i := range c.shards {
		s := &c.shards[i]
		s.slots = 2
		for int(s.slots) < 2*perShard {
			s.slots *= 2
		}
		s.slab = newSlab(s, perShard*recSize+int(s.slots)*4)
		s.table = s.slab[perShard*recSize:]
		s.free = make([]uint32, perShard)
		for j := range s.free {
			s.free[j] = uint32(perShard - 1 - j)
		}
	}
	return c
}

func (c *tokenCache) shard(k *cacheKey) *cacheShard { return &c.shards[k[0]&c.mask] }

func (s *cacheShard) rec(i uint32) []byte { return s.slab[int(i)*recSize : (int(i)+1)*recSize] }

func (s *cacheShard) slot(p uint32) uint32 { return binary.LittleEndian.Uint32(s.table[4*p:]) }

func (s *cacheShard) setSlot(p, v uint32) { binary.LittleEndian.PutUint32(s.table[4*p:], v) }

// home is the slot where probing for digest k starts.
func (s *cacheShard) home(k []byte) uint32 { return binary.LittleEndian.Uint32(k[1:]) & (s.slots - 1) }

// find returns the slot and record of k, or ok false.
func (s *cacheShard) find(k *cacheKey) (p, i uint32, ok bool) {
	for p = s.home(k[:]); ; p = (p + 1) & (s.slots - 1) {
		v := s.slot(p)
		if v == 0 {
			return 0, 0, false
		}
		if cacheKey(s.rec(v - 1)[:32]) == *k {
			return p, v - 1, true
		}
	}
}

// remove drops the record in slot p, shifting back the records that probed
// past it so that every record stays reachable from its home slot.
func (c *tokenCache) remove(s *cacheShard, p uint32) {
	i := s.slot(p) - 1
	c.shapes.release(binary.LittleEndian.Uint32(s.rec(i)[offShape:]))
	s.free = append(s.free, i)
	s.n--
	mask := s.slots - 1
	for {
		s.setSlot(p, 0)
		q := p
		for {
			q = (q + 1) & mask
			v := s.slot(q)
			if v == 0 {
				return
			}
			// The record in q stays unless its home is not cyclically in (p, q].
			h := s.home(s.rec(v - 1))
			if p <= q && p < h && h <= q || p > q && (p < h || h <= q) {
				continue
			}
			s.setSlot(p, v)
			p = q
			break
		}
	}
}

// get returns the record for k when it has not expired at now and the key
// that verified it is still in its issuer's set. Otherwise the record, if
// any, is dropped and get reports a miss.
func (c *tokenCache) get(k *cacheKey, now time.Time) (hit, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, i, ok := s.find(k)
	if !ok {
		s.misses++
		return hit{}, false
	}
	r := s.rec(i)
	h := hit{
		exp: int64(binary.LittleEndian.Uint64(r[offExp:])),
		iat: int64(binary.LittleEndian.Uint64(r[offIat:])),
		nbf: int64(binary.LittleEndian.Uint64(r[offNbf:])),
		key: c.keys.at(binary.LittleEndian.Uint32(r[offKey:])),
	}
	if now.UnixNano() >= h.exp || !h.key.current() {
		c.remove(s, p)
		s.misses++
		return hit{}, false
	}
	// The shape is read while the record holds it: once the shard's lock is
	// released, the record may go, and its shape index be given to another
	// token's shape.
	h.shape = c.shapes.at(binary.LittleEndian.Uint32(r[offShape:]))
	n := binary.LittleEndian.Uint16(r[offOwn:])
	h.own = string(r[recHeader : recHeader+int(n)])
	s.hits++
	return h, true
}

// put stores e under k, evicting an entry first when the shard is full.
// An entry whose own claims do not fit a record is not stored.
func (c *tokenCache) put(k *cacheKey, e *entry) {
	if len(e.own) > recOwnMax {
		return
	}
	shapeID := c.shapes.acquire(e.shape)
	keyIdx := c.keys.indexOf(e.key)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, _, ok := s.find(k); ok {
		c.remove(s, p) // the same token, verified twice at once
	}
	if len(s.free) == 0 {
		s.evictOne(c)
	}
	i := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	r := s.rec(i)
	copy(r, k[:])
	binary.LittleEndian.PutUint64(r[offExp:], uint64(e.exp))
	binary.LittleEndian.PutUint64(r[offIat:], uint64(e.iat))
	binary.LittleEndian.PutUint64(r[offNbf:], uint64(e.nbf))
	binary.LittleEndian.PutUint32(r[offShape:], shapeID)
	binary.LittleEndian.PutUint32(r[offKey:], keyIdx)
	binary.LittleEndian.PutUint16(r[offOwn:], uint16(len(e.own)))
	copy(r[recHeader:], e.own)
	p := s.home(k[:])
	for s.slot(p) != 0 {
		p = (p + 1) & (s.slots - 1)
	}
	s.setSlot(p, i+1)
	s.n++
}

// evictOne drops, among evictionSample records found from a random slot on,
// the one that expires first.
func (s *cacheShard) evictOne(c *tokenCache) {
	var (
		victim uint32
		exp    int64 = math.MaxInt64
		seen   int
	)
	mask := s.slots - 1
	start := rand.Uint32() & mask
	for j := uint32(0); j <= mask && seen < evictionSample; j++ {
		p := (start + j) & mask
		v := s.slot(p)
		if v == 0 {
			continue
		}
		seen++
		if e := int64(binary.LittleEndian.Uint64(s.rec(v - 1)[offExp:])); e < exp {
			victim, exp = p, e
		}
	}
	if seen > 0 {
		c.remove(s, victim)
		s.evictions++
	}
}

// dropKeys removes every entry verified with a key of is that is not in
// keep, and returns how many it removed. A refresh calls it when keys leave
// the set or change, so that their entries stop taking room at once (they
// are refused from the moment keep is the issuer's set: see get).
func (c *tokenCache) dropKeys(is *issuerKeys, keep []*keyID) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		var drop []cacheKey
		for p := range s.slots {
			if v := s.slot(p); v != 0 {
				r := s.rec(v - 1)
				key := c.keys.at(binary.LittleEndian.Uint32(r[offKey:]))
				if key.issuer == is && !slices.Contains(keep, key) {
					drop = append(drop, cacheKey(r[:32]))
				}
			}
		}
		for _, k := range drop {
			if p, _, ok := s.find(&k); ok {
				c.remove(s, p)
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
		st.Entries += s.n
		s.mu.Unlock()
	}
	return st
}

// shapeTable interns the shapes of the cached tokens, counting the records
// that use each, so that a record names its shape by a small index.
type shapeTable struct {
	mu    sync.RWMutex
	ids   map[shape]uint32
	items []shapeItem // by index
	free  []uint32    // unused indexes
}

type shapeItem struct {
	shape shape
	refs  int
}

// acquire returns the index of s, adding it if new, and counts one more
// record using it.
func (t *shapeTable) acquire(s shape) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.ids[s]
	if !ok {
		if n := len(t.free); n > 0 {
			id, t.free = t.free[n-1], t.free[:n-1]
			t.items[id] = shapeItem{shape: s}
		} else {
			id = uint32(len(t.items))
			t.items = append(t.items, shapeItem{shape: s})
		}
		t.ids[s] = id
	}
	t.items[id].refs++
	return id
}

// release counts one record fewer using shape id, and forgets the shape
// when none does.
func (t *shapeTable) release(id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it := &t.items[id]
	if it.refs--; it.refs == 0 {
		delete(t.ids, it.shape)
		*it = shapeItem{}
		t.free = append(t.free, id)
	}
}

// at returns shape id. The caller holds the lock of a shard with a record
// that uses it, so that the index still names that shape.
func (t *shapeTable) at(id uint32) shape {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.items[id].shape
}

// keyList numbers the keys cache records were verified with. It only grows,
// by one per key an issuer ever published, a handful a year.
type keyList struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*keyID] // replaced on append, never modified
}

// indexOf returns the index of k, adding it if new.
func (l *keyList) indexOf(k *keyID) uint32 {
	if p := l.list.Load(); p != nil {
		if i := slices.Index(*p, k); i >= 0 {
			return uint32(i)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var cur []*keyID
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
func (l *keyList) at(i uint32) *keyID { return (*l.list.Load())[i] }

// current reports whether k is still in its issuer's key set.
func (k *keyID) current() bool {
	ids := k.issuer.ids.Load()
	return ids != nil && slices.Contains(*ids, k)
}

// newEntry returns the cache entry of the verified claims c, signed with
// key, or false when c cannot be cached: it expires within the second, or
// key is no longer in its issuer's set.
func newEntry(c *Claims, key *keyID, now time.Time) (*entry, bool) {
	if key == nil || c.ExpiresAt == nil || c.IssuedAt == nil {
		return nil, false
	}
	e := &entry{
		shape: newShape(c),
		own:   encodeOwn(c),
		exp:   c.ExpiresAt.UnixNano(),
		iat:   c.IssuedAt.UnixNano(),
		nbf:   noTime,
		key:   key,
	}
	if c.NotBefore != nil {
		e.nbf = c.NotBefore.UnixNano()
	}
	return e, now.UnixNano() < e.exp
}

// cachedClaims is what a cache hit allocates: the claims and everything
// they point to, in one allocation.
type cachedClaims struct {
	c             Claims
	exp, iat, nbf jwt.NumericDate
	aud           [1]string
}

// claims rebuilds the verified claims of h. The caller owns the result.
func (c *tokenCache) claims(h *hit) *Claims {
	cc := new(cachedClaims)
	h.shape.fill(&cc.c, &cc.aud)
	decodeOwn(h.own, &cc.c)
	cc.exp.Time = time.Unix(0, h.exp)
	cc.iat.Time = time.Unix(0, h.iat)
	cc.c.ExpiresAt, cc.c.IssuedAt = &cc.exp, &cc.iat
	if h.nbf != noTime {
		cc.nbf.Time = time.Unix(0, h.nbf)
		cc.c.NotBefore = &cc.nbf
	}
	return &cc.c
}

// encodeList encodes several strings into one, each prefixed by its
// length, so that no string content can be mistaken for a separator.
func encodeList(items []string) string {
	var b []byte
	for _, it := range items {
		b = binary.AppendUvarint(b, uint64(len(it)))
		b = append(b, it...)
	}
	return string(b)
}

// decodeList is the inverse of encodeList.
func decodeList(s string) []string {
	var out []string
	for len(s) > 0 {
		n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		if w <= 0 || uint64(len(s)-w) < n {
			return out // cannot happen: s comes from encodeList
		}
		out = append(out, s[w:w+int(n)])
		s = s[w+int(n):]
	}
	return out
}

// shape is every string claim of a token except jti, which is new in every
// token, and the claims of its run (encodeOwn); the time claims are kept in
// the record. It is comparable, so that the shapeTable keeps one copy of
// the shape that many tokens share, for as long as any record refers to it.
type shape struct {
	iss, sub             string
	aud                  string // the one audience, or with audList several, encoded by encodeList
	audList              bool
	actor                string
	actorID              string
	baseRef              string
	enterprise           string
	enterpriseID         string
	environment          string
	environmentNodeID    string
	eventName            string
	headRef              string
	issuerScope          string
	jobWorkflowRef       string
	ref                  string
	refProtected         string
	refType              string
	repository           string
	repositoryID         string
	repositoryOwner      string
	repositoryOwnerID    string
	repositoryVisibility string
	runnerEnvironment    string
	workflow             string
	workflowRef          string
}

func newShape(c *Claims) shape {
	s := shape{
		iss:                  c.Issuer,
		sub:                  c.Subject,
		actor:                c.Actor,
		actorID:              c.ActorID,
		baseRef:              c.BaseRef,
		enterprise:           c.Enterprise,
		enterpriseID:         c.EnterpriseID,
		environment:          c.Environment,
		environmentNodeID:    c.EnvironmentNodeID,
		eventName:            c.EventName,
		headRef:              c.HeadRef,
		issuerScope:          c.IssuerScope,
		jobWorkflowRef:       c.JobWorkflowRef,
		ref:                  c.Ref,
		refProtected:         c.RefProtected,
		refType:              c.RefType,
		repository:           c.Repository,
		repositoryID:         c.RepositoryID,
		repositoryOwner:      c.RepositoryOwner,
		repositoryOwnerID:    c.RepositoryOwnerID,
		repositoryVisibility: c.RepositoryVisibility,
		runnerEnvironment:    c.RunnerEnvironment,
		workflow:             c.Workflow,
		workflowRef:          c.WorkflowRef,
	}
	if len(c.Audience) == 1 {
		s.aud = c.Audience[0]
	} else {
		s.aud, s.audList = encodeList(c.Audience), true
	}
	return s
}

// fill sets every claim of c that s holds; a single audience goes into one,
// which c.Audience then uses.
func (s *shape) fill(c *Claims, one *[1]string) {
	if s.audList {
		c.Audience = decodeList(s.aud)
	} else {
		one[0] = s.aud
		c.Audience = one[:]
	}
	c.Issuer = s.iss
	c.Subject = s.sub
	c.Actor = s.actor
	c.ActorID = s.actorID
	c.BaseRef = s.baseRef
	c.Enterprise = s.enterprise
	c.EnterpriseID = s.enterpriseID
	c.Environment = s.environment
	c.EnvironmentNodeID = s.environmentNodeID
	c.EventName = s.eventName
	c.HeadRef = s.headRef
	c.IssuerScope = s.issuerScope
	c.JobWorkflowRef = s.jobWorkflowRef
	c.Ref = s.ref
	c.RefProtected = s.refProtected
	c.RefType = s.refType
	c.Repository = s.repository
	c.RepositoryID = s.repositoryID
	c.RepositoryOwner = s.repositoryOwner
	c.RepositoryOwnerID = s.repositoryOwnerID
	c.RepositoryVisibility = s.repositoryVisibility
	c.RunnerEnvironment = s.runnerEnvironment
	c.Workflow = s.workflow
	c.WorkflowRef = s.workflowRef
}

// ownFields are the string claims that change from token to token (jti) or
// from one workflow run or job to the next, in the order encodeOwn writes
// them.
func ownFields(c *Claims) [8]*string {
	return [8]*string{&c.ID, &c.RunID, &c.RunNumber, &c.RunAttempt, &c.CheckRunID, &c.SHA, &c.WorkflowSHA, &c.JobWorkflowSHA}
}

// encodeOwn encodes the ownFields of c into one string, one allocation per
// entry: each is its length plus one and its bytes, or, when an earlier one
// has the same value (the three SHAs usually do), a zero and that one's
// index.
func encodeOwn(c *Claims) string {
	fields := ownFields(c)
	var b []byte
next:
	for i, f := range fields {
		for j := range i {
			if *fields[j] == *f {
				b = append(b, 0, byte(j))
				continue next
			}
		}
		b = binary.AppendUvarint(b, uint64(len(*f))+1)
		b = append(b, *f...)
	}
	return string(b)
}

// decodeOwn sets the ownFields of c from encodeOwn's s. The claims share
// the memory of s.
func decodeOwn(s string, c *Claims) {
	fields := ownFields(c)
	for i, f := range fields {
		n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		if w <= 0 {
			return // cannot happen: s comes from encodeOwn
		}
		s = s[w:]
		if n == 0 {
			if len(s) == 0 || int(s[0]) >= i {
				return
			}
			*f, s = *fields[s[0]], s[1:]
			continue
		}
		if uint64(len(s)) < n-1 {
			return
		}
		*f, s = s[:n-1], s[n-1:]
	}
}
