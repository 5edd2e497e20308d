// Package provider is hooktap's provider emulator: a local Monite that
// developers' own API clients talk to. It keeps webhook subscriptions (and
// the legacy webhook settings) in SQLite, emits events to every matching
// enabled subscription signed with that subscription's secret, retries
// failed deliveries on Monk's documented schedule and logs every attempt.
//
// Due times of retries live in the database, not in timers: a restart, a
// crash or a jump of the clock resumes them.
package provider

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/relay/sqlitedb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultSchedule is Monk's documented backoff between attempts: 6 in all
// (1 + 5 retries), ~15 s, 30 s, 1 m, 2 m, 5 m. Monite publishes none.
var DefaultSchedule = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute}

// FlavorMonite is the default flavor: Monite.
const FlavorMonite = "monite"

// DefaultTimeout is how long one attempt may take, as both providers say.
const DefaultTimeout = 10 * time.Second

// MaxBody bounds an API request's body.
const MaxBody = 1 << 20

// Config sets up a Provider.
type Config struct {
	DataDir string // the SQLite file is DataDir/provider.db
	// Flavor is the provider emulated: "" or "monite" (Monite's API, events
	// and Monite-Signature), or "monk" (the same API as a stand-in for
	// Monk's dashboard; Monk's events, bodies and X-Monk-* headers).
	Flavor string
	// Token, when set, is the only bearer token the API accepts; otherwise
	// any non-empty one does, as a sandbox's partner token would.
	Token    string
	Schedule []time.Duration // delays before retries; nil means DefaultSchedule
	Scale    float64         // multiplies every delay (0 means 1), for tests and demos
	Timeout  time.Duration   // per attempt; 0 means DefaultTimeout
	// Self lists where the API is served, host:port with an optional path
	// prefix (hooktap dev serves the relay beside it: 127.0.0.1:8789/v1),
	// so that a subscription cannot point back at the emulator.
	Self []string
	// AllowHosts are host names, besides IP addresses, localhost and
	// host.docker.internal, that requests may be addressed to (Host).
	AllowHosts []string
	Logger     *slog.Logger
	UserAgent  string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Provider is a running emulator: its API (Handler) and its deliverer (Run).
type Provider struct {
	cfg    Config
	db     *sqlitedb.DB
	log    *slog.Logger
	client *http.Client
	wake   chan struct{}
	unlock func() // releases the data directory

	mu       sync.Mutex
	inflight map[string]bool // deliveries being attempted right now
	events   []func(Delivery)
	changes  []func(Subscription)
}

// Open opens (or creates) the emulator's database under cfg.DataDir.
func Open(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("provider: no data directory")
	}
	switch cfg.Flavor {
	case "", FlavorMonite:
		cfg.Flavor = FlavorMonite
	case catalog.FlavorMonk:
	default:
		return nil, fmt.Errorf("provider: unknown flavor %q (monite or monk)", cfg.Flavor)
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Scale == 0 {
		cfg.Scale = 1
	}
	if cfg.Scale < 0 || math.IsNaN(cfg.Scale) || math.IsInf(cfg.Scale, 0) {
		return nil, fmt.Errorf("provider: retry scale %v must be positive", cfg.Scale)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hooktap-provider"
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "provider.db"), migrations, sqlitedb.Options{})
	if err != nil {
		unlock()
		return nil, err
	}
	p := &Provider{
		cfg: cfg, db: db, log: cfg.Logger, unlock: unlock,
		wake:     make(chan struct{}, 1),
		inflight: map[string]bool{},
		client: &http.Client{
			Timeout: cfg.Timeout,
			// Providers do not follow redirects: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			// No proxy from the environment, and no Accept-Encoding of Go's own.
			Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second},
		},
	}
	return p, nil
}

// Close closes the database and releases the data directory.
func (p *Provider) Close() error {
	err := p.db.Close()
	p.unlock()
	return err
}

// Path is the database file.
func (p *Provider) Path() string { return p.db.Path }

// OnAttempt registers f to be told about every finished attempt (the
// delivery as it stands after it).
func (p *Provider) OnAttempt(f func(Delivery)) {
	p.mu.Lock()
	p.events = append(p.events, f)
	p.mu.Unlock()
}

// monk reports whether the emulator plays Monk.
func (p *Provider) monk() bool { return p.cfg.Flavor == catalog.FlavorMonk }

// catalog is the events of the provider emulated.
func (p *Provider) catalog() []catalog.Event {
	if p.monk() {
		return catalog.MonkEvents()
	}
	return catalog.All()
}

// scheme is how deliveries are signed.
func (p *Provider) scheme() string {
	if p.monk() {
		return "monk"
	}
	return "monite"
}

// OnChange registers f to be told about every subscription created,
// changed or given a new secret (secret included): how hooktap dev learns
// the secrets of the subscriptions that point at it.
func (p *Provider) OnChange(f func(Subscription)) {
	p.mu.Lock()
	p.changes = append(p.changes, f)
	p.mu.Unlock()
}

// changed tells OnChange's functions about s.
func (p *Provider) changed(s *Subscription) {
	p.mu.Lock()
	fs := slices.Clone(p.changes)
	p.mu.Unlock()
	for _, f := range fs {
		f(*s)
	}
}

// now is the clock, in unix microseconds.
func (p *Provider) now() int64 { return p.cfg.Now().UnixMicro() }

// newSecret returns a fresh whsec_ secret: 256 random bits.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// isSelf reports whether a subscription URL's host:port and path reach
// the emulator's own API.
func (p *Provider) isSelf(hostport, path string) bool {
	for _, s := range p.cfg.Self {
		addr, prefix := s, ""
		if i := strings.Index(s, "/"); i >= 0 {
			addr, prefix = s[:i], s[i:]
		}
		if sameAddr(hostport, addr) && (prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")) {
			return true
		}
	}
	return false
}

// sameAddr compares host:port pairs, taking every loopback or unspecified
// address (and localhost) as the same host.
func sameAddr(a, b string) bool {
	ah, ap, errA := net.SplitHostPort(a)
	bh, bp, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || ap != bp {
		return false
	}
	return strings.EqualFold(ah, bh) || (isLocal(ah) && isLocal(bh))
}

// isLocal reports whether host h is this machine: localhost, or any
// spelling of a loopback or unspecified address (::ffff:127.0.0.1 and
// 0:0:0:0:0:0:0:1 included, which a string compare misses).
func isLocal(h string) bool {
	h = strings.Trim(strings.ToLower(h), "[]")
	if h == "localhost" || h == "" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}
