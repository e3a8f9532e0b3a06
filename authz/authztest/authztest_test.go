package authztest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims/devissuer"
)

func TestStart(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	iss, err := devissuer.New(devissuer.Options{URL: "http://" + srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	srv.Start()
	defer srv.Close()
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
