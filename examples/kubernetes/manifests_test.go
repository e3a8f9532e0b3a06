package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

// securityPolicy is the part of Envoy Gateway's
// gateway.envoyproxy.io/v1alpha1 SecurityPolicy that the example uses,
// with the field names of its CRD; decoding is strict, so a misspelt or
// misplaced field fails.
type securityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		TargetRefs []struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
			Name  string `json:"name"`
		} `json:"targetRefs"`
		ExtAuth struct {
			FailOpen *bool `json:"failOpen"`
			GRPC     *struct {
				BackendRefs []struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
					Port      int32  `json:"port"`
				} `json:"backendRefs"`
			} `json:"grpc"`
		} `json:"extAuth"`
	} `json:"spec"`
}

// istioAuthorizationPolicy is an Istio AuthorizationPolicy: Kubernetes
// metadata around the spec of istio.io/api, decoded with protojson.
type istioAuthorizationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              json.RawMessage `json:"spec"`
}

// manifests is every object of the examples, by kind.
type manifests struct {
	namespaces   []*corev1.Namespace
	configMaps   []*corev1.ConfigMap
	deployments  []*appsv1.Deployment
	services     []*corev1.Service
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
	istioPolicy  []*istioAuthorizationPolicy
	istioSpecs   []*securityv1beta1.AuthorizationPolicy
	securityPols []*securityPolicy
	grants       []*gatewayv1beta1.ReferenceGrant
}

// load decodes every YAML document under the example folder strictly into
// the type its apiVersion and kind name.
func load(t *testing.T) *manifests {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			where := fmt.Sprintf("%s, document %d", f, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			strict := func(obj any) {
				t.Helper()
				if err := yaml.UnmarshalStrict(doc, obj); err != nil {
					t.Fatalf("%s: %s %s: %v", where, tm.APIVersion, tm.Kind, err)
				}
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Namespace":
				o := new(corev1.Namespace)
				strict(o)
				m.namespaces = append(m.namespaces, o)
			case "v1 ConfigMap":
				o := new(corev1.ConfigMap)
				strict(o)
				m.configMaps = append(m.configMaps, o)
			case "apps/v1 Deployment":
				o := new(appsv1.Deployment)
				strict(o)
				m.deployments = append(m.deployments, o)
			case "v1 Service":
				o := new(corev1.Service)
				strict(o)
				m.services = append(m.services, o)
			case "autoscaling/v2 HorizontalPodAutoscaler":
				o := new(autoscalingv2.HorizontalPodAutoscaler)
				strict(o)
				m.hpas = append(m.hpas, o)
			case "policy/v1 PodDisruptionBudget":
				o := new(policyv1.PodDisruptionBudget)
				strict(o)
				m.pdbs = append(m.pdbs, o)
			case "security.istio.io/v1 AuthorizationPolicy":
				o := new(istioAuthorizationPolicy)
				strict(o)
				spec := new(securityv1beta1.AuthorizationPolicy)
				if err := protojson.Unmarshal(o.Spec, spec); err != nil {
					t.Fatalf("%s: AuthorizationPolicy spec: %v", where, err)
				}
				m.istioPolicy = append(m.istioPolicy, o)
				m.istioSpecs = append(m.istioSpecs, spec)
			case "gateway.envoyproxy.io/v1alpha1 SecurityPolicy":
				o := new(securityPolicy)
				strict(o)
				m.securityPols = append(m.securityPols, o)
			case "gateway.networking.k8s.io/v1beta1 ReferenceGrant":
				o := new(gatewayv1beta1.ReferenceGrant)
				strict(o)
				m.grants = append(m.grants, o)
			default:
				t.Fatalf("%s: no API type for %s %s", where, tm.APIVersion, tm.Kind)
			}
		}
	}
	return m
}

func one[T any](t *testing.T, what string, list []T) T {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%d %s, want 1", len(list), what)
	}
	return list[0]
}

