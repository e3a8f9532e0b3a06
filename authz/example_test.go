package authz_test

import (
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
)

const policyFile = `
issuers:
  - url: https://token.actions.githubusercontent.com
audiences: ["https://deploy.example.com"]
upstream:
  claims: [repository, ref]
policies:
  - name: deploy
    match:
      hosts: [deploy.example.com]
      path_prefixes: [/deploy/]
    allow:
      - repository_owner_id: "1234567"
        repository: my-org/infra
        ref: refs/heads/main
      - repository_owner_id: "1234567"
        ref: "refs/tags/v*"
`

func ExampleEngine_Decide() {
	cfg, err := config.Parse([]byte(policyFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	engine := cfg.Engine()

	// Claims as the verifier returns them for a workflow run on a tag.
	c := &claims.Claims{
		RegisteredClaims:  jwt.RegisteredClaims{Audience: jwt.ClaimStrings{"https://deploy.example.com"}},
		Repository:        "my-org/app",
		RepositoryOwnerID: "1234567",
		Ref:               "refs/tags/v1.2.0",
	}
	d := engine.Decide(authz.Input{
		Request: authz.Request{
			Method:  "POST",
			Host:    "deploy.example.com",
			Path:    "/deploy/app?wait=1",
			Headers: map[string]string{"authorization": "Bearer ...", "x-github-actor": "spoofed"},
		},
		Claims: c,
	})
	fmt.Println(d.Outcome, d.Reason, d.Policy, d.Rule)
	fmt.Println(d.Set)
	fmt.Println(d.Remove)

	// Another organisation's repository: denied, without saying why.
	c.RepositoryOwnerID = "666"
	d = engine.Decide(authz.Input{Request: authz.Request{Policy: "deploy"}, Claims: c})
	fmt.Println(d.Outcome.HTTPStatus(), string(d.Body()))
	// Output:
	// allow allowed deploy 1
	// [{x-github-repository my-org/app} {x-github-ref refs/tags/v1.2.0}]
	// [authorization x-github-actor]
	// 403 {"error":"access_denied","error_description":"policy \"deploy\": no rule matched","policy":"deploy"}
}
