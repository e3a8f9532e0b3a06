package helm

import (
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz/config"
	"helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "actions-authz"
	releaseName = "authz"
	namespace   = "security"
)

// serviceMonitor is the part of the Prometheus Operator's
// monitoring.coreos.com/v1 ServiceMonitor that the chart uses, with the
// field names of its CRD; decoding is strict, so a misspelt or misplaced
// field fails.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// release is every object the chart rendered, by kind.
type release struct {
	configMaps      []*corev1.ConfigMap
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*serviceMonitor
	notes           string
}

// render renders the chart as "helm install authz deploy/helm/actions-authz
// -n security -f values" would, values checked against values.schema.json,
// and decodes every document strictly into the type its apiVersion and kind
// name.
func render(t *testing.T, values string) *release {
	t.Helper()
	r, err := renderChart(values)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func renderChart(values string) (*release, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	top, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		return nil, err
	}
	return decode(ch, files)
}

var separator = regexp.MustCompile(`(?m)^---\s*$`)

func decode(ch chart.Charter, files map[string]string) (*release, error) {
	r := &release{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			r.notes = files[name]
			continue
		case path.Ext(name) != ".yaml":
			continue
		}
		for i, doc := range separator.Split(files[name], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s, document %d", name, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s: %v\n%s", where, err, doc)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 ConfigMap":
				o := new(corev1.ConfigMap)
				r.configMaps, obj = append(r.configMaps, o), o
			case "apps/v1 Deployment":
				o := new(appsv1.Deployment)
				r.deployments, obj = append(r.deployments, o), o
			case "v1 Service":
				o := new(corev1.Service)
				r.services, obj = append(r.services, o), o
			case "autoscaling/v2 HorizontalPodAutoscaler":
				o := new(autoscalingv2.HorizontalPodAutoscaler)
				r.hpas, obj = append(r.hpas, o), o
			case "policy/v1 PodDisruptionBudget":
				o := new(policyv1.PodDisruptionBudget)
				r.pdbs, obj = append(r.pdbs, o), o
			case "monitoring.coreos.com/v1 ServiceMonitor":
				o := new(serviceMonitor)
				r.serviceMonitors, obj = append(r.serviceMonitors, o), o
			default:
				return nil, fmt.Errorf("%s: no API type for %q %q", where, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				return nil, fmt.Errorf("%s: %s %s: %v\n%s", where, tm.APIVersion, tm.Kind, err, doc)
			}
		}
	}
	return r, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func one[T any](t *testing.T, what string, list []T) T {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%d %s, want 1", len(list), what)
	}
	return list[0]
}

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

// mountedFrom returns the volume mounted at the directory holding file.
func mountedFrom(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, file string) corev1.Volume {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if path.Dir(file) == path.Clean(vm.MountPath) && vm.SubPath == "" {
			for _, v := range pod.Volumes {
				if v.Name == vm.Name {
					return v
				}
			}
		}
	}
	t.Fatalf("no volume is mounted at %s (for %s)", path.Dir(file), file)
	return corev1.Volume{}
}

// want is what a value set should give beyond what every release must
// satisfy.
type want struct {
	replicas       int32 // the Deployment's, or the HPA's minimum with autoscaling
	autoscaling    bool
	pdb            bool
	headless       bool
	serviceMonitor bool
	tlsSecret      string // mtls.secretName, "" without TLS
	clientCA       bool
	spread         bool
}

