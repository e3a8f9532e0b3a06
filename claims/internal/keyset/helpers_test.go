package keyset

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/MicahParks/jwkset"
)

// Generating RSA keys is the slowest thing these tests do: three, once.
var (
	keysOnce sync.Once
	rsaKeys  [3]*rsa.PrivateKey
)

// testKey returns test key i (0 to 2).
func testKey(i int) *rsa.PrivateKey {
	keysOnce.Do(func() {
		for j := range rsaKeys {
			var err error
			if rsaKeys[j], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err) // test setup only
			}
		}
	})
	return rsaKeys[i]
}

// jwk is the JWK of key's public key with this kid, for RS256 signatures.
func jwk(t testing.TB, kid string, key *rsa.PrivateKey) jwkset.JWKMarshal {
	t.Helper()
	k, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k.Marshal()
}

// jwks is a JWKS of keys: JWKs, or json.RawMessage for malformed ones.
func jwks(t testing.TB, keys ...any) []byte {
	t.Helper()
	if keys == nil {
		keys = []any{}
	}
	b, err := json.Marshal(struct {
		Keys []any `json:"keys"`
	}{keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestSet is the Set of src, accepting RS256 when src names no
// algorithm, logging to the test output.
func newTestSet(t testing.TB, src Source, o ...Options) *Set {
	t.Helper()
	if src.Algorithms == nil {
		src.Algorithms = []string{"RS256"}
	}
	var opts Options
	if len(o) > 0 {
		opts = o[0]
	}
	opts.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksFile returns the path of a file in the test's temporary directory,
// and a function that writes a key set into it.
func jwksFile(t testing.TB) (string, func(body []byte)) {
	file := filepath.Join(t.TempDir(), "jwks.json")
	return file, func(body []byte) {
		t.Helper()
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
