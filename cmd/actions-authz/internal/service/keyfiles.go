package service

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/internal/fileread"
)

// hashKeyFiles returns the content hash of the jwks_file of each issuer
// that has one; a file that cannot be read gets the zero hash, so that any
// later content differs.
func hashKeyFiles(issuers []claims.IssuerConfig) map[string][32]byte {
	out := make(map[string][32]byte)
	for _, ic := range issuers {
		if ic.JWKSFile != "" {
			out[ic.JWKSFile], _ = hashFile(ic.JWKSFile)
		}
	}
	return out
}

// hashFile returns the SHA-256 of the file at path, read with the bound of
// a key set.
func hashFile(path string) ([32]byte, error) {
	data, err := fileread.Limited(path, maxJWKSFileBytes)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(data), nil
}

// maxJWKSFileBytes bounds the read of a jwks_file for its hash; the
// verifier refuses a larger key set anyway.
const maxJWKSFileBytes = 1 << 20

// refetchKeys is the emergency path for a compromised key: it fetches anew
// the key sets of the verifier in force, all of them (SIGHUP), or, when all
// is false, those read from a jwks_file whose content changed since it was
// last read on purpose. Each fetch waits for one already running and starts
// its own (claims.Verifier.Refetch), so the keys are the set as it is now; a
// key that left the set or changed stops verifying at once, and the tokens
// it signed leave the cache. A failed fetch keeps that issuer's last good
// keys, and is logged. It waits for the fetches at most the warmup.
func (r *reloader) refetchKeys(ctx context.Context, reason string, all bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rv := r.keys.current()
	type target struct {
		url, file string
		hash      [32]byte
	}
	var targets []target
	for _, ic := range rv.cfg.Issuers {
		t := target{url: ic.URL, file: ic.JWKSFile}
		if t.file != "" {
			h, err := hashFile(t.file)
			if !all && (err != nil || h == r.keyFiles[t.file]) {
				continue // unchanged, or not readable now (being replaced): a later event retries
			}
			t.hash = h
		} else if !all {
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.warmup)
	defer cancel()
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { errs[i] = rv.v.Refetch(ctx, t.url) })
	}
	wg.Wait()
	var fetched, failed []string
	for i, t := range targets {
		if errs[i] != nil {
			failed = append(failed, t.url)
			continue
		}
		fetched = append(fetched, t.url)
		if t.file != "" {
			r.keyFiles[t.file] = t.hash
		}
	}
	log := r.logger.Info
	if len(failed) > 0 {
		log = r.logger.Warn
	}
	log("signing keys fetched anew", "reason", reason, "issuers", fetched, "failed", failed)
}
