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
}

// channelRegistry is the team relay's list of channels and the hashes of
// their agent tokens, kept in the buffer's database and cached in memory so
// that ingress and agent checks never touch the disk.
type channelRegistry struct {
	buf *Buffer

	mu    sync.RWMutex
	known map[string]registered
}

type registered struct {
	hash       [sha256.Size]byte
	createdAt  time.Time
	tokenSetAt time.Time
}

func openChannelRegistry(ctx context.Context, buf *Buffer) (*channelRegistry, error) {
	rows, err := buf.db.R.QueryContext(ctx, `SELECT name, token_hash, created_at, token_set_at FROM channels`)
	if err != nil {
		return nil, fmt.Errorf("read channels: %w", err)
	}
	defer rows.Close()
	reg := &channelRegistry{buf: buf, known: map[string]registered{}}
	for rows.Next() {
		var name, h string
		var created, set int64
		if err := rows.Scan(&name, &h, &created, &set); err != nil {
			return nil, fmt.Errorf("read channels: %w", err)
		}
		var c registered
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("read channels: channel %s has a malformed token hash", name)
		} else {
			copy(c.hash[:], b)
		}
		c.createdAt, c.tokenSetAt = time.UnixMicro(created).UTC(), time.UnixMicro(set).UTC()
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

// Exists reports whether name is registered.
func (c *channelRegistry) Exists(name string) bool {
	c.mu.RLock()
	_, ok := c.known[name]
	c.mu.RUnlock()
	return ok
}

// Check reports whether token is the agent token of channel name, in
// constant time. It returns ErrNoChannel for an unknown channel.
func (c *channelRegistry) Check(name, token string) error {
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

// List returns the registered channels by name.
func (c *channelRegistry) List() []ChannelInfo {
	c.mu.RLock()
	out := make([]ChannelInfo, 0, len(c.known))
	for name, r := range c.known {
		out = append(out, ChannelInfo{Name: name, CreatedAt: r.createdAt, TokenSetAt: r.tokenSetAt})
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b ChannelInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create registers name and returns its new token.
func (c *channelRegistry) Create(ctx context.Context, name string) (string, error) {
	token := newToken()
	h := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.known[name]; ok {
		return "", ErrChannelExists
	}
	err := c.buf.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`INSERT INTO channels(name, token_hash, created_at, token_set_at) VALUES (?, ?, ?, ?)`,
			name, hex.EncodeToString(h[:]), now.UnixMicro(), now.UnixMicro())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create channel: %w", err)
	}
	c.known[name] = registered{hash: h, createdAt: now, tokenSetAt: now}
	return token, nil
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
