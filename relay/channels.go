package relay

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// Errors the channel registry returns; the admin API maps them to 404/409.
var (
	ErrNoChannel     = errors.New("no such channel")
	ErrChannelExists = errors.New("channel already exists")
)

// ChannelInfo describes a registered channel. It never holds the token.
type ChannelInfo struct {
	Name       string
	CreatedAt  time.Time
	TokenSetAt time.Time
	URLSecret  string // the ingress URL's secret segment; "" for the plain /h/{name}
}

// registry is the team relay's list of channels, the hashes of their
// agent tokens and their URL secrets. Two implementations: channelRegistry
// in the buffer's SQLite database (one process), kvRegistry in the
// JetStream KV bucket hooktap_channels (a cluster). Both answer the checks
// from memory (channelCache), so ingress and agent checks never wait on
// the disk or the network.
type registry interface {
	Exists(name string) bool
	Check(name, token string) error                 // nil, errUnauthorized or ErrNoChannel
	Ingress(name, given string) (ok, consumed bool) // see channelCache.Ingress
	URLSecret(name string) string
	List() []ChannelInfo // by name

	Create(ctx context.Context, name string, secretURL bool) (token string, err error)
	Rotate(ctx context.Context, name string) (token string, err error)
	RotateURL(ctx context.Context, name string) error
	Delete(ctx context.Context, name string) error

	// Watch calls fn for every change another node makes, from then on;
	// changes made through this registry are the caller's to act on.
	Watch(fn func(name string, c change))
	Close()
}

// change is what happened to a channel on another node.
type change int

const (
	changeToken   change = iota + 1 // its agent token was rotated
	changeURL                       // its URL secret was rotated
	changeDeleted                   // it was deleted
)

// channelCache is the registry's contents in memory.
type channelCache struct {
	mu    sync.RWMutex
	known map[string]registered
}

// channelRegistry keeps the channels in the buffer's database.
type channelRegistry struct {
	channelCache
	buf *Buffer
}

// Watch: one process has no other node to hear from.
func (c *channelRegistry) Watch(func(string, change)) {}
func (c *channelRegistry) Close()                     {}

type registered struct {
	hash       [sha256.Size]byte
	createdAt  time.Time
	tokenSetAt time.Time
	urlSecret  string            // "" when the channel's URL has none
	urlHash    [sha256.Size]byte // of urlSecret, for comparisons in constant time
}

func openChannelRegistry(ctx context.Context, buf *Buffer) (*channelRegistry, error) {
	rows, err := buf.db.R.QueryContext(ctx, `SELECT name, token_hash, created_at, token_set_at, url_secret FROM channels`)
	if err != nil {
		return nil, fmt.Errorf("read channels: %w", err)
	}
	defer rows.Close()
	reg := &channelRegistry{buf: buf, channelCache: channelCache{known: map[string]registered{}}}
	for rows.Next() {
		var name, h string
		var created, set int64
		var secret string
		if err := rows.Scan(&name, &h, &created, &set, &secret); err != nil {
			return nil, fmt.Errorf("read channels: %w", err)
		}
		var c registered
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("read channels: channel %s has a malformed token hash", name)
		} else {
			copy(c.hash[:], b)
		}
		c.createdAt, c.tokenSetAt = time.UnixMicro(created).UTC(), time.UnixMicro(set).UTC()
		c.setURLSecret(secret)
		reg.known[name] = c
	}
	return reg, rows.Err()
}

// newToken returns a random agent token: "htk_" and 32 random bytes in
// base32 (256 bits, so a plain SHA-256 is a sound way to store it).
func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return "htk_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// newURLSecret returns a random secret for an ingress URL: 20 bytes (160
// bits) in lowercase base32, which needs no escaping in a URL path and
// reads unambiguously when copied by hand.
func newURLSecret() string {
	var b [20]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (r *registered) setURLSecret(secret string) {
	r.urlSecret = secret
	r.urlHash = sha256.Sum256([]byte(secret))
}

// Exists reports whether name is registered.
func (c *channelCache) Exists(name string) bool {
	c.mu.RLock()
	_, ok := c.known[name]
	c.mu.RUnlock()
	return ok
}

// Check reports whether token is the agent token of channel name, in
// constant time. It returns ErrNoChannel for an unknown channel.
func (c *channelCache) Check(name, token string) error {
	c.mu.RLock()
	reg, ok := c.known[name]
	c.mu.RUnlock()
	if !ok {
		return ErrNoChannel
	}
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], reg.hash[:]) != 1 || token == "" {
		return errUnauthorized
	}
	return nil
}

