package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEcho(t *testing.T) {
	srv := httptest.NewServer(newHandler("x-github-"))
	defer srv.Close()

	tests := []struct {
		name    string
		headers map[string][]string
		want    echo
	}{
		{
			name: "identity headers are echoed, the token is not",
			headers: map[string][]string{
				"X-Github-Repository":          {"octo-org/octo-repo"},
				"X-Github-Repository-Owner-Id": {"123456"},
				"Authorization":                {"Bearer secret-token-value"},
				"X-Other":                      {"not identity"},
			},
			want: echo{Method: "POST", Path: "/deploy/app", Authorization: "present", Identity: map[string]string{
				"x-github-repository":          "octo-org/octo-repo",
				"x-github-repository-owner-id": "123456",
			}},
		},
		{
			name:    "repeated headers are joined",
			headers: map[string][]string{"X-GitHub-Ref": {"a", "b"}},
			want:    echo{Method: "POST", Path: "/deploy/app", Authorization: "absent", Identity: map[string]string{"x-github-ref": "a,b"}},
		},
		{
			name: "nothing to echo",
			want: echo{Method: "POST", Path: "/deploy/app", Authorization: "absent", Identity: map[string]string{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/deploy/app?x=1", nil)
			for k, vs := range tc.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if strings.Contains(string(body), "secret-token-value") {
				t.Fatalf("the token was echoed: %s", body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got echo
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			tc.want.Host = req.URL.Host
			if got.Method != tc.want.Method || got.Host != tc.want.Host || got.Path != tc.want.Path || got.Authorization != tc.want.Authorization {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(got.Identity) != len(tc.want.Identity) {
				t.Errorf("identity %v, want %v", got.Identity, tc.want.Identity)
			}
			for k, v := range tc.want.Identity {
				if got.Identity[k] != v {
					t.Errorf("identity[%s] = %q, want %q", k, got.Identity[k], v)
				}
			}
		})
	}
}

func TestProbe(t *testing.T) {
	healthy := httptest.NewServer(newHandler("x-github-"))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name, url string
		ok        bool
	}{
		{"healthy", healthy.URL + "/healthz", true},
		{"503", failing.URL + "/healthz", false},
		{"nothing listening", closed.URL + "/healthz", false},
		{"not a URL", "::", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), []string{"--probe", tc.url}, io.Discard)
			if (err == nil) != tc.ok {
				t.Errorf("probe %s: err = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestBadFlag(t *testing.T) {
	if err := run(context.Background(), []string{"--frob"}, io.Discard); err == nil {
		t.Error("an unknown flag was accepted")
	}
}