// check checks what every release must satisfy, as the manifest tests of
// examples/kubernetes do: the selectors select the pods, the Services and
// probes name the container's ports, the policy comes from the ConfigMap,
// loads, and listens where the container exposes; plus what w asks.
func check(t *testing.T, r *release, w want) {
	dep := one(t, "Deployments", r.deployments)
	pod := &dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	one(t, "containers", pod.Spec.Containers)
	c := &pod.Spec.Containers[0]
	if dep.Namespace != namespace {
		t.Errorf("Deployment in namespace %q, want %q", dep.Namespace, namespace)
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pod labels %v", dep.Spec.Selector, pod.Labels)
	}
	if !strings.Contains(c.Image, "actions-authz") {
		t.Errorf("image %q", c.Image)
	}

	// Replicas: the Deployment's, or the HPA's when autoscaling.
	hpa := (*autoscalingv2.HorizontalPodAutoscaler)(nil)
	if w.autoscaling {
		hpa = one(t, "HorizontalPodAutoscalers", r.hpas)
		if dep.Spec.Replicas != nil {
			t.Errorf("Deployment replicas %d with autoscaling: every upgrade would reset the HPA's count", *dep.Spec.Replicas)
		}
		if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name || hpa.Namespace != namespace {
			t.Errorf("HPA targets %s %s in %s", ref.Kind, ref.Name, hpa.Namespace)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != w.replicas || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
			t.Errorf("HPA min %v max %d, want min %d < max", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, w.replicas)
		}
		if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Error("the HPA does not scale on CPU")
		}
	} else {
		if len(r.hpas) != 0 {
			t.Errorf("%d HPAs with autoscaling off", len(r.hpas))
		}
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != w.replicas {
			t.Errorf("Deployment replicas %v, want %d", dep.Spec.Replicas, w.replicas)
		}
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
		if p.probe.PeriodSeconds == 0 {
			t.Errorf("%s probe: no period", p.name)
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
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
		t.Error("capabilities are not all dropped")
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it does not need")
	}

	// Spread: every constraint selects the release's pods.
	if w.spread && len(pod.Spec.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	for i, tsc := range pod.Spec.TopologySpreadConstraints {
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("topologySpreadConstraints[%d] selector %v does not match the pods", i, tsc.LabelSelector)
		}
	}

	// The configuration: mounted as a directory (so that it reloads) from
	// the ConfigMap at the path --config names, loading in actions-authz,
	// listening on the container's ports.
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("container args %v lack --config", c.Args)
	}
	configPath := c.Args[i+1]
	vol := mountedFrom(t, &pod.Spec, c, configPath)
	if vol.ConfigMap == nil {
		t.Fatalf("volume %s at %s is not a ConfigMap", vol.Name, path.Dir(configPath))
	}
	var cm *corev1.ConfigMap
	for _, m := range r.configMaps {
		if m.Name == vol.ConfigMap.Name && m.Namespace == namespace {
			cm = m
		}
	}
	if cm == nil {
		t.Fatalf("no ConfigMap %s/%s", namespace, vol.ConfigMap.Name)
	}
	data, ok := cm.Data[path.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cm.Name, path.Base(configPath))
	}
	cfg, err := config.Parse([]byte(data))
	if err != nil {
		t.Fatalf("the rendered policy does not load: %v\n%s", err, data)
	}
	if addrPort(t, cfg.Server.GRPCAddr) != grpcPort || addrPort(t, cfg.Server.HTTPAddr) != httpPort {
		t.Errorf("configuration listens on %s and %s, the container exposes %d and %d",
			cfg.Server.GRPCAddr, cfg.Server.HTTPAddr, grpcPort, httpPort)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || float64(*g) <= cfg.Server.ShutdownGrace.Seconds() {
		t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown_grace %v", g, cfg.Server.ShutdownGrace)
	}

	// TLS: the files the configuration names come from the Secret.
	switch tls := cfg.Server.TLS; {
	case w.tlsSecret == "" && tls != nil:
		t.Errorf("server.tls %+v without mtls", *tls)
	case w.tlsSecret != "" && tls == nil:
		t.Error("mtls on, no server.tls in the configuration")
	case w.tlsSecret != "":
		files := map[string]string{tls.CertFile: "tls.crt", tls.KeyFile: "tls.key"}
		if w.clientCA {
			files[tls.ClientCAFile] = "ca.crt"
		} else if tls.ClientCAFile != "" {
			t.Errorf("client_ca_file %s with mtls.clientCA false", tls.ClientCAFile)
		}
		for file, key := range files {
			v := mountedFrom(t, &pod.Spec, c, file)
			if v.Secret == nil || v.Secret.SecretName != w.tlsSecret || path.Base(file) != key {
				t.Errorf("%s: want key %s of Secret %s, from volume %+v", file, key, w.tlsSecret, v.VolumeSource)
			}
		}
	}

	// Services: select the pods, target the container's ports by name, on
	// the same numbers; the headless one when asked for.
	var clusterIP, headless *corev1.Service
	for _, svc := range r.services {
		if svc.Namespace != namespace || len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s does not select the pods", svc.Name)
		}
		for _, p := range svc.Spec.Ports {
			if got := containerPort(t, c, p.TargetPort.String()); got != p.Port {
				t.Errorf("Service %s port %s: %d, container port %d", svc.Name, p.Name, p.Port, got)
			}
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			headless = svc
		} else {
			clusterIP = svc
		}
	}
	if clusterIP == nil {
		t.Fatal("no ClusterIP Service")
	}
	if w.headless != (headless != nil) || len(r.services) != map[bool]int{false: 1, true: 2}[w.headless] {
		t.Errorf("%d Services, headless %v; want headless %v", len(r.services), headless != nil, w.headless)
	}
	if headless != nil {
		if headless.Name != clusterIP.Name+"-headless" || len(headless.Spec.Ports) != 1 || headless.Spec.Ports[0].Name != "grpc" {
			t.Errorf("headless Service %s with ports %v, want %s-headless with grpc", headless.Name, headless.Spec.Ports, clusterIP.Name)
		}
		if !strings.Contains(r.notes, headless.Name+"."+namespace+".svc.cluster.local:"+strconv.Itoa(int(grpcPort))) {
			t.Errorf("NOTES.txt does not give the headless Service's address:\n%s", r.notes)
		}
	}

	// PDB: on the pods, leaving at least one replica up.
	if !w.pdb {
		if len(r.pdbs) != 0 {
			t.Errorf("%d PDBs, want none", len(r.pdbs))
		}
	} else {
		pdb := one(t, "PodDisruptionBudgets", r.pdbs)
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(podLabels) || pdb.Namespace != namespace {
			t.Errorf("PDB selector %v does not match the pods", pdb.Spec.Selector)
		}
		if u := pdb.Spec.MaxUnavailable; u == nil || u.IntValue() < 1 || u.IntValue() >= int(w.replicas) {
			t.Errorf("PDB maxUnavailable %v, want between 1 and %d", u, w.replicas-1)
		}
	}

	// Metrics: a ServiceMonitor on the ClusterIP Service's http port, or the
	// prometheus.io annotations on the pods, not both.
	annotated := pod.Annotations["prometheus.io/scrape"] == "true"
	if !w.serviceMonitor {
		if len(r.serviceMonitors) != 0 || !annotated || pod.Annotations["prometheus.io/port"] != strconv.Itoa(int(httpPort)) {
			t.Errorf("%d ServiceMonitors, pod annotations %v; want none and prometheus.io on port %d", len(r.serviceMonitors), pod.Annotations, httpPort)
		}
		return
	}
	if annotated {
		t.Error("prometheus.io/scrape annotations beside the ServiceMonitor: the pods would be scraped twice")
	}
	sm := one(t, "ServiceMonitors", r.serviceMonitors)
	s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || s.Empty() || !s.Matches(labels.Set(clusterIP.Labels)) || !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor selector %v in %v does not select Service %s", sm.Spec.Selector, sm.Spec.NamespaceSelector.MatchNames, clusterIP.Name)
	}
	ep := one(t, "ServiceMonitor endpoints", sm.Spec.Endpoints)
	if !slices.ContainsFunc(clusterIP.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port && p.TargetPort.String() == "http" }) || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor scrapes port %q path %s, want the Service's http port, /metrics", ep.Port, ep.Path)
	}
}

