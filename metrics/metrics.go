// Package metrics is the Prometheus instrumentation of actions-authz: what
// it decides and how fast, how its signing keys and its configuration fare,
// and how its token cache and decision log keep up.
//
// A Metrics registers its collectors on the registry it is given (the binary
// builds one with prometheus.NewRegistry in run; there is no global state)
// and exposes hooks for the parts it observes: Observe is an
// authz.ObserveFunc for every front door, OnFetch a claims.Config.OnFetch,
// CacheLookup a hook for the verified-token cache, DecoderFallback one for
// the CheckRequest decoder, Reloaded and
// ConfigLoaded for configuration reloads; Options take functions for the
// values others keep (readiness, dropped log lines).
//
// Every label value is bounded and comes from the configuration or from a
// closed set: policy names, issuer URLs, outcomes and reasons. Nothing a
// client sends (a repository, a path, a token) ever becomes a label.
package metrics

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actions-authz/actions-authz/authz"
)

// Namespace prefixes every metric name.
const Namespace = "actions_authz"

// CheckBuckets are the upper bounds, in seconds, of the Check duration
// histogram: from 50 microseconds (a cached token) to 1 second (a key
// refresh on an unknown kid).
var CheckBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1,
}

// Options configures a Metrics. Zero values mean the documented defaults.
type Options struct {
	// Now returns the current time; nil means time.Now. It dates key fetches
	// and reloads, and the age of each issuer's keys is computed with it.
	Now func() time.Time
	// Ready, if set, is exported as actions_authz_ready (1 when ready).
	Ready func() bool
	// Version, if set, is exported as the version label of
	// actions_authz_build_info.
	Version string
	// DroppedLogLines, if set, returns how many log lines have been dropped
	// so far because the log output could not keep up; it is exported as
	// actions_authz_log_lines_dropped_total.
	DroppedLogLines func() uint64
}

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	now func() time.Time

	decisions    *prometheus.CounterVec // policy, result, reason
	decided      sync.Map               // decisionLabels -> prometheus.Counter, children of decisions
	tokenFailure *prometheus.CounterVec // reason (a claims.Reason)
	duration     [5]prometheus.Observer // by authz.Outcome
	shadowEval   *prometheus.CounterVec // policy
	shadowDiff   *prometheus.CounterVec // policy, enforced, shadow

	fetches     *prometheus.CounterVec // issuer, result
	keys        *prometheus.GaugeVec   // issuer
	lastSuccess *prometheus.GaugeVec   // issuer

	cacheHit, cacheMiss prometheus.Counter
	decoderFallbacks    prometheus.Counter

	reloads      *prometheus.CounterVec // result
	configInfo   *prometheus.GaugeVec   // hash
	reloadOK     prometheus.Gauge
	reloadOKTime prometheus.Gauge

	mu      sync.Mutex
	issuers []string             // the configured issuers; nil until SetIssuers
	fetched map[string]time.Time // issuer -> last successful fetch
	hash    string               // the configuration in force
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	m := &Metrics{now: opts.Now, fetched: make(map[string]time.Time)}
	if m.now == nil {
		m.now = time.Now
	}
	var c collectors

	m.decisions = c.counterVec("decisions_total",
		"Decisions by policy (\"\" when no policy applies), result (allow, deny, unauthenticated, unavailable, too_large) and reason.",
		"policy", "result", "reason")
	m.tokenFailure = c.counterVec("token_failures_total",
		"Tokens refused by verification, by why (expired, bad_signature, unknown_key, ...).", "reason")
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    Namespace + "_check_duration_seconds",
		Help:    "Time to decide one request, from its arrival at a front door to its decision, by result.",
		Buckets: CheckBuckets,
	}, []string{"result"})
	c.add(durations)
	for _, o := range []authz.Outcome{authz.Deny, authz.Allow, authz.Unauthenticated, authz.Unavailable, authz.TooLarge} {
		m.duration[o] = durations.WithLabelValues(o.String())
	}
	m.shadowEval = c.counterVec("shadow_evaluations_total",
		"Requests whose policy's shadow rules were evaluated, by policy.", "policy")
	m.shadowDiff = c.counterVec("shadow_disagreements_total",
		"Requests on which a policy's shadow rules disagree with its enforced rules, by policy and the two verdicts.",
		"policy", "enforced", "shadow")

	m.fetches = c.counterVec("jwks_fetches_total", "Signing key set fetches by issuer and result (success, failure).",
		"issuer", "result")
	m.keys = c.gaugeVec("jwks_keys", "Signing keys held for each issuer.", "issuer")
	m.lastSuccess = c.gaugeVec("jwks_last_success_timestamp_seconds",
		"Unix time of the last successful key set fetch of each issuer.", "issuer")
	c.add(&keyAgeCollector{m: m, desc: prometheus.NewDesc(Namespace+"_jwks_key_age_seconds",
		"Seconds since the last successful key set fetch of each issuer; its tokens get 503 once this passes the issuer's max_stale.",
		[]string{"issuer"}, nil)})

	cache := c.counterVec("token_cache_requests_total", "Verified-token cache lookups by result (hit, miss).", "result")
	m.cacheHit, m.cacheMiss = cache.WithLabelValues("hit"), cache.WithLabelValues("miss")
	m.decoderFallbacks = c.counter("check_decoder_fallbacks_total",
		"CheckRequests the fast decoder could not read in full and handed to protobuf's; above zero, every such Check runs both (server.decoder).")

	m.reloads = c.counterVec("config_reloads_total", "Configuration reloads by result (success, failure).", "result")
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.configInfo = c.gaugeVec("config_info",
		"Always 1; the hash label is the SHA-256 (first 12 hex digits) of the configuration file in force.", "hash")
	m.reloadOK = c.gauge("config_last_reload_successful",
		"1 when the last configuration reload succeeded (or none was tried), 0 when it failed and the previous configuration is serving.")
	m.reloadOK.Set(1)
	m.reloadOKTime = c.gauge("config_last_reload_success_timestamp_seconds",
		"Unix time the configuration in force was loaded.")

	if ready := opts.Ready; ready != nil {
		c.add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: Namespace + "_ready",
			Help: "1 when the service is ready: configuration loaded and every issuer has keys that are not stale.",
		}, func() float64 {
			if ready() {
				return 1
			}
			return 0
		}))
	}
	if dropped := opts.DroppedLogLines; dropped != nil {
		c.add(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: Namespace + "_log_lines_dropped_total",
			Help: "Log lines dropped because the log output could not keep up.",
		}, func() float64 { return float64(dropped()) }))
	}
	if opts.Version != "" {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        Namespace + "_build_info",
			Help:        "Always 1; the version label is the version of the running binary.",
			ConstLabels: prometheus.Labels{"version": opts.Version},
		})
		info.Set(1)
		c.add(info)
	}
	for _, col := range c {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// collectors gathers what New registers; its methods create a collector
// named in Namespace and add it.
type collectors []prometheus.Collector

func (c *collectors) add(col prometheus.Collector) { *c = append(*c, col) }

func (c *collectors) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: Namespace + "_" + name, Help: help}, labels)
	c.add(v)
	return v
}

