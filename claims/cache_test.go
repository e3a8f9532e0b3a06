package claims

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/claims/internal/slab"
)

// cacheDelta returns how the counters moved between two snapshots.
func cacheDelta(before, after CacheStats) (hits, misses uint64) {
	return after.Hits - before.Hits, after.Misses - before.Misses
}

// TestCacheAgreesWithFullVerification verifies a token once, moves the
// clock, and verifies it again with the cache and with a Verifier without
// one: both must give the same answer (the same claims, or the same
// refusal), and the cache must answer only while the token has not expired.
func TestCacheAgreesWithFullVerification(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	// The "long" token below outlives MaxStale; allow its lifetime.
	maxStale := func(c *Config) { c.Issuers[0].MaxStale = 2 * time.Hour; c.MaxLifetime = 5 * time.Hour }
	cached := newTestVerifier(t, clock, maxStale, gh)
	full := newTestVerifier(t, clock, func(c *Config) { maxStale(c); c.CacheMaxEntries = -1 }, gh)
	for _, v := range []*Verifier{cached, full} {
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
	}
	t0 := clock.Now()
	good := idClaims(gh.URL(), t0) // nbf t0-5m, iat t0, exp t0+5m
	long := with(good, "exp", t0.Add(4*time.Hour).Unix())

	tests := []struct {
		name    string
		claims  jwt.MapClaims
		offset  time.Duration // clock at the second Verify, from t0
		wantHit bool
		want    Reason // "" means accepted
	}{
		{"same instant", good, 0, true, ""},
		{"just before exp", good, 5*time.Minute - time.Second, true, ""},
		{"at exp: leeway accepts, cache does not answer", good, 5 * time.Minute, false, ""},
		{"within leeway after exp", good, 5*time.Minute + 30*time.Second, false, ""},
		{"past exp and leeway", good, 6*time.Minute + time.Second, false, ReasonExpired},
		{"clock moved back before iat", good, -2 * time.Minute, true, ReasonIssuedInFuture},
		{"clock moved back within leeway", good, -30 * time.Second, true, ""},
		{"keys stale past max_stale", long, 3 * time.Hour, true, ReasonKeysUnavailable},
		{"several audiences", with(good, "aud", []string{"https://other.example", testAudience, ""}), time.Minute, true, ""},
		{"run claims too long for a record: never cached", with(good, "run_id", strings.Repeat("9", recOwnMax)), 0, false, ""},
		{"repository custom properties and unknown claims", with(good,
			"repo_property_team", "platform", "repo_property_regions", "us-east-1,eu-west-1",
			"future_claim", true, "future_list", []any{"a", 2}), time.Minute, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer clock.Advance(-tt.offset)
			tok := sign(t, k1, tt.claims)
			if _, err := cached.Verify(t.Context(), tok); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			clock.Advance(tt.offset)
			before := cached.CacheStats()
			gotC, errC := cached.Verify(t.Context(), tok)
			hits, _ := cacheDelta(before, cached.CacheStats())
			wantC, errF := full.Verify(t.Context(), tok)

			if (hits == 1) != tt.wantHit {
				t.Errorf("cache hit = %v, want %v", hits == 1, tt.wantHit)
			}
			if got := ReasonOf(errC); got != tt.want {
				t.Errorf("with cache: reason %q (%v), want %q", got, errC, tt.want)
			}
			if got := ReasonOf(errF); got != tt.want {
				t.Errorf("without cache: reason %q (%v), want %q", got, errF, tt.want)
			}
			if diff := cmp.Diff(wantC, gotC); diff != "" {
				t.Errorf("claims with cache differ from full verification (-full +cached):\n%s", diff)
			}
			if gotC != nil {
				for name := range tt.claims {
					if knownName(name) {
						continue
					}
					want, _ := wantC.Extra.JSON(name)
					if got, ok := gotC.Extra.JSON(name); !ok || got != want {
						t.Errorf("cached claim %s = %s (%v), want %s", name, got, ok, want)
					}
				}
			}
		})
	}
}

