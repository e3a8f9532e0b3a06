package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestCheckAndServeAgree: every invalid configuration is refused by check
// and by serve's start-up with the same error, naming the same line and
// field. Once, check accepted a jwks_url with a query that serve refused.
func TestCheckAndServeAgree(t *testing.T) {
	const head = "server: {grpc_addr: \"127.0.0.1:0\", http_addr: \"127.0.0.1:0\"}\n"
	const gh = "https://token.actions.githubusercontent.com"
	const policies = "policies:\n  - name: p\n    allow:\n      - repository_owner_id: \"1\"\n"
	issuer := func(extra string) string {
		return "issuers:\n  - url: " + gh + "\n" + extra
	}
	tests := []struct {
		name, config string
		want         string // a line of both errors: file:line: field: message
	}{
		{"jwks_url with a query", issuer("    jwks_url: https://example.com/jwks?x=1\n") + "audiences: [svc]\n" + policies,
			`:4: issuers[0]: jwks_url: URL "https://example.com/jwks?x=1" must not have a query or fragment`},
		{"jwks_url with a fragment", issuer("    jwks_url: https://example.com/jwks#k\n") + "audiences: [svc]\n" + policies,
			`:4: issuers[0]: jwks_url: URL "https://example.com/jwks#k" must not have a query or fragment`},
		{"http issuer", "issuers:\n  - url: http://issuer.example.com\naudiences: [svc]\n" + policies,
			`:3: issuers[0]: url: URL "http://issuer.example.com" must use https`},
		{"issuer with a query", "issuers:\n  - url: https://issuer.example.com?x\naudiences: [svc]\n" + policies,
			`:3: issuers[0]: url: URL "https://issuer.example.com?x" must not have a query or fragment`},
		{"jwks_url and jwks_file", issuer("    jwks_url: "+gh+"/jwks\n    jwks_file: k.json\n") + "audiences: [svc]\n" + policies,
			`:5: issuers[0]: jwks_file: set jwks_url or jwks_file, not both`},
		{"algorithm", issuer("    algorithms: [RS256, ES256]\n") + "audiences: [svc]\n" + policies,
			`:4: issuers[0]: algorithms[1]: unsupported algorithm "ES256"`},
		{"negative max_stale", issuer("    max_stale: -1h\n") + "audiences: [svc]\n" + policies,
			`:4: issuers[0]: max_stale: must not be negative`},
		{"duplicate issuer", issuer("  - url: "+gh+"\n") + "audiences: [svc]\n" + policies,
			`:4: issuers[1]: url: issuer "` + gh + `" is listed twice (also issuers[0])`},
		{"no issuers", "audiences: [svc]\n" + policies, `: issuers: no issuers`},
		{"no audiences", issuer("") + policies, `: audiences: no audiences`},
		{"empty audience", issuer("") + "audiences: [svc, \"\"]\n" + policies, `:4: audiences[1]: empty audience`},
		{"negative max_bytes", issuer("") + "audiences: [svc]\ntoken:\n  max_bytes: -1\n" + policies,
			`:6: token: max_bytes: must not be negative`},
		{"negative max_lifetime", issuer("") + "audiences: [svc]\ntoken:\n  max_lifetime: -1m\n" + policies,
			`:6: token: max_lifetime: must not be negative`},
		{"log level", issuer("") + "audiences: [svc]\nlog: {level: loud}\n" + policies,
			`:5: log: level: invalid level "loud"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := servicetest.WriteFile(t, t.TempDir(), "config.yaml", head+tc.config)
			checkErr := run(context.Background(), []string{"check", "--config", path}, io.Discard, io.Discard)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			serveErr := run(ctx, []string{"serve", "--config", path}, io.Discard, io.Discard)
			if checkErr == nil || serveErr == nil {
				t.Fatalf("check: %v; serve: %v; want both to refuse the file", checkErr, serveErr)
			}
			if checkErr.Error() != serveErr.Error() {
				t.Errorf("check and serve disagree:\ncheck: %v\nserve: %v", checkErr, serveErr)
			}
			if !strings.Contains(checkErr.Error(), path+tc.want) {
				t.Errorf("error %q\nwant a line %q", checkErr, path+tc.want)
			}
		})
	}
}
