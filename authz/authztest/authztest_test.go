package authztest

import (
	"context"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
)

func TestStart(t *testing.T) {
	iss := devissuertest.Start(t, devissuer.Options{})
	st := Start(t, `
issuers: [{url: `+iss.URL()+`}]
audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow: [{repository_owner_id: "123456"}]
`)
	WaitReady(t, st.Verifier)
	tok, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := st.Authorizer.Authorize(context.Background(), authz.Request{Path: "/", Headers: map[string]string{"authorization": "Bearer " + tok}})
	if d.Outcome != authz.Allow {
		t.Errorf("decision %v (%s), want allow", d.Outcome, d.Reason)
	}
}