func (m *manifests) configMap(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	for _, c := range m.configMaps {
		if c.Namespace == ns && c.Name == name {
			return c
		}
	}
	t.Fatalf("no ConfigMap %s/%s", ns, name)
	return nil
}

func (m *manifests) service(t *testing.T, ns, name string) *corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s/%s", ns, name)
	return nil
}

// servicePort returns the port of svc named name.
func servicePort(t *testing.T, svc *corev1.Service, name string) corev1.ServicePort {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("Service %s has no port %q", svc.Name, name)
	return corev1.ServicePort{}
}

// containerPort returns the number of the container port named name.
func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, name)
	return 0
}

func addrPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// checkConfig runs "actions-authz check" on a configuration, built from
// the repository's own module, so that this module needs none of its
// dependencies.
func checkConfig(t *testing.T, config string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./cmd/actions-authz", "check", "--config", path)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actions-authz check on the ConfigMap's configuration: %v\n%s", err, out)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := load(t)
	ns := one(t, "namespaces", m.namespaces).Name
	dep := one(t, "Deployments", m.deployments)
	pod := dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	c := &pod.Spec.Containers[0]

	// The Deployment: 3 replicas, its selector matching its pods.
	if dep.Namespace != ns || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("Deployment %s/%s: replicas %v, want 3 in %s", dep.Namespace, dep.Name, dep.Spec.Replicas, ns)
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pod labels %v", dep.Spec.Selector, pod.Labels)
	}

	// Probes on the HTTP port: readiness /readyz, liveness /healthz.
	httpPort, grpcPort := containerPort(t, c, "http"), containerPort(t, c, "grpc")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || (g.Port.String() != "http" && g.Port.IntVal != httpPort) {
			t.Errorf("%s probe: %s on port %s, want %s on the http port", p.name, g.Path, g.Port.String(), p.path)
		}
	}

	// Resources and hardening.
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("the container requests no CPU or no memory")
	}
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("the pod does not run as non-root")
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the root filesystem is not read-only")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation is allowed")
	}

	// The configuration: mounted from the ConfigMap at the path --config
	// names, valid for actions-authz, listening on the container's ports.
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("container args %v lack --config", c.Args)
	}
	configPath := c.Args[i+1]
	var cmName string
	for _, vm := range c.VolumeMounts {
		if filepath.Dir(configPath) == filepath.Clean(vm.MountPath) {
			for _, v := range pod.Spec.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	if cmName == "" {
		t.Fatalf("no ConfigMap volume is mounted at %s", filepath.Dir(configPath))
	}
	data, ok := m.configMap(t, ns, cmName).Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cmName, filepath.Base(configPath))
	}
	checkConfig(t, data)
	var cfg struct {
		Server struct {
			GRPCAddr      string `json:"grpc_addr"`
			HTTPAddr      string `json:"http_addr"`
			ShutdownGrace string `json:"shutdown_grace"`
			DrainDelay    string `json:"drain_delay"`
		} `json:"server"`
	}
	if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
		t.Fatal(err)
	}
	if addrPort(t, cfg.Server.GRPCAddr) != grpcPort || addrPort(t, cfg.Server.HTTPAddr) != httpPort {
		t.Errorf("configuration listens on %s and %s, the container exposes %d and %d",
			cfg.Server.GRPCAddr, cfg.Server.HTTPAddr, grpcPort, httpPort)
	}
	// On SIGTERM the replica drains, then stops: the kubelet must not kill
	// it before both are over. The ConfigMap spells both out, so that the
	// sum is checked here rather than assumed from the defaults.
	grace, err := time.ParseDuration(cfg.Server.ShutdownGrace)
	if err != nil {
		t.Fatalf("server.shutdown_grace: %v", err)
	}
	drain, err := time.ParseDuration(cfg.Server.DrainDelay)
	if err != nil {
		t.Fatalf("server.drain_delay: %v", err)
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil || float64(*pod.Spec.TerminationGracePeriodSeconds) <= (drain+grace).Seconds() {
		t.Errorf("terminationGracePeriodSeconds %v must exceed drain_delay %v + shutdown_grace %v", pod.Spec.TerminationGracePeriodSeconds, drain, grace)
	}

	// Services: select the pods, target the container's ports by name.
	if len(m.services) == 0 {
		t.Fatal("no Service")
	}
	for _, svc := range m.services {
		if svc.Namespace != ns || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s does not select the pods", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if got := containerPort(t, c, p.TargetPort.String()); got != p.Port {
				t.Errorf("Service %s port %s: %d, container port %d", svc.Name, p.Name, p.Port, got)
			}
		}
	}

	// HPA and PDB: on this Deployment and its pods, compatible with 3 replicas.
	hpa := one(t, "HorizontalPodAutoscalers", m.hpas)
	if r := hpa.Spec.ScaleTargetRef; r.Kind != "Deployment" || r.Name != dep.Name || hpa.Namespace != ns {
		t.Errorf("HPA targets %s %s", r.Kind, r.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != *dep.Spec.Replicas || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
		t.Errorf("HPA min %v max %d, want min = %d replicas < max", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, *dep.Spec.Replicas)
	}
	pdb := one(t, "PodDisruptionBudgets", m.pdbs)
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || psel.Empty() || !psel.Matches(podLabels) || pdb.Namespace != ns {
		t.Errorf("PDB selector %v does not match the pods", pdb.Spec.Selector)
	}
	if u := pdb.Spec.MaxUnavailable; u == nil || u.IntValue() < 1 || u.IntValue() >= int(*dep.Spec.Replicas) {
		t.Errorf("PDB maxUnavailable %v, want between 1 and %d", u, *dep.Spec.Replicas-1)
	}
}

