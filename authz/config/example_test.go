package config_test

import (
	"fmt"

	"github.com/actions-authz/actions-authz/authz/config"
)

// deployPolicy allows a push to main in my-org/infra, or a tag v*, to
// deploy.
const deployPolicy = `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: ["https://deploy.example.com"]
policies:
  - name: deploy
    match: {hosts: [deploy.example.com], path_prefixes: [/deploy/]}
    allow:
      - {repository_owner_id: "1234567", repository: my-org/infra, ref: refs/heads/main}
      - {repository_owner_id: "1234567", ref: "refs/tags/v*"}
`

func ExampleParse() {
	cfg, err := config.Parse([]byte(deployPolicy))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Engine().Policies(), cfg.Token.Header, cfg.Upstream.HeaderPrefix)

	// Problems name their place; all of them are reported together.
	_, err = config.Parse([]byte(`
issuers: [{url: "http://issuer.example.com"}]
audiences: [svc]
policies:
  - name: build
    allow:
      - ref: refs/heads/main
      - repository_owner_id: 1234567
`))
	fmt.Println(err)
	// Output:
	// [deploy] authorization x-github-
	// line 2: issuers[0]: url: URL "http://issuer.example.com" must use https (http is accepted only for loopback hosts)
	// line 7: policy "build" (policies[0]): allow[0]: does not pin the repository owner: constrain repository_owner_id, repository_id, repository_owner, repository or enterprise_id with a value that cannot match every owner (GitHub signs tokens for every repository with the same keys), or set allow_any_repository: true on the policy
	// line 8: policy "build" (policies[0]): allow[1]: repository_owner_id: value 1234567 is a number; quote it ("1234567"): GitHub claims are strings
}