func TestChartDefaults(t *testing.T) {
	r := render(t, "")
	check(t, r, want{replicas: 3, autoscaling: true, pdb: true, headless: true, spread: true})

	// The defaults are those of examples/kubernetes.
	dep := r.deployments[0]
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/actions-authz/actions-authz:v0.1.0" {
		t.Errorf("image %s, want the chart's appVersion", c.Image)
	}
	if dep.Name != releaseName+"-actions-authz" {
		t.Errorf("Deployment name %s", dep.Name)
	}
	if p := c.Ports; p[0].ContainerPort != 9000 || p[1].ContainerPort != 9001 {
		t.Errorf("ports %v, want grpc 9000 and http 9001", p)
	}
	tsc := one(t, "topologySpreadConstraints", dep.Spec.Template.Spec.TopologySpreadConstraints)
	if tsc.TopologyKey != "kubernetes.io/hostname" || tsc.MaxSkew != 1 || tsc.WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("spread %+v, want at most one more replica per node than another", tsc)
	}
	hpa := r.hpas[0]
	if hpa.Spec.MaxReplicas != 12 || hpa.Spec.Behavior == nil || hpa.Spec.Behavior.ScaleDown == nil {
		t.Errorf("HPA max %d behavior %v, want 12 and a scale-down window", hpa.Spec.MaxReplicas, hpa.Spec.Behavior)
	}
}

