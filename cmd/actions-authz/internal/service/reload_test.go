package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Two versions of one policy, told apart by every allowed answer: v1 allows
// any branch of owner 123456 by rule 0 and sends no x-github-sha; v2 allows
// only main, by rule 1, and sends x-github-sha.
const (
	policyV1 = `
issuers:
  - url: %s
audiences: ["https://github.com/octo-org"]
upstream: {claims: [repository, ref]}
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
`
	policyV2 = `
issuers:
  - url: %s
audiences: ["https://github.com/octo-org"]
upstream: {claims: [repository, ref, sha]}
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
        ref: refs/heads/release
      - repository_owner_id: "123456"
        ref: refs/heads/main
`
)

// policyVersion classifies an answer to a token of branch main or feature as
// policy 1 or 2, or "mixed" when it fits neither as a whole.
func policyVersion(branch string, status int, resp *authv3.CheckResponse) string {
	if status != 200 {
		if branch == "feature" && status == 403 {
			return "v2"
		}
		return fmt.Sprintf("mixed (HTTP %d)", status)
	}
	rule := resp.GetDynamicMetadata().GetFields()["rule"].GetNumberValue()
	sha := false
	for _, h := range resp.GetOkResponse().GetHeaders() {
		sha = sha || h.GetHeader().GetKey() == "x-github-sha"
	}
	switch {
	case rule == 0 && !sha:
		return "v1"
	case rule == 1 && sha && branch == "main":
		return "v2"
	}
	return fmt.Sprintf("mixed (rule %v, x-github-sha %v)", rule, sha)
}

// TestReloadUnderLoad rewrites the configuration with a stricter policy
// while Checks run: none fails, none sees a mix of the two policies, each
// client sees the old answers then the new ones, never back; then a broken
// file is refused and counted, and the new policy keeps answering.
func TestReloadUnderLoad(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	s := startService(t, fmt.Sprintf(policyV1, is.URL()), TestHooks{Debounce: 50 * time.Millisecond})
	s.waitReady()
	tokens := map[string]string{
		"main":    is.MustMint(t, nil),
		"feature": is.MustMint(t, map[string]any{"ref": "refs/heads/feature"}),
	}

	const workers = 4
	var (
		mu      sync.Mutex
		seen    [workers][]string // versions in the order each worker saw them
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		counted = func() (min int) {
			mu.Lock()
			defer mu.Unlock()
			min = -1
			for _, v := range seen {
				if min < 0 || len(v) < min {
					min = len(v)
				}
			}
			return min
		}
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				branch := []string{"main", "feature"}[(i+w)%2]
				status, resp := s.check(tokens[branch], "")
				v := policyVersion(branch, status, resp)
				mu.Lock()
				seen[w] = append(seen[w], v)
				mu.Unlock()
			}
		})
	}
	s.waitFor("Checks before the reload", func() bool { return counted() >= 20 })
	before := counted()

	s.writeConfig(fmt.Sprintf(policyV2, is.URL()))
	s.waitFor("the reload", func() bool {
		m, _ := s.scrape()
		return m[`actions_authz_config_reloads_total{result="success"}`] == 1
	})
	// Once the reload is done, every new Check gets the new answer.
	for branch, tok := range tokens {
		status, resp := s.check(tok, "")
		if v := policyVersion(branch, status, resp); v != "v2" {
			t.Errorf("%s after the reload: %s, want v2", branch, v)
		}
	}
	s.waitFor("Checks after the reload", func() bool { return counted() >= before+20 })
	close(stop)
	wg.Wait()

	for w, vs := range seen {
		first2 := -1
		for i, v := range vs {
			switch {
			case v != "v1" && v != "v2":
				t.Fatalf("worker %d, Check %d: %s", w, i, v)
			case v == "v2" && first2 < 0:
				first2 = i
			case v == "v1" && first2 >= 0:
				t.Fatalf("worker %d: Check %d saw v1 after Check %d saw v2", w, i, first2)
			}
		}
		if first2 <= 0 || vs[len(vs)-1] != "v2" {
			t.Errorf("worker %d did not see v1 then v2: %v", w, vs)
		}
	}

	// A broken file: refused, logged with its error, counted; v2 answers.
	s.writeConfig(fmt.Sprintf(policyV2, is.URL()) + "      - {regex: '(' }  # not a claim\n")
	s.waitFor("the refused reload", func() bool {
		m, _ := s.scrape()
		return m[`actions_authz_config_reloads_total{result="failure"}`] == 1
	})
	m, _ := s.scrape()
	if m[`actions_authz_config_reloads_total{result="success"}`] != 1 || m[`actions_authz_config_last_reload_successful`] != 0 {
		t.Errorf("after a refused reload: %v", m)
	}
	for branch, tok := range tokens {
		status, resp := s.check(tok, "")
		if v := policyVersion(branch, status, resp); v != "v2" {
			t.Errorf("%s after the refused reload: %s, want v2", branch, v)
		}
	}
	const refusal = "configuration reload refused; the previous configuration keeps serving"
	s.waitFor("the refusal in the log", func() bool { return len(s.logLines(refusal)) > 0 })
	refused := s.logLines(refusal)
	if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0]["error"]), "config.yaml is invalid") ||
		!strings.Contains(fmt.Sprint(refused[0]["error"]), `line 14: policy "default" (policies[0]): allow[2]: does not pin the repository owner`) ||
		!strings.Contains(fmt.Sprint(refused[0]["error"]), `the unknown claim "regex"`) {
		t.Errorf("refusal log lines: %v", refused)
	}
	if s.httpStatus("/readyz") != 200 {
		t.Error("not ready after a refused reload")
	}
}