func (c *collectors) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: Namespace + "_" + name, Help: help}, labels)
	c.add(v)
	return v
}

func (c *collectors) counter(name, help string) prometheus.Counter {
	v := prometheus.NewCounter(prometheus.CounterOpts{Name: Namespace + "_" + name, Help: help})
	c.add(v)
	return v
}

func (c *collectors) gauge(name, help string) prometheus.Gauge {
	v := prometheus.NewGauge(prometheus.GaugeOpts{Name: Namespace + "_" + name, Help: help})
	c.add(v)
	return v
}

// Observe counts one decision and its duration. It is an authz.ObserveFunc.
func (m *Metrics) Observe(_ context.Context, _ *authz.Request, d *authz.Decision, elapsed time.Duration) {
	m.decisionCounter(d).Inc()
	if int(d.Outcome) < len(m.duration) {
		m.duration[d.Outcome].Observe(elapsed.Seconds())
	}
	if d.Reason == authz.ReasonInvalidToken {
		reason := d.Detail // a claims.Reason: a closed set
		if reason == "" {
			reason = "unknown"
		}
		m.tokenFailure.WithLabelValues(reason).Inc()
	}
	if d.Shadow != authz.ShadowNone {
		m.shadowEval.WithLabelValues(d.Policy).Inc()
		if d.ShadowDisagrees() {
			m.shadowDiff.WithLabelValues(d.Policy, d.Enforced().String(), d.Shadow.String()).Inc()
		}
	}
}

