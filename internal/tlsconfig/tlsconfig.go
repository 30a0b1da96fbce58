// Package tlsconfig turns the original's tls keys (ca_cert, server_cert,
// server_key, client_cert, client_key, require_client_cert) into the
// crypto/tls configurations of the servers and of the clients that agents,
// peer analyzers and the CLI use.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/skydive-ng/skydive/internal/config"
)

// Server returns the servers' configuration, nil when TLS is off. With a CA,
// client certificates are checked when given (required with
// require_client_cert).
func Server(c config.TLS) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.ServerCert, c.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("tls.server_cert/server_key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pool, err := pool(c.CACert)
		if err != nil {
			return nil, err
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if c.RequireClientCert {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return tc, nil
}

// Client returns the configuration a process uses towards the others
// (agents to analyzers, analyzers to their peers), nil when TLS is off.
func Client(c config.TLS) (*tls.Config, error) {
	if !c.Enabled() && c.CACert == "" && c.ClientCert == "" {
		return nil, nil
	}
	return ClientFiles(c.CACert, c.ClientCert, c.ClientKey, false)
}

// ClientFiles builds a client configuration from a CA file (the system's
// roots if empty), a certificate and key (none if empty), or one that
// trusts any server (insecure, the CLI's --insecure).
func ClientFiles(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only on --insecure
	if caFile != "" {
		p, err := pool(caFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = p
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("a client certificate needs its key, and a key its certificate")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func pool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_cert: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.ca_cert: no PEM certificate in %s", file)
	}
	return p, nil
}
