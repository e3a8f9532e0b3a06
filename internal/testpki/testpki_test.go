package testpki

import (
	"crypto/x509"
	"testing"
)

// A server certificate verifies against its CA for its name, localhost and
// 127.0.0.1, and not against another CA.
func TestIssue(t *testing.T) {
	ca, other := NewCA(t, "ca"), NewCA(t, "other")
	leaf := ca.Issue(t, "actions-authz.internal", x509.ExtKeyUsageServerAuth)
	cert, err := x509.ParseCertificate(leaf.Pair(t).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"actions-authz.internal", "localhost", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: Pool(ca.PEM), DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: Pool(other.PEM)}); err == nil {
		t.Error("verified against another CA")
	}
	if cert.SerialNumber.Cmp(leaf.Serial) != 0 {
		t.Errorf("serial %v, want %v", cert.SerialNumber, leaf.Serial)
	}
}
