package claims

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"
	"unique"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultCacheMaxEntries is the number of verified tokens a Verifier keeps
// when Config.CacheMaxEntries is zero.
const DefaultCacheMaxEntries = 100000

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

// cacheEntry is one verified token. The claims every token of a workflow
// shares (repository, refs, workflow...) live once in an interned shape; the
// entry holds what changes from token to token: the times, and jti with the
// claims of the job's run (run_id, check_run_id, sha...) in one string. The entry is valid until exp, and
// only while key is in its issuer's current key set.
type cacheEntry struct {
	shape         unique.Handle[shape]
	own           string // encodeOwn
	exp, iat, nbf int64  // Unix nanoseconds; nbf may be noTime
	key           *keyID
}

// tokenCache is a bounded map from token digest to verified claims, split
// into shards with a lock each, so concurrent Checks of different tokens
// rarely wait for one another.
type tokenCache struct {
	shards   []cacheShard
	mask     uint8
	perShard int
}

type cacheShard struct {
	mu                      sync.Mutex
	m                       map[cacheKey]cacheEntry
	hits, misses, evictions uint64
	_                       [80]byte // keep shards on separate cache lines
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
	c := &tokenCache{shards: make([]cacheShard, n), mask: uint8(n - 1), perShard: max / n}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(k *cacheKey) *cacheShard { return &c.shards[k[0]&c.mask] }

// get returns the entry for k when it has not expired at now and the key
// that verified it is still in its issuer's set. Otherwise the entry, if
// any, is dropped and get reports a miss.
func (c *tokenCache) get(k *cacheKey, now time.Time) (cacheEntry, bool) {
	s := c.shard(k)
	s.mu.Lock()
	e, ok := s.m[*k]
	if ok && (now.UnixNano() >= e.exp || !e.key.current()) {
		delete(s.m, *k)
		ok = false
	}
	if ok {
		s.hits++
	} else {
		s.misses++
	}
	s.mu.Unlock()
	return e, ok
}

// put stores e under k, evicting an entry first when the shard is full.
func (c *tokenCache) put(k *cacheKey, e cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[*k]; !ok && len(s.m) >= c.perShard {
		s.evictOne()
	}
	s.m[*k] = e
}

// evictOne drops, among a few entries taken at random (map iteration starts
// at a random place), the one that expires first.
func (s *cacheShard) evictOne() {
	var (
		victim cacheKey
		exp    int64 = math.MaxInt64
		seen   int
	)
	for k, e := range s.m {
		if e.exp < exp {
			victim, exp = k, e.exp
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	if seen > 0 {
		delete(s.m, victim)
		s.evictions++
	}
}

// dropKeys removes every entry verified with a key of is that is not in
// keep. A refresh calls it when keys leave the set, so that their entries
// stop taking room at once.
func (c *tokenCache) dropKeys(is *issuerKeys, keep []*keyID) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.key.issuer == is && !slices.Contains(keep, e.key) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

func (c *tokenCache) stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.Misses += s.misses
		st.Evictions += s.evictions
		st.Entries += len(s.m)
		s.mu.Unlock()
	}
	return st
}

// current reports whether k is still in its issuer's key set.
func (k *keyID) current() bool {
	ids := k.issuer.ids.Load()
	return ids != nil && slices.Contains(*ids, k)
}

// newEntry returns the cache entry of the verified claims c, signed with
// key, or false when c cannot be cached: it expires within the second, or
// key is no longer in its issuer's set.
func newEntry(c *Claims, key *keyID, now time.Time) (cacheEntry, bool) {
	if key == nil || c.ExpiresAt == nil || c.IssuedAt == nil {
		return cacheEntry{}, false
	}
	e := cacheEntry{
		shape: unique.Make(newShape(c)),
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

// claims rebuilds the verified claims of e. The caller owns the result.
func (e *cacheEntry) claims() *Claims {
	h := new(cachedClaims)
	s := e.shape.Value()
	s.fill(&h.c)
	decodeOwn(e.own, &h.c)
	h.exp.Time = time.Unix(0, e.exp)
	h.iat.Time = time.Unix(0, e.iat)
	h.c.ExpiresAt, h.c.IssuedAt = &h.exp, &h.iat
	if e.nbf != noTime {
		h.nbf.Time = time.Unix(0, e.nbf)
		h.c.NotBefore = &h.nbf
	}
	if s.audList {
		h.c.Audience = decodeList(s.aud)
	} else {
		h.aud[0] = s.aud
		h.c.Audience = h.aud[:]
	}
	return &h.c
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
// the entry. It is comparable, so that
// unique.Make keeps one copy of the shape that many tokens share, for as
// long as any entry refers to it.
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

// fill sets every claim of c that s holds.
func (s *shape) fill(c *Claims) {
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
