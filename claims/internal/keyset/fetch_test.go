package keyset

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseKeySet(t *testing.T) {
	good := jwk(t, "good", testKey(0))
	weak := jwk(t, "weak", testKey(1))
	weak.N = good.N[:100] // a 600-bit modulus
	cases := []struct {
		name     string
		set      []any
		wantKids []string // nil means the fetch fails
	}{
		{"one good key", []any{good}, []string{"good"}},
		{"malformed keys beside a good one", []any{
			json.RawMessage(`{"kty":"RSA","kid":"bad-n","n":"!!!","e":"AQAB"}`),
			json.RawMessage(`{"kty":"RSA","kid":"no-e","n":"AQAB"}`),
			json.RawMessage(`{"kty":"RSA","kid":"n-number","n":12,"e":"AQAB"}`),
			json.RawMessage(`"not an object"`),
			json.RawMessage(`{"kty":"EC","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`),
			json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
			json.RawMessage(`{"kty":"RSA","kid":"enc","use":"enc","n":"` + good.N + `","e":"AQAB"}`),
			json.RawMessage(`{"kty":"RSA","kid":"ps","alg":"PS256","n":"` + good.N + `","e":"AQAB"}`),
			json.RawMessage(`{"kty":"RSA","n":"` + good.N + `","e":"AQAB"}`),
			json.RawMessage(`{"kty":"RSA","kid":"x5c","x5c":["bm90IGEgY2VydA=="],"n":"` + good.N + `","e":"AQAB"}`),
			weak,
			good,
			jwk(t, "good", testKey(2)), // a second key with the same kid
		}, []string{"good"}},
		{"no usable key", []any{json.RawMessage(`{"kty":"EC","kid":"ec"}`)}, nil},
		{"empty set", []any{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := newTestSet(t, Source{}).parseKeySet(jwks(t, tc.set...))
			if tc.wantKids == nil {
				if err == nil {
					t.Fatalf("parseKeySet accepted a set with no usable key: %d keys", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.Marshal().KID)
			}
			if strings.Join(kids, ",") != strings.Join(tc.wantKids, ",") {
				t.Errorf("kept kids %v, want %v", kids, tc.wantKids)
			}
		})
	}
	for _, body := range []string{`not json`, `{"keys": 1}`, `[]`} {
		if _, err := newTestSet(t, Source{}).parseKeySet([]byte(body)); err == nil {
			t.Errorf("parseKeySet(%s) succeeded", body)
		}
	}
}

// TestFetchLimits covers the HTTP rules: status 200 only, size caps,
// redirects only within the host, http only on loopback.
func TestFetchLimits(t *testing.T) {
	good := jwks(t, jwk(t, "key-1", testKey(0)))
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer elsewhere.Close()

	var srvURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`))
	})
	mux.HandleFunc("/redirect-same-host", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/redirect-other-host", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusFound)
	})
	mux.HandleFunc("/huge-discovery/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"padding":%q}`, srvURL+"/huge-discovery", srvURL+"/ok", strings.Repeat("x", maxDiscoveryBytes))
	})
	mux.HandleFunc("/http-jwks/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":"http://keys.example.com/jwks"}`, srvURL+"/http-jwks")
	})
	mux.HandleFunc("/no-jwks-uri/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q}`, srvURL+"/no-jwks-uri")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	srvURL = srv.URL
	hugeFile, write := jwksFile(t)
	write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`))

	for _, tc := range []struct {
		name string
		src  Source
		ok   bool
	}{
		{"ok", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/ok"}, true},
		{"status 404", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/404"}, false},
		{"key set over 1 MiB", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/huge"}, false},
		{"redirect within the host", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/redirect-same-host"}, true},
		{"redirect to another host", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/redirect-other-host"}, false},
		{"redirect loop", Source{Issuer: "https://issuer.example", JWKSURL: srv.URL + "/redirect-loop"}, false},
		{"key set file over 1 MiB", Source{Issuer: "https://issuer.example", JWKSFile: hugeFile}, false},
		{"discovery over 64 KiB", Source{Issuer: srv.URL + "/huge-discovery"}, false},
		{"discovery naming an http jwks_uri", Source{Issuer: srv.URL + "/http-jwks"}, false},
		{"discovery without jwks_uri", Source{Issuer: srv.URL + "/no-jwks-uri"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newTestSet(t, tc.src).Refresh(t.Context())
			if (err == nil) != tc.ok {
				t.Errorf("Refresh = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestSameHostRedirect checks the redirect policy of the default client:
// same scheme and host only, at most maxRedirects.
func TestSameHostRedirect(t *testing.T) {
	req := func(u string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := req("https://token.example/.well-known/jwks")
	for _, tc := range []struct {
		name string
		to   string
		hops int // requests already made
		ok   bool
	}{
		{"same host, other path", "https://token.example/keys", 1, true},
		{"https to http on the same host", "http://token.example/keys", 1, false},
		{"another host", "https://evil.example/keys", 1, false},
		{"a subdomain", "https://keys.token.example/keys", 1, false},
		{"same host, other port", "https://token.example:8443/keys", 1, false},
		{"the last hop allowed", "https://token.example/keys", maxRedirects - 1, true},
		{"one hop too many", "https://token.example/keys", maxRedirects, false},
	} {
		via := make([]*http.Request, tc.hops)
		for i := range via {
			via[i] = first
		}
		if err := sameHostRedirect(req(tc.to), via); (err == nil) != tc.ok {
			t.Errorf("%s: sameHostRedirect = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