// decisionLabels is the label values of one decisions_total series.
type decisionLabels struct {
	policy string
	result authz.Outcome
	reason authz.Reason
}

// decisionCounter returns the decisions_total child for d. The children are
// kept in a map by their label values: WithLabelValues hashes and checks
// every value and takes the vector's lock on each call, on every Check.
// The label values are bounded (policy names, outcomes and reasons), and
// decisions_total series are never deleted, so the map only grows as the
// vector would.
func (m *Metrics) decisionCounter(d *authz.Decision) prometheus.Counter {
	k := decisionLabels{d.Policy, d.Outcome, d.Reason}
	if c, ok := m.decided.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.decisions.WithLabelValues(d.Policy, d.Outcome.String(), string(d.Reason))
	m.decided.Store(k, c)
	return c
}

// OnFetch records one key set fetch of issuer: keys is the number of keys
// now held, err the fetch error (nil on success). It is a
// claims.Config.OnFetch. A fetch cancelled because its verifier is
// stopping is not a failure and is not counted, and an issuer that
// SetIssuers did not list is ignored, so that a verifier replaced by a
// reload cannot bring back the series of an issuer no longer configured.
func (m *Metrics) OnFetch(issuer string, keys int, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.issuers != nil && !slices.Contains(m.issuers, issuer) {
		return
	}
	m.keys.WithLabelValues(issuer).Set(float64(keys))
	if err != nil {
		m.fetches.WithLabelValues(issuer, "failure").Inc()
		return
	}
	m.fetches.WithLabelValues(issuer, "success").Inc()
	m.lastSuccess.WithLabelValues(issuer).Set(float64(now.UnixNano()) / 1e9)
	m.fetched[issuer] = now
}

// SetIssuers declares the configured issuers: at start and after a reload
// that changes them. The key gauges of issuers no longer listed are removed;
// their fetch counters stay, as counters do.
func (m *Metrics) SetIssuers(urls []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.issuers {
		if !slices.Contains(urls, old) {
			m.keys.DeleteLabelValues(old)
			m.lastSuccess.DeleteLabelValues(old)
			delete(m.fetched, old)
		}
	}
	m.issuers = slices.Clone(urls)
	if m.issuers == nil {
		m.issuers = []string{}
	}
}

// CacheLookup counts one verified-token cache lookup: a hit or a miss.
func (m *Metrics) CacheLookup(hit bool) {
	if hit {
		m.cacheHit.Inc()
		return
	}
	m.cacheMiss.Inc()
}

// DecoderFallback counts one CheckRequest that the fast decoder handed to
// protobuf's: envoy.DecoderOptions.OnFallback.
func (m *Metrics) DecoderFallback() { m.decoderFallbacks.Inc() }

// ConfigLoaded records the configuration now in force by its hash (the
// file's SHA-256 in hex; the label keeps its first 12 digits). Call it at
// start and after every successful reload.
func (m *Metrics) ConfigLoaded(hash string) {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hash != "" && m.hash != hash {
		m.configInfo.DeleteLabelValues(m.hash)
	}
	m.hash = hash
	m.configInfo.WithLabelValues(hash).Set(1)
	m.reloadOKTime.Set(float64(m.now().UnixNano()) / 1e9)
}

// Reloaded counts one reload attempt: err is nil when the new configuration
// was swapped in, the reason it was refused otherwise.
func (m *Metrics) Reloaded(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reloadOK.Set(1)
}

// keyAgeCollector exports the age of each issuer's keys, computed when
// scraped.
type keyAgeCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *keyAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *keyAgeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.now()
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for issuer, t := range c.m.fetched {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), issuer)
	}
}
