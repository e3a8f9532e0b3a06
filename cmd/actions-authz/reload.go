package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/internal/fileread"
	"github.com/actions-authz/actions-authz/metrics"
)

// Reload timing defaults.
const (
	// defaultDebounce is how long the configuration's directory must be
	// quiet after a change before the file is read: editors and Kubernetes
	// replace a file in several steps.
	defaultDebounce = 250 * time.Millisecond
	// defaultWarmup bounds how long a reload that changes the issuers waits
	// for the new key sets before it gives up and keeps the old configuration.
	defaultWarmup = 15 * time.Second
)

// runningVerifier is a claims.Verifier with its Run loop.
type runningVerifier struct {
	v      *claims.Verifier
	cfg    claims.Config // as built, for comparison on reload
	cancel context.CancelFunc
	done   chan struct{}
}

// startVerifier builds a Verifier for cfg and starts its Run loop under ctx.
func startVerifier(ctx context.Context, cfg claims.Config) (*runningVerifier, error) {
	v, err := claims.NewVerifier(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	rv := &runningVerifier{v: v, cfg: cfg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rv.done)
		v.Run(ctx) // returns nil when ctx is done; a second Run is impossible here
	}()
	return rv, nil
}

// stop ends the Run loop and waits for it: no key fetcher of this verifier
// is left running. Requests that still hold the verifier may finish with it.
func (rv *runningVerifier) stop() {
	rv.cancel()
	<-rv.done
}

// waitReady waits until every issuer of rv has keys, at most for d.
func (rv *runningVerifier) waitReady(ctx context.Context, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !rv.v.Ready() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return rv.v.Ready()
		case <-tick.C:
		}
	}
	return true
}

// reloader owns what a configuration reload replaces: the policy in the
// Authorizer, the token verifier and its key fetchers, and the log
// settings. Reloads run one at a time, on SIGHUP and when the
// configuration file changes; a file that does not load leaves everything
// as it was.
type reloader struct {
	path      string
	opts      serveOptions // command-line overrides, re-applied to every file
	logger    *slog.Logger
	level     *slog.LevelVar
	decisions *decisionlog.Log
	metrics   *metrics.Metrics
	// keysConfig turns a configuration into the verifier's.
	keysConfig func(*authz.Config) claims.Config
	debounce   time.Duration
	warmup     time.Duration

	authorizer *authz.Authorizer

	// active is the verifier in force; readiness follows it.
	active atomic.Pointer[runningVerifier]

	mu         sync.Mutex // held through a reload; guards the fields below
	cfg        *authz.Config
	failedHash string          // the last file refused, so an unrelated event does not count it again
	verifiers  context.Context // parent of every verifier's Run
	// keyFiles holds the content hash of each jwks_file of the verifier in
	// force, as last read into it on purpose (at its start, or by a
	// refetch): a change event refetches the issuers whose file differs.
	keyFiles map[string][32]byte
	watcher  *fsnotify.Watcher // nil when not watching
	watched  []string          // directories the watcher watches
}

// start builds the first verifier and the Authorizer for cfg; the
// verifier's key fetchers run until ctx is done or stop is called.
func (r *reloader) start(ctx context.Context, cfg *authz.Config) error {
	kc := r.keysConfig(cfg)
	files := hashKeyFiles(kc.Issuers) // before the verifier reads them
	rv, err := startVerifier(ctx, kc)
	if err != nil {
		return err
	}
	r.keyFiles = files
	r.verifiers = ctx
	r.cfg = cfg
	r.active.Store(rv)
	r.authorizer = authz.NewAuthorizer(rv.v, cfg.Engine())
	r.metrics.SetIssuers(issuerURLs(rv.cfg.Issuers))
	r.metrics.ConfigLoaded(cfg.Hash())
	return nil
}

// ready reports whether the verifier in force has keys for every issuer.
func (r *reloader) ready() bool {
	rv := r.active.Load()
	return rv != nil && rv.v.Ready()
}

// stop stops the key fetchers of the verifier in force.
func (r *reloader) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active.Load().stop()
}

