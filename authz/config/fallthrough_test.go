package config

import (
	"strings"
	"testing"
)

func TestFallThroughWarnings(t *testing.T) {
	const head = `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: ["https://github.com/my-org"]
policies:
`
	const allow = "\n    allow: [{repository_owner_id: \"1\"}]\n"
	policy := func(name, match string) string {
		return "  - name: " + name + "\n    match: " + match + allow
	}
	tests := []struct {
		name     string
		policies []string
		want     []string // substrings, one per warning
	}{
		{"method falls through to a catch-all", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			policy("default", "{path_prefixes: [/]}"),
		}, []string{`line 6: policy "deploy" (policies[0]): match: a request under "/deploy/" with another method (not POST) ` +
			`falls through to policy "default" (policies[1]), whose match is broader`}},
		{"host falls through to a catch-all", []string{
			policy("deploy", "{hosts: [deploy.internal], path_prefixes: [/deploy/]}"),
			policy("default", "{path_prefixes: [/]}"),
		}, []string{`policy "deploy" (policies[0]): match: a request under "/deploy/" with another host falls through to policy "default"`}},
		{"method and host", []string{
			policy("deploy", "{hosts: [deploy.internal], methods: [POST]}"),
			policy("default", "{path_prefixes: [/]}"),
		}, []string{`policy "deploy" (policies[0]): match: a request with another method (not POST) or another host falls through`}},
		{"only the first broader policy is named", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			policy("reads", "{path_prefixes: [/deploy/], methods: [POST, GET]}"),
			policy("default", "{path_prefixes: [/]}"),
		}, []string{`policy "deploy" (policies[0]): match: a request under "/deploy/" with another method (not POST) falls through to policy "reads"`,
			`policy "reads" (policies[1]): match: a request under "/deploy/" with another method (not POST, GET) falls through to policy "default"`}},
		{"wildcard host covers the host", []string{
			policy("deploy", "{hosts: [deploy.example.com], methods: [POST]}"),
			policy("example", "{hosts: ['*.example.com']}"),
		}, []string{`policy "deploy" (policies[0]): match: a request with another method (not POST) or another host falls through to policy "example"`}},
		{"same host, more methods", []string{
			policy("deploy", "{hosts: ['*.example.com'], methods: [POST]}"),
			policy("example", "{hosts: [deploy.example.com, '*.example.com'], methods: [POST, PUT]}"),
		}, []string{`policy "deploy" (policies[0]): match: a request with another method (not POST) falls through to policy "example"`}},
		{"a policy without paths is not covered by one with paths", []string{
			policy("deploy", "{hosts: [deploy.internal]}"),
			policy("api", "{path_prefixes: [/api/]}"),
		}, nil},

		// No fall-through to warn about.
		{"every method of the paths is covered", []string{
			policy("deploy", "{path_prefixes: [/deploy/]}"),
			policy("default", "{path_prefixes: [/]}"),
		}, nil},
		{"the later policy is narrower in paths", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			policy("status", "{path_prefixes: [/deploy/status]}"),
		}, nil},
		{"the later policy is for other paths", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			policy("api", "{path_prefixes: [/api/]}"),
		}, nil},
		{"the later policy takes the same methods only", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			policy("posts", "{path_prefixes: [/], methods: [post]}"),
		}, nil},
		{"the later policy is for other hosts only", []string{
			policy("deploy", "{hosts: [deploy.internal], path_prefixes: [/deploy/]}"),
			policy("admin", "{hosts: [admin.internal]}"),
		}, nil},
		{"the later policy pins a port the first does not", []string{
			policy("deploy", "{hosts: [deploy.internal], methods: [POST]}"),
			policy("tls", "{hosts: ['deploy.internal:8443']}"),
		}, nil},
		{"a policy without match is never fallen through to", []string{
			policy("deploy", "{path_prefixes: [/deploy/], methods: [POST]}"),
			"  - name: named" + allow,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(head + strings.Join(tt.policies, "")))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("Warnings() = %q, want %d", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("warning %q, want it to hold %q", got[i], tt.want[i])
				}
			}
		})
	}
}
