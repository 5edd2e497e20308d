package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// loadTLS reads cfg's certificate and key; nil when the relay serves plain
// HTTP.
func loadTLS(cfg Config) (*tls.Config, error) {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("TLS needs both a certificate and a key")
	}
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"}, // WebSocket upgrades need HTTP/1.1
	}, nil
}

// listener wraps ln in TLS when the relay has a certificate.
func (s *Server) listener(ln net.Listener) net.Listener {
	if s.tls == nil {
		return ln
	}
	return tls.NewListener(ln, s.tls)
}
