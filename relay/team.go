package relay

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
)

// team is what team mode adds to a relay: the channel registry and the
// admin and metrics tokens, kept as hashes. A relay in open mode has none.
type team struct {
	registry    registry
	adminHash   [sha256.Size]byte
	metricsHash [sha256.Size]byte // zero: no metrics token
}

// newTeam sets up team mode when cfg has an admin token; in open mode it
// returns nil.
func newTeam(ctx context.Context, cfg Config, buf *Buffer) (*team, error) {
	if cfg.AdminToken == "" {
		if cfg.MetricsToken != "" {
			return nil, errors.New("a metrics token needs team mode (an admin token): in open mode /metrics is open")
		}
		return nil, nil
	}
	if len(cfg.AdminToken) < 16 {
		return nil, errors.New("the admin token must be at least 16 characters")
	}
	t := &team{adminHash: sha256.Sum256([]byte(cfg.AdminToken))}
	if cfg.MetricsToken != "" {
		if len(cfg.MetricsToken) < 16 {
			return nil, errors.New("the metrics token must be at least 16 characters")
		}
		t.metricsHash = sha256.Sum256([]byte(cfg.MetricsToken))
	}
	if cfg.Cluster != nil {
		reg, err := openKVRegistry(ctx, cfg.Cluster, cfg.Logger)
		if err != nil {
			return nil, err
		}
		t.registry = reg
		return t, nil
	}
	reg, err := openChannelRegistry(ctx, buf)
	if err != nil {
		return nil, err
	}
	t.registry = reg
	return t, nil
}

// teamMode reports whether channels must be created and agents need tokens.
func (s *Server) teamMode() bool { return s.team != nil }

// isAdmin compares tok with the admin token in constant time (hashes of
// equal length, so the length does not leak either). In open mode nobody
// is.
func (t *team) isAdmin(tok string) bool {
	return t != nil && tok != "" && sameHash(tok, t.adminHash)
}

// isMetricsReader compares tok with the metrics token, if the relay has
// one, in constant time.
func (t *team) isMetricsReader(tok string) bool {
	return t != nil && tok != "" && t.metricsHash != ([sha256.Size]byte{}) && sameHash(tok, t.metricsHash)
}

func sameHash(tok string, want [sha256.Size]byte) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], want[:]) == 1
}
