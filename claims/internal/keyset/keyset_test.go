package keyset

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestJitter(t *testing.T) {
	for range 1000 {
		if d := jitter(time.Minute); d < 54*time.Second || d > 66*time.Second {
			t.Fatalf("jitter(1m) = %s, outside ±10%%", d)
		}
	}
}

// TestNewDefaults: a Set without a Client fetches with a client that times
// out and follows redirects only within the host; one with a Client uses it.
func TestNewDefaults(t *testing.T) {
	s := newTestSet(t, Source{})
	if s.client == nil || s.client.Timeout == 0 || s.client.CheckRedirect == nil {
		t.Errorf("default HTTP client lacks a timeout or redirect policy: %+v", s.client)
	}
	if s.now == nil {
		t.Error("nil clock")
	}
	own := &http.Client{}
	if s := newTestSet(t, Source{}, Options{Client: own}); s.client != own {
		t.Error("configured HTTP client not used")
	}
}

// TestKeyIdentity: a refresh that publishes a key again keeps its *Key; one
// that drops a key, or publishes its kid with other material, makes the old
// *Key not current and calls Drop with the keys that stay. OnFetch sees
// every fetch.
func TestKeyIdentity(t *testing.T) {
	file, write := jwksFile(t)
	publish := func(keys ...any) { write(jwks(t, keys...)) }
	var (
		drops   [][]*Key
		fetched []int
	)
	s := newTestSet(t, Source{Issuer: "https://issuer.example", JWKSFile: file, MaxStale: time.Hour}, Options{
		OnFetch: func(_ string, keys int, _ error) { fetched = append(fetched, keys) },
		Drop: func(set *Set, keep []*Key) int {
			drops = append(drops, keep)
			return 0
		},
	})
	refresh := func() {
		t.Helper()
		if err := s.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	pub0, pub1 := &testKey(0).PublicKey, &testKey(1).PublicKey
	if s.Usable() || s.KeyOf("a", pub0) != nil {
		t.Fatal("keys before the first fetch")
	}

	publish(jwk(t, "a", testKey(0)), jwk(t, "b", testKey(1)))
	refresh()
	a, b := s.KeyOf("a", pub0), s.KeyOf("b", pub1)
	if a == nil || b == nil || !a.Current() || a.Set() != s || s.Count() != 2 || !s.Usable() {
		t.Fatalf("after the first fetch: a %v, b %v, %d keys", a, b, s.Count())
	}
	if s.KeyOf("a", pub1) != nil {
		t.Error("KeyOf found kid a with b's key material")
	}

	refresh() // the same keys again
	if s.KeyOf("a", pub0) != a || s.KeyOf("b", pub1) != b || len(drops) != 0 {
		t.Fatalf("a routine refresh changed the keys (drops %v)", drops)
	}

	publish(jwk(t, "a", testKey(2))) // b removed, a replaced
	refresh()
	if a.Current() || b.Current() || len(drops) != 1 || len(drops[0]) != 1 || drops[0][0] != s.KeyOf("a", &testKey(2).PublicKey) {
		t.Errorf("after a and b went: a current %v, b current %v, drops %v", a.Current(), b.Current(), drops)
	}
	if want := []int{2, 2, 1}; !slices.Equal(fetched, want) {
		t.Errorf("OnFetch saw %v keys, want %v", fetched, want)
	}
}
