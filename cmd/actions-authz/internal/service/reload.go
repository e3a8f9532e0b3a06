package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
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

// reloader puts a changed configuration file in force: it swaps the policy
// in the Authorizer and, when the issuers change, the verifier in the keys
// holder, and sets the log settings, all of them built by New and handed
// over in reloadDeps. Reloads run one at a time, on SIGHUP and when the
// configuration file changes; a file that does not load leaves everything
// as it was.
type reloader struct {
	reloadDeps
	path      string
	overrides func(*config.Config) // the command line's address overrides, applied to every file read
	debounce  time.Duration
	warmup    time.Duration

	mu         sync.Mutex // held through a reload; guards the fields below
	cfg        *config.Config
	failedHash string          // the last file refused, so an unrelated event does not count it again
	verifiers  context.Context // parent of every new verifier's Run: run's
	// keyFiles holds the content hash of each jwks_file of the verifier in
	// force, as last read into it on purpose (at its start, or by a
	// refetch): a change event refetches the issuers whose file differs.
	keyFiles map[string][32]byte
	watcher  *fsnotify.Watcher // nil when not watching
	watched  []string          // directories the watcher watches
}

// reloadDeps are what a reload swaps or updates, all built by New.
type reloadDeps struct {
	authorizer *authz.Authorizer // its policy, and verifier, are swapped
	keys       *keys             // the verifier in force, replaced when the issuers change
	// keysConfig turns a configuration into the verifier's.
	keysConfig func(*config.Config) claims.Config
	level      *slog.LevelVar   // log.level
	decisions  *decisionlog.Log // log.decisions
	metrics    *metrics.Metrics // reload counts, configuration hash, issuers
	logger     *slog.Logger
}

// newReloader returns the reloader of the configuration cfg, loaded from
// opts.ConfigPath and in force with the verifier of deps.keys (not started
// yet: the key files are hashed before it reads them).
func newReloader(cfg *config.Config, opts Options, deps reloadDeps) *reloader {
	r := &reloader{
		reloadDeps: deps,
		path:       opts.ConfigPath,
		overrides:  func(cfg *config.Config) { applyOverrides(cfg, opts) },
		debounce:   opts.TestHooks.Debounce,
		warmup:     opts.TestHooks.Warmup,
		cfg:        cfg,
	}
	if r.debounce <= 0 {
		r.debounce = defaultDebounce
	}
	if r.warmup <= 0 {
		r.warmup = defaultWarmup
	}
	issuers := deps.keys.current().cfg.Issuers
	r.keyFiles = hashKeyFiles(issuers)
	r.metrics.SetIssuers(issuerURLs(issuers))
	r.metrics.ConfigLoaded(cfg.Hash())
	return r
}

// run reloads on every value of hup and, after the debounce, on every
// change in the configuration's directory, until ctx is done.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) {
	r.mu.Lock()
	r.verifiers = ctx
	r.mu.Unlock()
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
	hash := config.Hash(data)
	if !force && (hash == r.cfg.Hash() || hash == r.failedHash) {
		return
	}
	cfg, err := config.Parse(data)
	if err != nil {
		r.refuse(fmt.Errorf("%s is invalid:\n%w", r.path, err), hash)
		return
	}
	r.overrides(cfg)
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
func (r *reloader) swap(ctx context.Context, cfg *config.Config) error {
	r.warnRestart(cfg)
	kc := r.keysConfig(cfg)
	old := r.keys.current()
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
	rv, err := newRunningVerifier(kc)
	if err != nil {
		r.metrics.SetIssuers(oldURLs)
		return fmt.Errorf("%s: %w", r.path, err)
	}
	rv.start(r.verifiers)
	if !rv.waitReady(ctx, r.warmup) {
		rv.stop()
		r.metrics.SetIssuers(oldURLs)
		return fmt.Errorf("%s: the new issuer configuration has no signing keys for every issuer after %v", r.path, r.warmup)
	}
	r.authorizer.Replace(rv.v, cfg.Engine())
	r.keys.replace(rv) // and stops old
	r.keyFiles = files
	r.watchKeyFiles()
	r.metrics.SetIssuers(newURLs)
	r.applyLogSettings(cfg)
	r.cfg = cfg
	r.logger.Info("key fetchers replaced", "issuers", newURLs, "audiences", kc.Audiences)
	return nil
}

func (r *reloader) applyLogSettings(cfg *config.Config) {
	r.level.Set(ParseLevel(cfg.Log.Level))
	r.decisions.Set(cfg.Log.Decisions)
}

// warnRestart logs the settings a reload cannot change.
func (r *reloader) warnRestart(cfg *config.Config) {
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
