package envoy_test

// Validation of Envoy configuration without an Envoy binary: the YAML is read
// into go-control-plane's protos with protojson (unknown fields refused, every
// type that may sit in an Any registered), validated with PGV down to the
// content of every Any, and cross-checked for what only Envoy itself checks
// at load time. See reference/envoy-ext-authz.md §7.

import (
	"errors"
	"fmt"
	"slices"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/actions-authz/actions-authz/envoy/envoytest"

	// The other types the files put in an Any (the stdout access logger, and
	// the file one users often switch to): protojson resolves "@type" through
	// the global registry, so a type not linked in is an error.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
)

// Type names the cross-checks look for.
var (
	hcmType          = string((&hcmv3.HttpConnectionManager{}).ProtoReflect().Descriptor().FullName())
	extAuthzType     = string((&extauthzv3.ExtAuthz{}).ProtoReflect().Descriptor().FullName())
	extAuthzPerRoute = string((&extauthzv3.ExtAuthzPerRoute{}).ProtoReflect().Descriptor().FullName())
	routerType       = string((&routerv3.Router{}).ProtoReflect().Descriptor().FullName())
	httpOptionsType  = string((&upstreamhttpv3.HttpProtocolOptions{}).ProtoReflect().Descriptor().FullName())
)

// validateEnvoyConfig parses an Envoy bootstrap file and returns every
// problem found: schema (PGV, inside every Any too) and cross-references.
func validateEnvoyConfig(data []byte) (*bootstrapv3.Bootstrap, error) {
	b := new(bootstrapv3.Bootstrap)
	if err := envoytest.UnmarshalYAML(data, b); err != nil {
		return nil, err
	}
	errs := envoytest.Validate(b, "")
	errs = append(errs, crossCheck(b)...)
	return b, errors.Join(errs...)
}

// crossCheck does what Envoy checks at load time and PGV cannot express:
// unique listener and cluster names, the router last among the HTTP
// filters, every cluster a route or the ext_authz filter names exists, the
// ext_authz cluster speaks HTTP/2, and every typed_per_filter_config key
// names a configured filter (with the right type for ext_authz).
func crossCheck(b *bootstrapv3.Bootstrap) []error {
	var errs []error
	sr := b.GetStaticResources()
	clusters := make(map[string]*clusterv3.Cluster)
	for i, c := range sr.GetClusters() {
		if _, dup := clusters[c.GetName()]; dup {
			errs = append(errs, fmt.Errorf("static_resources.clusters[%d]: duplicate cluster name %q", i, c.GetName()))
		}
		clusters[c.GetName()] = c
	}
	listeners := make(map[string]bool)
	for i, l := range sr.GetListeners() {
		place := fmt.Sprintf("static_resources.listeners[%d](%s)", i, l.GetName())
		if listeners[l.GetName()] {
			errs = append(errs, fmt.Errorf("%s: duplicate listener name", place))
		}
		listeners[l.GetName()] = true
		chains := l.GetFilterChains()
		if dc := l.GetDefaultFilterChain(); dc != nil {
			chains = append(slices.Clip(chains), dc)
		}
		for j, fc := range chains {
			for k, f := range fc.GetFilters() {
				if f.GetTypedConfig().MessageName() != protoreflect.FullName(hcmType) {
					continue
				}
				hcm := new(hcmv3.HttpConnectionManager)
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					continue // reported by envoytest.Validate
				}
				p := fmt.Sprintf("%s.filter_chains[%d].filters[%d](%s)", place, j, k, f.GetName())
				errs = append(errs, checkHCM(hcm, p, clusters)...)
			}
		}
	}
	return errs
}