var errUnauthorized = errors.New("unauthorized")

// Ingress reports whether a sender may post to channel name with given as
// the first path segment after /h/{name}, and whether that segment is the
// channel's URL secret (and so not part of the path suffix). An unknown
// channel and a missing or wrong secret look the same to the caller, and
// the secret is compared in constant time.
func (c *channelCache) Ingress(name, given string) (ok, consumed bool) {
	h := sha256.Sum256([]byte(given))
	c.mu.RLock()
	reg, known := c.known[name]
	c.mu.RUnlock()
	switch {
	case !known:
		return false, false
	case reg.urlSecret == "":
		return true, false
	}
	return subtle.ConstantTimeCompare(h[:], reg.urlHash[:]) == 1, true
}

// URLSecret returns channel name's URL secret ("" for none).
func (c *channelCache) URLSecret(name string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.known[name].urlSecret
}

// List returns the registered channels by name.
func (c *channelCache) List() []ChannelInfo {
	c.mu.RLock()
	out := make([]ChannelInfo, 0, len(c.known))
	for name, r := range c.known {
		out = append(out, ChannelInfo{Name: name, CreatedAt: r.createdAt, TokenSetAt: r.tokenSetAt, URLSecret: r.urlSecret})
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b ChannelInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create registers name and returns its new token; with secretURL, its
// ingress URL gets a secret segment (URLSecret).
func (c *channelRegistry) Create(ctx context.Context, name string, secretURL bool) (string, error) {
	token := newToken()
	h := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	reg := registered{hash: h, createdAt: now, tokenSetAt: now}
	if secretURL {
		reg.setURLSecret(newURLSecret())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.known[name]; ok {
		return "", ErrChannelExists
	}
	err := c.buf.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`INSERT INTO channels(name, token_hash, created_at, token_set_at, url_secret) VALUES (?, ?, ?, ?, ?)`,
			name, hex.EncodeToString(h[:]), now.UnixMicro(), now.UnixMicro(), reg.urlSecret)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create channel: %w", err)
	}
	c.known[name] = reg
	return token, nil
}

// RotateURL gives name's ingress URL a new secret segment (its first, if
// it had none); the old URL stops working at once.
func (c *channelRegistry) RotateURL(ctx context.Context, name string) error {
	secret := newURLSecret()
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, ok := c.known[name]
	if !ok {
		return ErrNoChannel
	}
	err := c.buf.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`UPDATE channels SET url_secret = ? WHERE name = ?`, secret, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("rotate URL: %w", err)
	}
	reg.setURLSecret(secret)
	c.known[name] = reg
	return nil
}

// Rotate gives name a new token; the old one stops working at once.
func (c *channelRegistry) Rotate(ctx context.Context, name string) (string, error) {
	token := newToken()
	h := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	reg, ok := c.known[name]
	if !ok {
		return "", ErrNoChannel
	}
	err := c.buf.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`UPDATE channels SET token_hash = ?, token_set_at = ? WHERE name = ?`,
			hex.EncodeToString(h[:]), now.UnixMicro(), name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rotate token: %w", err)
	}
	reg.hash, reg.tokenSetAt = h, now
	c.known[name] = reg
	return token, nil
}

// Delete unregisters name and drops its buffered deliveries and cursors, so
// that a channel created again under the same name starts empty.
func (c *channelRegistry) Delete(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.known[name]; !ok {
		return ErrNoChannel
	}
	err := c.buf.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		for _, q := range []string{
			`DELETE FROM channels WHERE name = ?`,
			`DELETE FROM deliveries WHERE channel = ?`,
			`DELETE FROM cursors WHERE channel = ?`,
			`DELETE FROM unclaimed WHERE channel = ?`,
		} {
			if _, err := tx.Exec(q, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	delete(c.known, name)
	return nil
}
