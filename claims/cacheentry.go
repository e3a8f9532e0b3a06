package claims

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

// A cache record is the payload of a slab.Table record (whose key is the
// token's digest). It holds no Go pointer: it names its shape and its key by
// index.
//
//	exp, iat, nbf  int64     Unix nanoseconds; nbf may be noTime
//	shape          uint32    index in the cache's shapes (intern.Table)
//	key            uint32    index in the cache's key list
//	own            uint16 length, then bytes: encodeOwn (jti, run claims)
const (
	recSize   = 192
	recHeader = 3*8 + 4 + 4 + 2
	recOwnMax = recSize - recHeader // a token whose own claims are longer is not cached
)

// Offsets in a record.
const (
	offExp   = 0
	offIat   = 8
	offNbf   = 16
	offShape = 24
	offKey   = 28
	offOwn   = 32
)

// noTime marks an absent nbf in a cache entry.
const noTime = math.MinInt64

// entry is a verified token on its way into the cache.
type entry struct {
	exp, iat, nbf int64
	shape         shape
	key           *keyset.Key
	own           string
}

// hit is a cache record read out of the slab, under its shard's lock.
type hit struct {
	exp, iat, nbf int64
	shape         *shape // interned, never modified
	key           *keyset.Key
	own           string // copied out of the slab
}

// writeRecord fills the record r with e, its shape's index and its key's.
func writeRecord(r []byte, e *entry, shapeID, keyIdx uint32) {
	binary.LittleEndian.PutUint64(r[offExp:], uint64(e.exp))
	binary.LittleEndian.PutUint64(r[offIat:], uint64(e.iat))
	binary.LittleEndian.PutUint64(r[offNbf:], uint64(e.nbf))
	binary.LittleEndian.PutUint32(r[offShape:], shapeID)
	binary.LittleEndian.PutUint32(r[offKey:], keyIdx)
	binary.LittleEndian.PutUint16(r[offOwn:], uint16(len(e.own)))
	copy(r[recHeader:], e.own)
}

// readRecord reads the record r, but for its shape, which the caller reads
// only once it knows the record serves.
func readRecord(r []byte, keys *keyList) hit {
	n := binary.LittleEndian.Uint16(r[offOwn:])
	return hit{
		exp: int64(binary.LittleEndian.Uint64(r[offExp:])),
		iat: int64(binary.LittleEndian.Uint64(r[offIat:])),
		nbf: int64(binary.LittleEndian.Uint64(r[offNbf:])),
		key: keys.at(binary.LittleEndian.Uint32(r[offKey:])),
		own: string(r[recHeader : recHeader+int(n)]),
	}
}

// newEntry returns the cache entry of the verified claims c, signed with
// key, or false when c cannot be cached: it expires within the second, or
// key is no longer in its issuer's set.
func newEntry(c *Claims, key *keyset.Key, now time.Time) (*entry, bool) {
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
// length (appendString), so that no string content can be mistaken for a
// separator.
func encodeList(items []string) string {
	var b []byte
	for _, it := range items {
		b = appendString(b, it)
	}
	return string(b)
}

// decodeList is the inverse of encodeList.
func decodeList(s string) []string {
	var out []string
	for len(s) > 0 {
		it, rest, ok := readString(s)
		if !ok {
			return out // cannot happen: s comes from encodeList
		}
		out, s = append(out, it), rest
	}
	return out
}

// ownFields are the string claims that change from token to token (jti) or
// from one workflow run or job to the next: a record holds them itself
// (encodeOwn), in this order. Every other string claim is in its shape.
var ownFields = [...]Field{
	FieldJTI, FieldRunID, FieldRunNumber, FieldRunAttempt, FieldCheckRunID, FieldSHA, FieldWorkflowSHA, FieldJobWorkflowSHA,
}

// sharedFields are the string claims a shape holds: every claim of the
// Field table but the audience (a list, see shape.aud) and the ownFields.
var sharedFields = func() (fs [int(fieldCount) - 2 - len(ownFields)]Field) {
	i := 0
	for f := FieldIssuer; f < fieldCount; f++ {
		if f != FieldAudience && !slices.Contains(ownFields[:], f) {
			fs[i] = f
			i++
		}
	}
	return fs
}()

// shape is every string claim of a token except jti, which is new in every
// token, and the claims of its run (encodeOwn); the time claims are kept in
// the record. It is comparable, so that the cache's intern.Table keeps one copy of
// the shape that many tokens share, for as long as any record refers to it.
type shape struct {
	aud     string // the one audience, or with audList several, encoded by encodeList
	audList bool
	claims  [len(sharedFields)]string // by sharedFields
	extra   Extra                     // repo_property_* and other claims: a repository's, like the rest of the shape
}

func newShape(c *Claims) shape {
	s := shape{extra: c.Extra}
	for i, f := range sharedFields {
		s.claims[i] = *c.str(f)
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
	for i, f := range sharedFields {
		*c.str(f) = s.claims[i]
	}
	c.Extra = s.extra
}

// ownStrings returns the fields of c that hold the ownFields.
func ownStrings(c *Claims) (ps [len(ownFields)]*string) {
	for i, f := range ownFields {
		ps[i] = c.str(f)
	}
	return ps
}

// encodeOwn encodes the ownFields of c into one string, one allocation per
// entry: each is its length plus one and its bytes, or, when an earlier one
// has the same value (the three SHAs usually do), a zero and that one's
// index.
func encodeOwn(c *Claims) string {
	fields := ownStrings(c)
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
	fields := ownStrings(c)
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