// checkHCM cross-checks one HTTP connection manager.
func checkHCM(hcm *hcmv3.HttpConnectionManager, place string, clusters map[string]*clusterv3.Cluster) []error {
	var errs []error
	filters := hcm.GetHttpFilters()
	if len(filters) == 0 {
		errs = append(errs, fmt.Errorf("%s: http_filters is empty (the router is required)", place))
	}
	filterTypes := make(map[string]string, len(filters)) // name -> config type
	for i, f := range filters {
		p := fmt.Sprintf("%s.http_filters[%d](%s)", place, i, f.GetName())
		typ := string(f.GetTypedConfig().MessageName())
		if _, dup := filterTypes[f.GetName()]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate http filter name", p))
		}
		filterTypes[f.GetName()] = typ
		last := i == len(filters)-1
		switch {
		case typ == routerType && !last:
			errs = append(errs, fmt.Errorf("%s: the router is a terminal filter and must be the last http filter", p))
		case typ != routerType && last:
			errs = append(errs, fmt.Errorf("%s: the last http filter must be the router (envoy.filters.http.router), not %s", p, orNone(typ)))
		}
		if typ == extAuthzType {
			ea := new(extauthzv3.ExtAuthz)
			if f.GetTypedConfig().UnmarshalTo(ea) == nil {
				errs = append(errs, checkExtAuthz(ea, p, clusters)...)
			}
		}
	}
	if rc := hcm.GetRouteConfig(); rc != nil {
		p := place + ".route_config"
		for i, vh := range rc.GetVirtualHosts() {
			vp := fmt.Sprintf("%s.virtual_hosts[%d](%s)", p, i, vh.GetName())
			errs = append(errs, checkPerFilter(vh.GetTypedPerFilterConfig(), vp, filterTypes)...)
			for j, r := range vh.GetRoutes() {
				errs = append(errs, checkRoute(r, fmt.Sprintf("%s.routes[%d]", vp, j), clusters, filterTypes)...)
			}
		}
	}
	return errs
}

func orNone(s string) string {
	if s == "" {
		return "a filter without typed_config"
	}
	return s
}

// checkExtAuthz checks that the filter's gRPC (or HTTP) service cluster
// exists and that a gRPC cluster speaks HTTP/2.
func checkExtAuthz(ea *extauthzv3.ExtAuthz, place string, clusters map[string]*clusterv3.Cluster) []error {
	if name := ea.GetGrpcService().GetEnvoyGrpc().GetClusterName(); ea.GetGrpcService().GetEnvoyGrpc() != nil {
		c, ok := clusters[name]
		switch {
		case !ok:
			return []error{fmt.Errorf("%s: grpc_service.envoy_grpc.cluster_name %q names no cluster", place, name)}
		case !speaksHTTP2(c):
			return []error{fmt.Errorf("%s: cluster %q carries gRPC and must speak HTTP/2: set typed_extension_protocol_options[%s].explicit_http_config.http2_protocol_options", place, name, httpOptionsType)}
		}
	}
	if su := ea.GetHttpService().GetServerUri(); su != nil {
		if _, ok := clusters[su.GetCluster()]; !ok {
			return []error{fmt.Errorf("%s: http_service.server_uri.cluster %q names no cluster", place, su.GetCluster())}
		}
	}
	return nil
}

// speaksHTTP2 reports whether the cluster talks HTTP/2 to its endpoints,
// as a gRPC client needs.
func speaksHTTP2(c *clusterv3.Cluster) bool {
	//lint:ignore SA1019 a deprecated field Envoy still honours, so a file using it is valid
	if c.GetHttp2ProtocolOptions() != nil {
		return true
	}
	a, ok := c.GetTypedExtensionProtocolOptions()[httpOptionsType]
	if !ok {
		return false
	}
	opts := new(upstreamhttpv3.HttpProtocolOptions)
	if a.UnmarshalTo(opts) != nil {
		return false
	}
	return opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

// checkRoute checks the clusters a route sends to and its per-filter
// configuration.
func checkRoute(r *routev3.Route, place string, clusters map[string]*clusterv3.Cluster, filterTypes map[string]string) []error {
	var errs []error
	ra := r.GetRoute()
	if name := ra.GetCluster(); name != "" {
		if _, ok := clusters[name]; !ok {
			errs = append(errs, fmt.Errorf("%s: route.cluster %q names no cluster", place, name))
		}
	}
	for i, wc := range ra.GetWeightedClusters().GetClusters() {
		if _, ok := clusters[wc.GetName()]; !ok {
			errs = append(errs, fmt.Errorf("%s: route.weighted_clusters.clusters[%d] %q names no cluster", place, i, wc.GetName()))
		}
	}
	return append(errs, checkPerFilter(r.GetTypedPerFilterConfig(), place, filterTypes)...)
}

// checkPerFilter checks that each typed_per_filter_config key is the name of
// an http filter, and that ext_authz gets an ExtAuthzPerRoute.
func checkPerFilter(m map[string]*anypb.Any, place string, filterTypes map[string]string) []error {
	var errs []error
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		typ, ok := filterTypes[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: typed_per_filter_config[%s] names no http filter", place, k))
		case typ == extAuthzType && string(m[k].MessageName()) != extAuthzPerRoute:
			errs = append(errs, fmt.Errorf("%s: typed_per_filter_config[%s] must be a %s, not %s", place, k, extAuthzPerRoute, m[k].MessageName()))
		}
	}
	return errs
}