// TestEnvoyCluster: the Envoy bootstrap is valid for Envoy's API and its
// actions_authz cluster reaches every replica through the headless Service
// on the gRPC port, over HTTP/2, with gRPC health checks.
func TestEnvoyCluster(t *testing.T) {
	m := load(t)
	ns := one(t, "namespaces", m.namespaces).Name
	cm := m.configMap(t, ns, "envoy-config")
	js, err := yaml.YAMLToJSONStrict([]byte(cm.Data["envoy.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	var boot bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &boot); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	if err := boot.ValidateAll(); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}

	var cluster *clusterv3.Cluster
	for _, c := range boot.GetStaticResources().GetClusters() {
		if c.GetName() == "actions_authz" {
			cluster = c
		}
	}
	if cluster == nil {
		t.Fatal("no actions_authz cluster")
	}
	svc := m.service(t, ns, "actions-authz-headless")
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s is not headless: Envoy would see one address", svc.Name)
	}
	sa := cluster.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	if want := svc.Name + "." + ns + ".svc.cluster.local"; sa.GetAddress() != want {
		t.Errorf("cluster address %s, want %s", sa.GetAddress(), want)
	}
	if p := servicePort(t, svc, "grpc"); int32(sa.GetPortValue()) != p.Port {
		t.Errorf("cluster port %d, Service grpc port %d", sa.GetPortValue(), p.Port)
	}
	if cluster.GetType() != clusterv3.Cluster_STRICT_DNS {
		t.Errorf("cluster type %v, want STRICT_DNS (one endpoint per pod)", cluster.GetType())
	}
	if len(cluster.GetHealthChecks()) == 0 || cluster.GetHealthChecks()[0].GetGrpcHealthCheck() == nil {
		t.Error("the cluster has no gRPC health check")
	}
	if _, ok := cluster.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; !ok {
		t.Error("the cluster does not speak HTTP/2")
	}

	// The ext_authz filter uses the cluster and fails closed.
	var hcm hcmv3.HttpConnectionManager
	if err := boot.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	// Envoy routes (and names the policy) on the path the upstream gets.
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() ||
		hcm.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT {
		t.Errorf("normalize_path %v, merge_slashes %v, path_with_escaped_slashes_action %v; want true, true, UNESCAPE_AND_REDIRECT",
			hcm.GetNormalizePath().GetValue(), hcm.GetMergeSlashes(), hcm.GetPathWithEscapedSlashesAction())
	}
	found := false
	for _, f := range hcm.GetHttpFilters() {
		var ea extauthzv3.ExtAuthz
		if f.GetTypedConfig().UnmarshalTo(&ea) != nil {
			continue
		}
		found = true
		if ea.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "actions_authz" || ea.GetFailureModeAllow() {
			t.Errorf("ext_authz: cluster %q, failure_mode_allow %v", ea.GetGrpcService().GetEnvoyGrpc().GetClusterName(), ea.GetFailureModeAllow())
		}
	}
	if !found {
		t.Error("no ext_authz filter")
	}
}

// TestIstio: the mesh's extension provider points at the Service's gRPC
// port and the CUSTOM AuthorizationPolicy names that provider.
func TestIstio(t *testing.T) {
	m := load(t)
	ns := one(t, "namespaces", m.namespaces).Name
	js, err := yaml.YAMLToJSONStrict([]byte(m.configMap(t, "istio-system", "istio").Data["mesh"]))
	if err != nil {
		t.Fatal(err)
	}
	var mesh meshv1alpha1.MeshConfig
	if err := protojson.Unmarshal(js, &mesh); err != nil {
		t.Fatalf("mesh: %v", err)
	}
	provider := one(t, "extension providers", mesh.GetExtensionProviders())
	g := provider.GetEnvoyExtAuthzGrpc()
	if g == nil {
		t.Fatal("the provider is not envoyExtAuthzGrpc")
	}
	svc := m.service(t, ns, "actions-authz")
	if want := svc.Name + "." + ns + ".svc.cluster.local"; g.GetService() != want {
		t.Errorf("provider service %s, want %s", g.GetService(), want)
	}
	if p := servicePort(t, svc, "grpc"); int32(g.GetPort()) != p.Port {
		t.Errorf("provider port %d, Service grpc port %d", g.GetPort(), p.Port)
	}
	if g.GetFailOpen() {
		t.Error("the provider fails open")
	}
	spec := one(t, "AuthorizationPolicies", m.istioSpecs)
	if spec.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM || spec.GetProvider().GetName() != provider.GetName() {
		t.Errorf("AuthorizationPolicy: action %v provider %q, want CUSTOM %q", spec.GetAction(), spec.GetProvider().GetName(), provider.GetName())
	}
}

// TestEnvoyGateway: the SecurityPolicy's extAuth points at the Service's
// gRPC port, fails closed, and a ReferenceGrant allows the reference.
func TestEnvoyGateway(t *testing.T) {
	m := load(t)
	ns := one(t, "namespaces", m.namespaces).Name
	sp := one(t, "SecurityPolicies", m.securityPols)
	if sp.Spec.ExtAuth.GRPC == nil || sp.Spec.ExtAuth.FailOpen == nil || *sp.Spec.ExtAuth.FailOpen {
		t.Fatal("extAuth: want grpc with failOpen: false")
	}
	ref := one(t, "backendRefs", sp.Spec.ExtAuth.GRPC.BackendRefs)
	svc := m.service(t, ref.Namespace, ref.Name)
	if p := servicePort(t, svc, "grpc"); ref.Port != p.Port {
		t.Errorf("backendRef port %d, Service grpc port %d", ref.Port, p.Port)
	}
	if len(sp.Spec.TargetRefs) == 0 {
		t.Error("the SecurityPolicy targets nothing")
	}
	g := one(t, "ReferenceGrants", m.grants)
	from, to := one(t, "grant sources", g.Spec.From), one(t, "grant targets", g.Spec.To)
	if g.Namespace != ns || string(from.Kind) != "SecurityPolicy" || string(from.Namespace) != sp.Namespace ||
		string(to.Kind) != "Service" || to.Name == nil || string(*to.Name) != svc.Name {
		t.Errorf("the ReferenceGrant does not allow SecurityPolicies in %s to use Service %s/%s", sp.Namespace, ns, svc.Name)
	}
}
