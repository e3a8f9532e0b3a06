package devissuer_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// do sends one request to the issuer's server.
func do(t *testing.T, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res, readAll(t, res)
}

// mintJSON asks for a token in JSON, checks that the response's claims are
// those of its token, and returns the token and its payload.
func mintJSON(t *testing.T, method, url, reqBody string) (string, map[string]any) {
	t.Helper()
	res, body := do(t, method, url, reqBody)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", res.Status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var r struct {
		Token  string         `json:"token"`
		Claims map[string]any `json:"claims"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	payload := segment(t, r.Token, 1)
	if diff := cmp.Diff(payload, r.Claims); diff != "" {
		t.Errorf("response claims differ from the token's (-token +response):\n%s", diff)
	}
	return r.Token, payload
}

func TestTokenPOST(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	body := `{"repository":"acme/widgets","run_attempt":2,"ref_protected":true,"run_id":12345678901234567890,
		"head_ref":null,"aud":["actions-authz","other"],"lifetime":120}`
	token, p := mintJSON(t, http.MethodPost, iss.URL()+"/token", body)

	c, err := verify(t, token, iss.JWKS(), iss.URL(), "actions-authz")
	if err != nil {
		t.Fatal(err)
	}
	if c.Repository != "acme/widgets" || c.RepositoryOwner != "acme" || c.RunAttempt != "2" || c.RefProtected != "true" {
		t.Errorf("claims %+v", c)
	}
	// Numbers are kept exact, beyond float64 precision.
	if c.RunID != "12345678901234567890" {
		t.Errorf("run_id %q, want 12345678901234567890", c.RunID)
	}
	if _, ok := p["head_ref"]; ok {
		t.Error("head_ref is present, want it removed")
	}
	if got := num(t, p["exp"]) - num(t, p["iat"]); got != 120 {
		t.Errorf("exp − iat = %d, want 120", got)
	}
}

func TestTokenEmptyPOSTMintsDefaults(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "/dev")
	token, _ := mintJSON(t, http.MethodPost, iss.URL()+"/token", "")
	c, err := verify(t, token, iss.JWKS(), iss.URL(), "https://github.com/octo-org")
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "repo:octo-org/octo-repo:ref:refs/heads/main" {
		t.Errorf("sub %q", c.Subject)
	}
}

func TestTokenRaw(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	for _, tc := range []struct {
		name, method, query, body string
		check                     func(t *testing.T, p map[string]any)
	}{
		{
			name: "POST", method: http.MethodPost, query: "?format=raw", body: `{"environment":"production"}`,
			check: func(t *testing.T, p map[string]any) {
				if p["sub"] != "repo:octo-org/octo-repo:environment:production" {
					t.Errorf("sub %v", p["sub"])
				}
			},
		},
		{
			name: "GET", method: http.MethodGet, query: "?format=raw&repository=acme/widgets&aud=x&aud=actions-authz&lifetime=60&run_attempt=3",
			check: func(t *testing.T, p map[string]any) {
				if diff := cmp.Diff([]any{"x", "actions-authz"}, p["aud"]); diff != "" {
					t.Errorf("aud (-want +got):\n%s", diff)
				}
				if p["repository"] != "acme/widgets" || p["run_attempt"] != "3" {
					t.Errorf("repository %v, run_attempt %v", p["repository"], p["run_attempt"])
				}
				if got := num(t, p["exp"]) - num(t, p["iat"]); got != 60 {
					t.Errorf("exp − iat = %d, want 60", got)
				}
				if _, ok := p["format"]; ok {
					t.Error(`"format" became a claim`)
				}
			},
		},
		{
			name: "GET with a multi-select property", method: http.MethodGet,
			query: "?format=raw&repo_property_team=platform&repo_property_regions=us-east-1&repo_property_regions=eu-west-1",
			check: func(t *testing.T, p map[string]any) {
				if p["repo_property_team"] != "platform" || p["repo_property_regions"] != "us-east-1,eu-west-1" {
					t.Errorf("repo_property_team %v, repo_property_regions %v", p["repo_property_team"], p["repo_property_regions"])
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, tc.method, iss.URL()+"/token"+tc.query, tc.body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", res.Status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			token := string(body)
			if strings.ContainsAny(token, " \n\"{") {
				t.Fatalf("raw body %q is not a bare token", token)
			}
			p := segment(t, token, 1)
			aud := "https://github.com/octo-org"
			if a, ok := p["aud"].([]any); ok {
				aud = a[len(a)-1].(string)
			}
			if _, err := verify(t, token, iss.JWKS(), iss.URL(), aud); err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestTokenGETJSON(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	_, p := mintJSON(t, http.MethodGet, iss.URL()+"/token?environment=staging&format=json", "")
	if p["environment"] != "staging" || p["sub"] != "repo:octo-org/octo-repo:environment:staging" {
		t.Errorf("environment %v, sub %v", p["environment"], p["sub"])
	}
}

func TestTokenBodyLimit(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	const limit = 64 << 10
	padded := func(size int) string {
		prefix, suffix := `{"repo_property_notes":"`, `"}`
		return prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix
	}

	res, body := do(t, http.MethodPost, iss.URL()+"/token?format=raw", padded(limit))
	if res.StatusCode != http.StatusOK {
		t.Errorf("body of exactly 64 KiB: %s: %.200s", res.Status, body)
	}
	res, body = do(t, http.MethodPost, iss.URL()+"/token", padded(limit+1))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body of 64 KiB + 1: %s, want 413", res.Status)
	}
	checkError(t, res, body)
	// A valid object followed by too much garbage is also too large.
	res, _ = do(t, http.MethodPost, iss.URL()+"/token", `{}`+strings.Repeat(" ", limit))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("object then 64 KiB of spaces: %s, want 413", res.Status)
	}
}

// checkError checks the JSON body of an error response.
func checkError(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("error body %q (%s): want {\"error\":…} as application/json", body, res.Header.Get("Content-Type"))
	}
}

func TestTokenBadRequests(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	for _, tc := range []struct {
		name, method, query, body string
	}{
		{"invalid JSON", http.MethodPost, "", `{"a":`},
		{"array", http.MethodPost, "", `["a"]`},
		{"string", http.MethodPost, "", `"a"`},
		{"two objects", http.MethodPost, "", `{} {}`},
		{"object claim", http.MethodPost, "", `{"repository":{"name":"x"}}`},
		{"numeric aud", http.MethodPost, "", `{"aud":5}`},
		{"string exp", http.MethodPost, "", `{"exp":"soon"}`},
		{"zero lifetime", http.MethodPost, "", `{"lifetime":0}`},
		{"string lifetime", http.MethodPost, "", `{"lifetime":"60"}`},
		{"bad query lifetime", http.MethodGet, "?lifetime=soon", ""},
		{"repeated query claim", http.MethodGet, "?ref=a&ref=b", ""},
		{"unknown format", http.MethodPost, "?format=xml", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, tc.method, iss.URL()+"/token"+tc.query, tc.body)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: %s, want 400", res.Status, body)
			}
			checkError(t, res, body)
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	_, srv := serve(t, devissuer.Options{}, "")
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, "/token", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/token", http.StatusMethodNotAllowed},
		{http.MethodPatch, "/token", http.StatusMethodNotAllowed},
		{http.MethodPost, "/.well-known/jwks", http.StatusMethodNotAllowed},
		{http.MethodPost, "/.well-known/openid-configuration", http.StatusMethodNotAllowed},
		{http.MethodHead, "/.well-known/jwks", http.StatusOK},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/.well-known/jwks/extra", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res, _ := do(t, tc.method, srv.URL+tc.path, "")
			if res.StatusCode != tc.want {
				t.Fatalf("%s, want %d", res.Status, tc.want)
			}
			if tc.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}
