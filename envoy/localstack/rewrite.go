package localstack

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Rewrite returns a YAML document (an Envoy bootstrap, or an actions-authz
// configuration) with its addresses replaced through table, which maps a
// "host:port" as the file has it to the "host:port" to use instead:
//
//   - every Envoy socket_address must be in the table: one that is not is an
//     error naming its line, so no address is left pointing elsewhere;
//   - a string that the table names (a "host:port", or another exact value
//     such as a certificate's file path), or a URL whose host and port it
//     names (an issuer URL, a server_uri), is rewritten too; other strings
//     are left as they are.
//
// Comments and the order of keys are kept.
func Rewrite(doc []byte, table map[string]string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	if err := rewriteNode(&root, table); err != nil {
		return nil, err
	}
	return encode(&root)
}

func rewriteNode(n *yaml.Node, table map[string]string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := rewriteNode(c, table); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "socket_address" && v.Kind == yaml.MappingNode {
				if err := rewriteSocketAddress(v, table); err != nil {
					return err
				}
				continue
			}
			if err := rewriteNode(v, table); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Style != 0 {
			n.Value = rewriteString(n.Value, table)
		}
	}
	return nil
}

func rewriteSocketAddress(n *yaml.Node, table map[string]string) error {
	addr, port := mapValue(n, "address"), mapValue(n, "port_value")
	if addr == nil || port == nil {
		return nil // a pipe or an internal address: nothing to rewrite
	}
	from := net.JoinHostPort(addr.Value, port.Value)
	to, ok := table[from]
	if !ok {
		return fmt.Errorf("line %d: socket_address %s has no loopback address in the table (%v)", n.Line, from, keys(table))
	}
	host, p, err := net.SplitHostPort(to)
	if err != nil {
		return fmt.Errorf("line %d: %s: %w", n.Line, to, err)
	}
	if _, err := strconv.Atoi(p); err != nil {
		return fmt.Errorf("line %d: %s: port %q is not a number", n.Line, to, p)
	}
	addr.Value, addr.Tag, addr.Style = host, "!!str", 0
	port.Value, port.Tag, port.Style = p, "!!int", 0
	return nil
}

// rewriteString rewrites s when it is a "host:port", or a URL whose host
// is, named in the table.
func rewriteString(s string, table map[string]string) string {
	if to, ok := table[s]; ok {
		return to
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	if to, ok := table[u.Host]; ok {
		u.Host = to
		return u.String()
	}
	return s
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func keys(table map[string]string) []string {
	out := make([]string, 0, len(table))
	for k := range table {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func encode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SetEndpoints returns an Envoy bootstrap whose static cluster named
// cluster has addrs ("host:port") as its endpoints, in one locality, in
// place of the ones the file lists: envoy/envoy.yaml names one
// actions-authz, a test or a person may run several replicas behind it.
// Everything else in the file, the cluster's health checks and load
// balancing included, is kept.
func SetEndpoints(doc []byte, cluster string, addrs []string) ([]byte, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("cluster %s: no endpoints", cluster)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, fmt.Errorf("envoy bootstrap: not a YAML document")
	}
	var clusters *yaml.Node
	if sr := mapValue(root.Content[0], "static_resources"); sr != nil {
		clusters = mapValue(sr, "clusters")
	}
	if clusters == nil || clusters.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("envoy bootstrap: no static_resources.clusters")
	}
	for _, c := range clusters.Content {
		if name := mapValue(c, "name"); name == nil || name.Value != cluster {
			continue
		}
		la := mapValue(c, "load_assignment")
		if la == nil {
			return nil, fmt.Errorf("cluster %s (line %d) has no load_assignment", cluster, c.Line)
		}
		var src bytes.Buffer
		src.WriteString("- lb_endpoints:\n")
		for _, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("cluster %s: endpoint %q: %w", cluster, a, err)
			}
			if _, err := strconv.Atoi(port); err != nil {
				return nil, fmt.Errorf("cluster %s: endpoint %q: port %q is not a number", cluster, a, port)
			}
			fmt.Fprintf(&src, "  - endpoint: {address: {socket_address: {address: %q, port_value: %s}}}\n", host, port)
		}
		var endpoints yaml.Node
		if err := yaml.Unmarshal(src.Bytes(), &endpoints); err != nil {
			return nil, err
		}
		if v := mapValue(la, "endpoints"); v != nil {
			*v = *endpoints.Content[0]
		} else {
			la.Content = append(la.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "endpoints"}, endpoints.Content[0])
		}
		return encode(&root)
	}
	return nil, fmt.Errorf("envoy bootstrap: no cluster named %s", cluster)
}