// TestReloadIssuers: a reload that adds an issuer starts its key fetcher
// and trusts it once it has keys; one that removes an issuer stops its
// fetcher and refuses its tokens; one that changes the audiences applies
// them; one whose new issuer has no keys is refused and changes nothing,
// and is taken when written again once the issuer answers.
func TestReloadIssuers(t *testing.T) {
	a, b, down := devissuertest.Start(t, devissuer.Options{}), devissuertest.Start(t, devissuer.Options{}), devissuertest.Start(t, devissuer.Options{})
	down.Down.Store(true)
	config := func(audience string, issuers ...*devissuertest.Server) string {
		var list strings.Builder
		for _, is := range issuers {
			fmt.Fprintf(&list, "  - {url: %q, refresh_interval: 50ms}\n", is.URL())
		}
		return fmt.Sprintf(`
issuers:
%saudiences: [%q]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
`, list.String(), audience)
	}
	const aud = "https://github.com/octo-org"
	s := startService(t, config(aud, a), TestHooks{Debounce: 20 * time.Millisecond, Warmup: 2 * time.Second})
	s.waitReady()
	tokA, tokB := a.MustMint(t, nil), b.MustMint(t, nil)
	reloads := 0
	reload := func(config string, result string) {
		t.Helper()
		reloads++
		want := reloads
		if result == "failure" {
			want = 1
		}
		s.writeConfig(config)
		s.waitFor(result+" of reload "+fmt.Sprint(reloads), func() bool {
			m, _ := s.scrape()
			return m[`actions_authz_config_reloads_total{result="`+result+`"}`] == float64(want)
		})
		if result == "failure" {
			reloads--
		}
	}
	expect := func(step string, want map[string]int) {
		t.Helper()
		for name, tok := range map[string]string{"a": tokA, "b": tokB} {
			if got, _ := s.check(tok, ""); got != want[name] {
				t.Errorf("%s: token of issuer %s: HTTP %d, want %d", step, name, got, want[name])
			}
		}
	}
	keysOf := func(is *devissuertest.Server) (float64, bool) {
		m, _ := s.scrape()
		v, ok := m[fmt.Sprintf("actions_authz_jwks_keys{issuer=%q}", is.URL())]
		return v, ok
	}

	expect("start", map[string]int{"a": 200, "b": 401})

	reload(config(aud, a, b), "success")
	expect("b added", map[string]int{"a": 200, "b": 200})
	if n, ok := keysOf(b); !ok || n != 1 {
		t.Errorf("jwks_keys of the added issuer = %v (present %v)", n, ok)
	}

	reload(config(aud, a, b, down), "failure")
	expect("adding an issuer without keys is refused", map[string]int{"a": 200, "b": 200})
	if _, ok := keysOf(down); ok {
		t.Error("the refused issuer has a jwks_keys series")
	}
	if s.httpStatus("/readyz") != 200 {
		t.Error("not ready after a refused issuer change")
	}
	// It was refused for want of keys, not for its content: once the issuer
	// answers, the same file written again is taken.
	down.Down.Store(false)
	reload(config(aud, a, b, down), "success")
	expect("the same file, once its issuer answers", map[string]int{"a": 200, "b": 200})
	reload(config(aud, a, b), "success")

	reload(config(aud, b), "success")
	expect("a removed", map[string]int{"a": 401, "b": 200})
	if _, ok := keysOf(a); ok {
		t.Error("the removed issuer still has a jwks_keys series")
	}
	// Its fetcher is stopped: a refreshes every 50ms while it runs.
	calls := a.JWKSCalls.Load()
	time.Sleep(500 * time.Millisecond)
	if got := a.JWKSCalls.Load(); got != calls {
		t.Errorf("the removed issuer's keys were fetched %d more times", got-calls)
	}

	reload(config("https://github.com/another-audience", b), "success")
	expect("audience changed", map[string]int{"a": 401, "b": 401})
	tokB2 := b.MustMint(t, map[string]any{"aud": "https://github.com/another-audience"})
	if got, _ := s.check(tokB2, ""); got != 200 {
		t.Errorf("token for the new audience: HTTP %d, want 200", got)
	}
}

// TestReloadConfigMapSymlinkSwap: Kubernetes updates a mounted ConfigMap by
// swapping the ..data symbolic link; the file name the service was given
// never changes.
func TestReloadConfigMapSymlinkSwap(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	dir := t.TempDir()
	writeVersion := func(name, config string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "config.yaml"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeVersion("..v1", fmt.Sprintf(policyV1, is.URL()))
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/config.yaml", filepath.Join(dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	s := startServiceAt(t, filepath.Join(dir, "config.yaml"), TestHooks{Debounce: 20 * time.Millisecond})
	s.waitReady()
	feature := is.MustMint(t, map[string]any{"ref": "refs/heads/feature"})
	if got, _ := s.check(feature, ""); got != 200 {
		t.Fatalf("v1: HTTP %d, want 200", got)
	}

	writeVersion("..v2", fmt.Sprintf(policyV2, is.URL()))
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the reload", func() bool {
		m, _ := s.scrape()
		return m[`actions_authz_config_reloads_total{result="success"}`] == 1
	})
	if got, _ := s.check(feature, ""); got != 403 {
		t.Errorf("v2: HTTP %d, want 403", got)
	}
}
