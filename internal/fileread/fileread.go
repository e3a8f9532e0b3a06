// Package fileread reads small files whole, with a bound: a key set, a
// token, a certificate or a key, never a file that fills memory.
package fileread

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// Limited reads the file at path, refusing one larger than limit bytes.
func Limited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// CertPool reads the PEM certificates of the file at path, at most limit
// bytes, into a pool.
func CertPool(path string, limit int64) (*x509.CertPool, error) {
	pem, err := Limited(path, limit)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}
