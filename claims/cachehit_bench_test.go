package claims

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerifyCacheHitParallel reads cached tokens of one shape from
// every P at once: every hit reads the shared shape table, which must not
// make the shards wait for one another.
func BenchmarkVerifyCacheHitParallel(b *testing.B) {
	now := time.Unix(1_750_000_000, 0)
	key := currentKey(b)
	cache := newTokenCache(4096)
	keys := make([]cacheKey, 1024)
	for i := range keys {
		c := Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: "https://token.actions.githubusercontent.com", Audience: jwt.ClaimStrings{testAudience},
				Subject: "repo:octo-org/octo-repo:ref:refs/heads/main", ID: fmt.Sprint("jti-", i),
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
			},
			Repository: "octo-org/octo-repo", RepositoryOwnerID: "123456", Ref: "refs/heads/main",
		}
		e, _ := newEntry(&c, key, now)
		keys[i] = digest(c.ID)
		cache.put(&keys[i], e)
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(97))
		for pb.Next() {
			i = (i + 1) % len(keys)
			h, ok := cache.get(&keys[i], now)
			if !ok {
				b.Fatal("miss")
			}
			_ = cache.claims(&h)
		}
	})
}
