package claims

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

// Run fetches every issuer's keys, retrying failures with a capped backoff,
// then refreshes each issuer every RefreshInterval (with ±10% jitter) until
// ctx is done, and returns nil. A failed refresh is logged and retried sooner;
// the last good keys keep serving until they are older than MaxStale. Run may
// be called again after it returned, but not while it runs.
func (v *Verifier) Run(ctx context.Context) error {
	if !v.running.CompareAndSwap(false, true) {
		return errors.New("claims: Verifier.Run is already running")
	}
	defer v.running.Store(false)

	var wg sync.WaitGroup
	for _, is := range v.ordered {
		wg.Go(func() { is.KeepFresh(ctx, v.retryMin, v.retryMax) })
	}
	wg.Wait()
	return nil
}

// Refresh fetches the keys of the issuer whose URL is issuerURL now, or waits
// for the fetch already running for it, and returns that fetch's error. On
// failure the issuer keeps its last good keys. Run calls it on schedule; a
// one-shot caller without Run (a CLI, a test) calls it to load keys.
func (v *Verifier) Refresh(ctx context.Context, issuerURL string) error {
	is, err := v.issuer(issuerURL)
	if err != nil {
		return err
	}
	return is.Refresh(ctx)
}

// Refetch fetches the keys of the issuer whose URL is issuerURL anew, and
// returns that fetch's error: the emergency path, for when an operator knows
// the issuer's key set changed (a key rotated or revoked, perhaps under the
// same kid). Unlike Refresh it does not settle for a fetch already running,
// which may have read the set before it changed: it waits for that one to
// finish, then fetches again. A successful fetch drops at once every cached
// token whose signing key left the set or changed; a failed one keeps the
// last good keys, as any refresh does.
func (v *Verifier) Refetch(ctx context.Context, issuerURL string) error {
	is, err := v.issuer(issuerURL)
	if err != nil {
		return err
	}
	return is.Refetch(ctx)
}

// issuer returns the key set of the issuer whose URL is issuerURL.
func (v *Verifier) issuer(issuerURL string) (*keyset.Set, error) {
	is, ok := v.issuers[issuerURL]
	if !ok {
		return nil, fmt.Errorf("claims: issuer %q is not configured", issuerURL)
	}
	return is, nil
}

// Ready reports whether every issuer has signing keys that are not stale,
// that is whether Verify can check a token from any configured issuer.
func (v *Verifier) Ready() bool {
	for _, is := range v.ordered {
		if !is.Usable() {
			return false
		}
	}
	return true
}