func TestChartValueSets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		want   want
	}{
		{
			name: "mtls, ServiceMonitor, fixed replicas, other ports",
			values: `
fullnameOverride: authz-gate
replicaCount: 2
autoscaling: {enabled: false}
ports: {grpc: 8443, http: 8081}
mtls: {enabled: true, secretName: authz-tls}
serviceMonitor: {enabled: true, labels: {release: prometheus}}
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
`,
			want: want{replicas: 2, pdb: true, headless: true, serviceMonitor: true, tlsSecret: "authz-tls", clientCA: true, spread: true},
		},
		{
			name: "TLS without client certificates, HPA from 4",
			values: `
mtls: {enabled: true, secretName: authz-tls, clientCA: false}
autoscaling: {enabled: true, minReplicas: 4, maxReplicas: 8}
`,
			want: want{replicas: 4, autoscaling: true, pdb: true, headless: true, tlsSecret: "authz-tls", spread: true},
		},
		{
			name: "bare: no HPA, PDB, headless Service or spread",
			values: `
replicaCount: 1
autoscaling: {enabled: false}
podDisruptionBudget: {enabled: false}
headlessService: {enabled: false}
topologySpreadConstraints: []
config:
  issuers: [{url: https://token.actions.githubusercontent.com}]
  audiences: [https://private.example.test]
  policies:
    - name: default
      match: {path_prefixes: [/]}
      allow: [{repository_owner_id: "42"}]
`,
			want: want{replicas: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, render(t, tc.values), tc.want)
		})
	}
}

func TestChartImageDigest(t *testing.T) {
	r := render(t, `image: {tag: v9.9.9, digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`)
	if got := r.deployments[0].Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/actions-authz/actions-authz@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image %s, want the digest", got)
	}
}

// TestChartRefuses: values.schema.json (and the templates) refuse what
// would not work, at install time.
func TestChartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, values, errorHas string
	}{
		{"misspelt key", "replicas: 3", "replicas"},
		{"mtls without a Secret", "mtls: {enabled: true}", "secretName"},
		{"listen address in config", `config: {server: {grpc_addr: ":7000"}, issuers: [{url: x}], policies: [{name: p}]}`, "server"},
		{"port out of range", "ports: {grpc: 70000}", "grpc"},
		{"no policies", "config: {policies: []}", "policies"},
		{"probe handler", "readinessProbe: {exec: {command: [true]}}", "exec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(tc.values)
			if err == nil {
				t.Fatal("rendered, want an error")
			}
			if !strings.Contains(err.Error(), tc.errorHas) {
				t.Errorf("error %q does not mention %q", err, tc.errorHas)
			}
		})
	}
}

// TestValuesDocumented: values.schema.json has every top-level value, and
// in values.yaml every paragraph of top-level values has a comment.
func TestValuesDocumented(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := chart.NewAccessor(ch)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
	}
	if err := yaml.Unmarshal(acc.Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	for key := range acc.Values() {
		if _, ok := schema.Properties[key]; !ok {
			t.Errorf("values.yaml: %s is not in values.schema.json", key)
		}
	}
	data, err := os.ReadFile(path.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, para := range strings.Split(string(data), "\n\n") {
		var keys []string
		commented := false
		for line := range strings.Lines(para) {
			switch {
			case strings.HasPrefix(strings.TrimSpace(line), "#"):
				commented = true
			case line != "" && line[0] != ' ':
				key, _, _ := strings.Cut(line, ":")
				keys = append(keys, key)
			}
		}
		if len(keys) > 0 && !commented {
			t.Errorf("values.yaml: %s: no comment", strings.Join(keys, ", "))
		}
	}
}