// TestCacheReturnsOwnClaims checks that a caller that changes the claims it
// got does not change what the next caller gets.
func TestCacheReturnsOwnClaims(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, k1, idClaims(gh.URL(), clock.Now()))
	for i := range 3 {
		c, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.Repository != "octo-org/octo-repo" || c.Audience[0] != testAudience {
			t.Fatalf("Verify %d: repository %q, aud %q: a caller's change leaked", i, c.Repository, c.Audience)
		}
		c.Repository, c.Audience[0] = "evil/repo", "evil"
	}
	if st := v.CacheStats(); st.Hits != 2 || st.Misses != 1 {
		t.Errorf("stats %+v, want 2 hits and 1 miss", st)
	}
}

// TestCacheBound verifies many more distinct tokens than the cache holds:
// the number of entries never exceeds the bound, the surplus is evicted,
// and every token still verifies.
func TestCacheBound(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	tests := []struct {
		max, tokens    int
		distinctShapes bool // every token from another repository
	}{
		{1, 20, false},
		{10, 60, false},
		{100, 300, false},
		{10, 60, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max %d, distinct shapes %v", tt.max, tt.distinctShapes), func(t *testing.T) {
			v := newTestVerifier(t, clock, func(c *Config) { c.CacheMaxEntries = tt.max }, gh)
			if err := v.Refresh(t.Context(), gh.URL()); err != nil {
				t.Fatal(err)
			}
			for i := range tt.tokens {
				c := with(idClaims(gh.URL(), clock.Now()), "jti", fmt.Sprint("token-", i))
				if tt.distinctShapes {
					c = with(c, "repository", fmt.Sprint("octo-org/repo-", i))
				}
				if _, err := v.Verify(t.Context(), sign(t, k1, c)); err != nil {
					t.Fatalf("token %d: %v", i, err)
				}
				if n := v.CacheStats().Entries; n > tt.max {
					t.Fatalf("after %d tokens: %d entries, bound is %d", i+1, n, tt.max)
				}
			}
			st := v.CacheStats()
			if st.Entries < 1 || st.Evictions != uint64(tt.tokens-st.Entries) || st.Misses != uint64(tt.tokens) {
				t.Errorf("stats %+v: want 1..%d entries, %d misses and the rest evicted", st, tt.max, tt.tokens)
			}
			// Evicted entries give their shapes back.
			wantShapes := 1
			if tt.distinctShapes {
				wantShapes = st.Entries
			}
			if n := v.cache.shapes.Len(); n != wantShapes {
				t.Errorf("%d shapes held for %d entries, want %d", n, st.Entries, wantShapes)
			}
		})
	}
}