// run reloads on every value of hup and, after the debounce, on every
// change in the configuration's directory, until ctx is done.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) {
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := r.watch(ctx, &wg, changed); err != nil {
		r.logger.Warn("not watching the configuration file; reload with SIGHUP", "config", r.path, "error", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx, true)
			r.refetchKeys(ctx, "SIGHUP", true)
		case <-changed:
			r.reload(ctx, false)
			r.refetchKeys(ctx, "jwks_file changed", false)
		}
	}
}

// watch watches the directory of the configuration file (and of the file
// it links to), because editors and Kubernetes ConfigMaps replace the file
// by a rename or a symbolic link swap, which a watch on the file itself
// would lose, and likewise the directories of the jwks_file key sets. Any
// event there, once the directories have been quiet for the debounce,
// signals changed; reload then reads the file and does nothing if its
// content did not change, and refetchKeys refetches the issuers whose
// jwks_file changed.
func (r *reloader) watch(ctx context.Context, wg *sync.WaitGroup, changed chan<- struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	for _, d := range fileDirs(r.path) {
		if err := w.Add(d); err != nil {
			w.Close()
			return err
		}
		r.watched = append(r.watched, d)
	}
	r.mu.Lock()
	r.watcher = w
	r.watchKeyFiles()
	r.mu.Unlock()
	wg.Go(func() {
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				timer.Reset(r.debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.logger.Warn("watching the configuration file", "error", err)
			case <-timer.C:
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	})
	return nil
}

// fileDirs returns the directory of path and, when path is a symbolic
// link, of the file it links to.
func fileDirs(path string) []string {
	dirs := []string{filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && !slices.Contains(dirs, filepath.Dir(real)) {
		dirs = append(dirs, filepath.Dir(real))
	}
	return dirs
}

// watchKeyFiles adds the directories of the jwks_file key sets in force to
// the watcher, if any. A directory that cannot be watched is logged: its
// keys still change on SIGHUP and on every refresh. The caller holds r.mu.
func (r *reloader) watchKeyFiles() {
	if r.watcher == nil {
		return
	}
	for path := range r.keyFiles {
		for _, d := range fileDirs(path) {
			if slices.Contains(r.watched, d) {
				continue
			}
			if err := r.watcher.Add(d); err != nil {
				r.logger.Warn("not watching a jwks_file; refetch its keys with SIGHUP", "jwks_file", path, "error", err)
				continue
			}
			r.watched = append(r.watched, d)
		}
	}
}

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
	rv := r.active.Load()
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

// reload reads the configuration file and, when it is valid, swaps it in.
// force (SIGHUP) reloads even a file whose content did not change; a change
// event skips it, and skips a file already refused as invalid.
func (r *reloader) reload(ctx context.Context, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.refuse(err, "")
		return
	}
	hash := authz.HashConfig(data)
	if !force && (hash == r.cfg.Hash() || hash == r.failedHash) {
		return
	}
	cfg, err := authz.ParseConfig(data)
	if err != nil {
		r.refuse(fmt.Errorf("%s is invalid:\n%w", r.path, err), hash)
		return
	}
	applyOverrides(cfg, r.opts)
	if err := r.swap(ctx, cfg); err != nil {
		// A valid file whose new issuers had no keys yet: the next change
		// event may find them, so the file is not marked as refused.
		r.refuse(err, "")
		return
	}
	r.failedHash = ""
	for _, w := range cfg.Warnings() {
		r.logger.Warn("configuration warning", "warning", w)
	}
	r.logger.Info("configuration reloaded", "config", r.path, "hash", shortHash(cfg.Hash()),
		"policies", len(cfg.Policies), "issuers", len(cfg.Issuers))
	r.metrics.Reloaded(nil)
	r.metrics.ConfigLoaded(cfg.Hash())
}

// refuse logs and counts a reload that did not happen.
func (r *reloader) refuse(err error, hash string) {
	r.failedHash = hash
	r.logger.Error("configuration reload refused; the previous configuration keeps serving",
		"config", r.path, "hash", shortHash(r.cfg.Hash()), "error", err.Error())
	r.metrics.Reloaded(err)
}

// swap puts cfg in force. When the verifier's settings (issuers, audiences,
// leeway, token size) are unchanged, only the policy is swapped. Otherwise a
// new verifier is started and must get keys for every issuer within the
// warmup; then the verifier and the policy are swapped together and the old
// verifier's key fetchers are stopped. If it does not, it is stopped and the
// reload refused, so a reload never makes a ready service unready.
func (r *reloader) swap(ctx context.Context, cfg *authz.Config) error {
	r.warnRestart(cfg)
	kc := r.keysConfig(cfg)
	old := r.active.Load()
	if sameKeysConfig(old.cfg, kc) {
		r.authorizer.SetEngine(cfg.Engine())
		r.applyLogSettings(cfg)
		r.cfg = cfg
		return nil
	}

	oldURLs, newURLs := issuerURLs(old.cfg.Issuers), issuerURLs(kc.Issuers)
	// Count the new verifier's fetches while it warms up, even of issuers
	// not yet in force: they show why a reload waits or fails.
	r.metrics.SetIssuers(union(oldURLs, newURLs))
	files := hashKeyFiles(kc.Issuers) // before the verifier reads them
	rv, err := startVerifier(r.verifiers, kc)
	if err != nil {
		r.metrics.SetIssuers(oldURLs)
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if !rv.waitReady(ctx, r.warmup) {
		rv.stop()
		r.metrics.SetIssuers(oldURLs)
		return fmt.Errorf("%s: the new issuer configuration has no signing keys for every issuer after %v", r.path, r.warmup)
	}
	r.authorizer.Replace(rv.v, cfg.Engine())
	r.active.Store(rv)
	r.keyFiles = files
	r.watchKeyFiles()
	old.stop()
	r.metrics.SetIssuers(newURLs)
	r.applyLogSettings(cfg)
	r.cfg = cfg
	r.logger.Info("key fetchers replaced", "issuers", newURLs, "audiences", kc.Audiences)
	return nil
}

func (r *reloader) applyLogSettings(cfg *authz.Config) {
	r.level.Set(parseLevel(cfg.Log.Level))
	r.decisions.Set(cfg.Log.Decisions)
}

// warnRestart logs the settings a reload cannot change.
func (r *reloader) warnRestart(cfg *authz.Config) {
	var keys []string
	if !reflect.DeepEqual(r.cfg.Server, cfg.Server) {
		keys = append(keys, "server")
	}
	if r.cfg.Cache != cfg.Cache {
		keys = append(keys, "cache")
	}
	if !reflect.DeepEqual(r.cfg.Telemetry, cfg.Telemetry) {
		keys = append(keys, "telemetry")
	}
	if len(keys) > 0 {
		r.logger.Warn("configuration reloaded without some settings; restart to apply them", "settings", keys)
	}
}

// applyOverrides applies the command-line flags that override the file.
func applyOverrides(cfg *authz.Config, o serveOptions) {
	if o.grpcAddr != "" {
		cfg.Server.GRPCAddr = o.grpcAddr
	}
	if o.httpAddr != "" {
		cfg.Server.HTTPAddr = o.httpAddr
	}
}

// sameKeysConfig reports whether two verifier configurations would verify
// alike; hooks (logger, clock, OnFetch) are the same in both.
func sameKeysConfig(a, b claims.Config) bool {
	return reflect.DeepEqual(a.Issuers, b.Issuers) && slices.Equal(a.Audiences, b.Audiences) &&
		a.Leeway == b.Leeway && a.MaxBytes == b.MaxBytes && a.MaxLifetime == b.MaxLifetime
}

func issuerURLs(list []claims.IssuerConfig) []string {
	out := make([]string, len(list))
	for i, is := range list {
		out[i] = is.URL
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// shortHash is the first 12 hex digits of a configuration hash, as logs and
// metrics show it.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
