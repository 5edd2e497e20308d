package relay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Starting answers 503 on the listener, then hands it, open, to the
// relay's own server: plain and with TLS.
func TestStartingHandsTheListenerOver(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		cfg := Config{DataDir: t.TempDir()}
		client := &http.Client{Timeout: 5 * time.Second}
		scheme := "http://"
		if withTLS {
			var pool *x509.CertPool
			cfg.TLSCert, cfg.TLSKey, pool = writeTestCert(t)
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			scheme = "https://"
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := scheme + ln.Addr().String()
		stop, err := Starting(ln, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range []struct{ method, path string }{{"GET", "/healthz"}, {"POST", "/h/early"}} {
			status, body := call(t, client, req.method, base+req.path)
			if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "starting") {
				t.Fatalf("tls %v: %s %s while starting: %d %q", withTLS, req.method, req.path, status, body)
			}
		}
		srv, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop()
		stop() // a second stop (the deferred one) does nothing
		ctx, cancel := context.WithCancel(t.Context())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, ln) }()
		if status, body := call(t, client, "GET", base+"/healthz"); status != http.StatusOK || body != "ok\n" {
			t.Fatalf("tls %v: healthz after the handover: %d %q", withTLS, status, body)
		}
		if status, _ := call(t, client, "POST", base+"/h/early"); status != http.StatusAccepted {
			t.Fatalf("tls %v: POST after the handover: %d, want 202 (kept)", withTLS, status)
		}
		cancel()
		if err := <-served; err != nil && err != http.ErrServerClosed {
			t.Fatal(err)
		}
	}
}

func call(t *testing.T, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(`{"id":"evt_1"}`))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// writeTestCert writes a self-signed certificate for 127.0.0.1.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