// TestCacheEvictsSoonestExpiry fills a one-shard cache with tokens of
// different lifetimes: a full shard evicts among those it samples the one
// that expires first, so the long-lived tokens survive.
func TestCacheEvictsSoonestExpiry(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	// Lifetimes up to 2h, past the default MaxLifetime.
	v := newTestVerifier(t, clock, func(c *Config) { c.MaxLifetime = 3 * time.Hour }, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	// One shard holding evictionSample entries, so that eviction sees them all.
	v.cache = newShardedCache(1, evictionSample)

	now := clock.Now()
	var long []string
	for i := range evictionSample {
		lifetime := time.Duration(i+1) * time.Minute
		if i%2 == 0 {
			lifetime = time.Hour
		}
		c := with(idClaims(gh.URL(), now), "exp", now.Add(lifetime).Unix(), "jti", fmt.Sprint(i))
		tok := sign(t, k1, c)
		if lifetime == time.Hour {
			long = append(long, tok)
		}
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// Each new token evicts the soonest-expiring entry: four new tokens
	// evict the four short-lived ones.
	for i := range evictionSample / 2 {
		c := with(idClaims(gh.URL(), now), "exp", now.Add(2*time.Hour).Unix(), "jti", fmt.Sprint("new-", i))
		if _, err := v.Verify(t.Context(), sign(t, k1, c)); err != nil {
			t.Fatal(err)
		}
	}
	before := v.CacheStats()
	for _, tok := range long {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if hits, _ := cacheDelta(before, v.CacheStats()); hits != uint64(len(long)) {
		t.Errorf("%d of %d long-lived tokens still cached, want all", hits, len(long))
	}
}

// TestCacheKeyChanges checks that an entry lives only as long as the key
// that verified it: a refresh that keeps the key keeps the entry; one that
// drops the key, or publishes its kid with another key, drops it.
func TestCacheKeyChanges(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	k2 := testKey{kid: "key-2", key: keys[1]}
	impostor := testKey{kid: "key-1", key: keys[2]} // key-1's kid, another key

	tests := []struct {
		name        string
		next        []any  // the key set after the refresh
		want        Reason // for the key-1 token after the refresh
		wantEntries int    // entries left after the refresh
	}{
		{"same keys", []any{k1, k2}, "", 2},
		{"key-2 removed", []any{k1}, "", 1},
		{"key-1 removed", []any{k2}, ReasonUnknownKey, 1},
		{"kid reused with another key", []any{impostor, k2}, ReasonSignature, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh := newFakeIssuer(t, k1, k2)
			clock := newFakeClock()
			v := newTestVerifier(t, clock, nil, gh)
			if err := v.Refresh(t.Context(), gh.URL()); err != nil {
				t.Fatal(err)
			}
			tok1 := sign(t, k1, idClaims(gh.URL(), clock.Now()))
			tok2 := sign(t, k2, idClaims(gh.URL(), clock.Now()))
			for _, tok := range []string{tok1, tok2} {
				if _, err := v.Verify(t.Context(), tok); err != nil {
					t.Fatal(err)
				}
			}
			gh.setKeys(t, tt.next...)
			if err := v.Refresh(t.Context(), gh.URL()); err != nil {
				t.Fatal(err)
			}
			if n := v.CacheStats().Entries; n != tt.wantEntries {
				t.Errorf("after refresh: %d entries, want %d", n, tt.wantEntries)
			}
			before := v.CacheStats()
			if got := verifyReason(t, v, tok1); got != tt.want {
				t.Errorf("key-1 token after refresh: reason %q, want %q", got, tt.want)
			}
			hits, _ := cacheDelta(before, v.CacheStats())
			if wantHit := tt.want == ""; (hits == 1) != wantHit {
				t.Errorf("key-1 token: cache hit %v, want %v", hits == 1, wantHit)
			}
		})
	}
}

// TestCacheNeverHitsTampered checks that no change to a cached token is
// answered from the cache.
func TestCacheNeverHitsTampered(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	valid := sign(t, k1, idClaims(gh.URL(), clock.Now()))
	if _, err := v.Verify(t.Context(), valid); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	recode := func(i int, edit func(string) string) string {
		p := append([]string(nil), parts...)
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		p[i] = base64.RawURLEncoding.EncodeToString([]byte(edit(string(b))))
		return strings.Join(p, ".")
	}
	flip := func(s string) string { // last character of the signature changed
		if s[len(s)-1] == 'A' {
			return s[:len(s)-1] + "Q"
		}
		return s[:len(s)-1] + "A"
	}

	tests := []struct {
		name  string
		token string
		want  Reason
	}{
		{"claims changed", recode(1, func(s string) string {
			return strings.Replace(s, `"octo-org/octo-repo"`, `"octo-org/infra"`, 1)
		}), ReasonSignature},
		{"header changed", recode(0, func(s string) string { return strings.Replace(s, `"typ":"JWT"`, `"typ":"jwt"`, 1) }), ReasonSignature},
		{"signature changed", flip(valid), ReasonSignature},
		{"signature dropped", parts[0] + "." + parts[1] + ".", ReasonSignature},
		{"extra segment", valid + ".", ReasonMalformed},
		{"claims of another token, signature of this one", sign(t, k1, with(idClaims(gh.URL(), clock.Now()), "ref", "refs/heads/evil"))[:len(parts[0])+1+len(parts[1])] + "." + parts[2], ReasonSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := v.CacheStats()
			if got := verifyReason(t, v, tt.token); got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
			if hits, misses := cacheDelta(before, v.CacheStats()); hits != 0 || misses != 1 {
				t.Errorf("%d hits, %d misses; want a miss", hits, misses)
			}
		})
	}
	if got := verifyReason(t, v, valid); got != "" {
		t.Errorf("the valid token after the tampered ones: %q", got)
	}
}

// TestCacheConcurrent verifies a mix of tokens from many goroutines while
// the cache evicts and the key set is refreshed; run with -race.
func TestCacheConcurrent(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	k2 := testKey{kid: "key-2", key: testKeys()[1]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	var hits, misses atomic.Uint64
	v := newTestVerifier(t, clock, func(c *Config) {
		c.CacheMaxEntries, c.Logger = 8, nil
		c.OnCache = func(hit bool) {
			if hit {
				hits.Add(1)
			} else {
				misses.Add(1)
			}
		}
	}, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	const distinct = 24
	tokens := make([]string, distinct)
	for i := range tokens {
		tokens[i] = sign(t, k1, with(idClaims(gh.URL(), clock.Now()), "jti", fmt.Sprint(i), "run_id", fmt.Sprint(1000+i%3)))
	}
	stop := make(chan struct{})
	var refresher sync.WaitGroup
	refresher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Alternate between two sets, so that dropKeys runs too.
			gh.setKeys(t, k1, k2)
			if err := v.Refresh(t.Context(), gh.URL()); err != nil {
				t.Error(err)
				return
			}
			gh.setKeys(t, k1)
			if err := v.Refresh(t.Context(), gh.URL()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Go(func() {
			for i := range 100 {
				n := (g*7 + i) % distinct
				c, err := v.Verify(t.Context(), tokens[n])
				switch {
				case err != nil:
					errs <- fmt.Errorf("token %d: %w", n, err)
					return
				case c.ID != fmt.Sprint(n) || c.RunID != fmt.Sprint(1000+n%3):
					errs <- fmt.Errorf("token %d: got claims of jti %q, run_id %q", n, c.ID, c.RunID)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	refresher.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := v.CacheStats(); st.Entries > 8 || st.Hits == 0 || st.Hits+st.Misses != 3200 {
		t.Errorf("stats %+v: want at most 8 entries, some hits, 3200 lookups", st)
	} else if hits.Load() != st.Hits || misses.Load() != st.Misses {
		t.Errorf("OnCache saw %d hits and %d misses, CacheStats %d and %d", hits.Load(), misses.Load(), st.Hits, st.Misses)
	}
}

func TestCacheConfig(t *testing.T) {
	gh := newFakeIssuer(t, testKey{kid: "key-1", key: testKeys()[0]})
	tests := []struct {
		max   int
		bound int // 0: off
	}{
		{0, DefaultCacheMaxEntries},
		{-1, 0},
		{1, 1},
		{7, 7},
		{1000, 1000},
		{100001, 100001},
	}
	for _, tt := range tests {
		v := newTestVerifier(t, newFakeClock(), func(c *Config) { c.CacheMaxEntries = tt.max }, gh)
		if (v.cache == nil) != (tt.bound == 0) {
			t.Errorf("CacheMaxEntries %d: cache off = %v, want %v", tt.max, v.cache == nil, tt.bound == 0)
			continue
		}
		if v.cache == nil {
			if st := v.CacheStats(); st != (CacheStats{}) {
				t.Errorf("CacheMaxEntries %d: stats %+v without a cache", tt.max, st)
			}
			continue
		}
		// The shards split the bound evenly, rounding down.
		shards := len(v.cache.shards)
		if got := v.cache.perShard * shards; got > tt.bound || got <= tt.bound-shards {
			t.Errorf("CacheMaxEntries %d: holds %d (%d shards of %d), want at most %d and more than %d",
				tt.max, got, shards, v.cache.perShard, tt.bound, tt.bound-shards)
		}
	}
}

// TestShapeRoundTrip sets every string claim to a distinct value and checks
// that the cache keeps them all: a claim added to Claims but not to shape
// fails here.
func TestShapeRoundTrip(t *testing.T) {
	var c Claims
	rv := reflect.ValueOf(&c).Elem()
	n := 0
	var setAll func(v reflect.Value)
	setAll = func(v reflect.Value) {
		for i := range v.NumField() {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.String:
				n++
				f.SetString(fmt.Sprint("value-", n))
			case reflect.Struct:
				if f.Type() == reflect.TypeFor[Extra]() {
					continue // set below
				}
				setAll(f)
			}
		}
	}
	setAll(rv)
	c.Extra = mustExtra(t, map[string]string{"repo_property_team": `"platform,web"`})
	now := time.Unix(1_750_000_000, 0)
	c.Audience = jwt.ClaimStrings{"a", "b\x00c"}
	c.ExpiresAt, c.IssuedAt, c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(-time.Minute))
	key := currentKey(t)
	withExtra := c
	withExtra.Extra = mustExtra(t, map[string]string{"repo_property_team": `"platform"`, "other": `[1,true]`})
	shared := c // run claims with equal values, as the three SHAs usually are
	shared.WorkflowSHA, shared.JobWorkflowSHA, shared.RunAttempt, shared.CheckRunID = shared.SHA, shared.SHA, "", ""
	for _, tc := range []struct {
		c   Claims
		aud jwt.ClaimStrings
	}{
		{c, jwt.ClaimStrings{"a", "b\x00c"}},
		{c, jwt.ClaimStrings{"only"}},
		{withExtra, jwt.ClaimStrings{"extra"}},
		{shared, jwt.ClaimStrings{"", "\x01", strings.Repeat("x", 300)}},
		{Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt}}, jwt.ClaimStrings{"empty"}},
	} {
		c := tc.c
		c.Audience = tc.aud
		e, ok := newEntry(&c, key, now)
		if !ok {
			t.Fatal("newEntry refused a valid entry")
		}
		cache := newTokenCache(4)
		cache.keys.indexOf(key)
		k := digest(fmt.Sprint(tc.aud))
		cache.put(&k, e)
		h, ok := cache.get(&k, now)
		if !ok {
			t.Fatal("the entry just put is not there")
		}
		if diff := cmp.Diff(&c, cache.claims(&h)); diff != "" {
			t.Errorf("aud %q: round trip changed the claims (-want +got):\n%s", tc.aud, diff)
		}
	}
	if _, ok := newEntry(&c, key, now.Add(time.Hour)); ok {
		t.Error("newEntry accepted claims expiring now")
	}
}

// BenchmarkCacheMemory fills a cache with DefaultCacheMaxEntries entries and
// reports the live heap each entry costs ("heap-B/entry") beside its record
// outside the heap ("slab-B/entry", resident once used): "same-job" tokens
// differ only in jti and times, as tokens one job requests again and again
// (and as the dev issuer mints them); "distinct-runs" tokens also differ in
// run_id, run_number, check_run_id and sha, as tokens of different workflow
// runs do, so no two share a shape.
func BenchmarkCacheMemory(b *testing.B) {
	for _, bc := range []struct {
		name     string
		distinct bool
	}{{"same-job", false}, {"distinct-runs", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const n = DefaultCacheMaxEntries
			now := time.Unix(1_750_000_000, 0)
			base := Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer: "https://token.actions.githubusercontent.com", Audience: jwt.ClaimStrings{testAudience},
					Subject:   "repo:octo-org/octo-repo:ref:refs/heads/main",
					ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
					NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
				},
				Actor: "octocat", ActorID: "583231", EventName: "push", JobWorkflowRef: "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
				JobWorkflowSHA: "5b1c0c6f3c1d9f2a8e4b7d6a9c0e1f2d3b4a5c6d", Ref: "refs/heads/main", RefProtected: "true", RefType: "branch",
				Repository: "octo-org/octo-repo", RepositoryID: "456789", RepositoryOwner: "octo-org", RepositoryOwnerID: "123456",
				RepositoryVisibility: "private", RunAttempt: "1", RunID: "10123456789", RunNumber: "42", CheckRunID: "28123456789",
				RunnerEnvironment: "github-hosted", SHA: "5b1c0c6f3c1d9f2a8e4b7d6a9c0e1f2d3b4a5c6d", Workflow: "CI",
				WorkflowRef: "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main", WorkflowSHA: "5b1c0c6f3c1d9f2a8e4b7d6a9c0e1f2d3b4a5c6d",
			}
			key := currentKey(b)
			var perEntry float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				cache := newTokenCache(n)
				for i := range n {
					c := base
					c.ID = fmt.Sprintf("%08x-7a5d-4f4b-9a61-1b7b2c6c9f10", i)
					if bc.distinct {
						c.RunID = fmt.Sprint(10123456789 + i)
						c.RunNumber = fmt.Sprint(42 + i)
						c.CheckRunID = fmt.Sprint(28123456789 + i)
						c.SHA = fmt.Sprintf("%040x", i)
					}
					e, _ := newEntry(&c, key, now)
					k := digest(c.ID)
					cache.put(&k, e)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if got := cache.stats().Entries; got < n*95/100 { // shards fill unevenly
					b.Fatalf("%d entries", got)
				}
				perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(cache)
			}
			b.ReportMetric(perEntry, "heap-B/entry")
			b.ReportMetric(slab.KeySize+recSize, "slab-B/entry")
		})
	}
}

// TestCacheHitKeepsItsShape: a hit stays the claims of its own token when,
// between the lookup and the reading of its claims, its record goes and
// another token's shape takes the freed shape index.
func TestCacheHitKeepsItsShape(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	key := currentKey(t)
	token := func(repo, owner string) Claims {
		return Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: "https://issuer.example", Subject: "repo:" + repo, Audience: jwt.ClaimStrings{testAudience},
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
			},
			Repository: repo, RepositoryOwnerID: owner,
		}
	}
	a, b := token("octo-org/octo-repo", "123456"), token("evil/repo", "999")
	cache := newTokenCache(4)
	cache.keys.indexOf(key)
	put := func(k cacheKey, c *Claims) {
		e, ok := newEntry(c, key, now)
		if !ok {
			t.Fatal("newEntry refused a valid entry")
		}
		cache.put(&k, e)
	}
	ka, kb := digest("a"), digest("b")
	put(ka, &a)
	h, ok := cache.get(&ka, now)
	if !ok {
		t.Fatal("the entry just put is not there")
	}
	// Another Check drops a's record (its key left the set, or it was
	// evicted) and caches b, whose shape takes the index a's had.
	s := cache.shard(&ka)
	s.mu.Lock()
	p, r, _ := s.table.Find(&ka)
	cache.remove(s, p, r)
	s.mu.Unlock()
	put(kb, &b)
	if got := cache.claims(&h); got.Repository != a.Repository || got.RepositoryOwnerID != a.RepositoryOwnerID || got.Subject != a.Subject {
		t.Fatalf("a's hit reads repository %q, owner %q, sub %q: another token's claims", got.Repository, got.RepositoryOwnerID, got.Subject)
	}
}
