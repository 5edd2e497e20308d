// Package web is the local web inspector: a page that lists deliveries live,
// shows each one in full and sends it again, over a small JSON API under
// /api/. The page's assets are embedded, so the binary works offline.
//
// It is safe by default: it answers only requests whose Host is a loopback
// name or an IP literal (no DNS rebinding), and every write needs the page's
// per-process token and, when the browser sends one, a same-origin Origin.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

//go:embed static
var staticFiles embed.FS

// Options configure a Server.
type Options struct {
	Store  *store.Store
	Bus    *live.Bus      // live events; nil for a store on its own
	Sender *replay.Sender // replay and resend; nil builds one over Store and Bus
	// Conn reports the agent's relay connection; nil uses Bus.Conn.
	Conn    func() live.RelayStatus
	Logger  *slog.Logger // nil discards
	Version string
	// Token is the write token; empty means a random one per process.
	Token string
	// ProviderPage is the page of hooktap dev's provider emulator
	// (subscriptions and delivery log), linked from the header; "" for none.
	ProviderPage string
	// Self is how to run this hooktap in a shell, in the commands shown
	// to paste: "hooktap" when empty.
	Self string
	// TryIt is what the empty list offers to paste to send a first
	// delivery to webhookURL: a curl command and a trigger command ("" for
	// none), for an event the agent's filter takes. Nil: payable.created.
	TryIt func(webhookURL string) (curl, trigger string)
}

// Server is the web inspector's HTTP handler.
type Server struct {
	store   *store.Store
	bus     *live.Bus
	sender  *replay.Sender
	conn    func() live.RelayStatus
	log     *slog.Logger
	version string
	token   string
	// providerPage is the emulator's page, linked from the header.
	providerPage string
	tryIt        func(webhookURL string) (curl, trigger string)
	index        []byte // index.html with the token filled in
	mux          *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New returns the inspector over o.Store.
func New(o Options) *Server {
	s := &Server{
		store:   o.Store,
		bus:     o.Bus,
		sender:  o.Sender,
		conn:    o.Conn,
		log:     o.Logger,
		version: o.Version,
		token:   o.Token,

		providerPage: o.ProviderPage,
		tryIt:        o.TryIt,
	}
	if s.tryIt == nil {
		s.tryIt = func(u string) (string, string) { return store.ExampleCurl(u), store.ExampleTrigger(o.Self, u) }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sender == nil {
		s.sender = &replay.Sender{Store: o.Store, Bus: o.Bus}
	}
	if s.conn == nil && s.bus != nil {
		s.conn = s.bus.Relay
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.token == "" {
		s.token = rand.Text()
	}
	page, err := staticFiles.ReadFile("static/index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	s.index = bytes.ReplaceAll(page, []byte("{{TOKEN}}"), []byte(s.token))

	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/status", s.handleStatus)
	mux.HandleFunc("GET /api/deliveries", s.handleList)
	mux.HandleFunc("GET /api/deliveries/{id}", s.handleShow)
	mux.HandleFunc("GET /api/deliveries/{id}/curl", s.handleCurl)
	mux.HandleFunc("POST /api/deliveries/{id}/replay", s.write(s.handleReplay))
	mux.HandleFunc("POST /api/deliveries/{id}/resend", s.write(s.handleResend))
	mux.HandleFunc("GET /api/export", s.handleExport)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	for _, p := range []string{"/api/deliveries/{id}/replay", "/api/deliveries/{id}/resend"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": use POST")
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = mux
	return s
}

// Token is the per-process write token the page carries.
func (s *Server) Token() string { return s.token }

// ServeHTTP checks the Host header, sets the safety headers and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowedHost(r.Host) {
		writeError(w, http.StatusForbidden, "host "+r.Host+" is not allowed: open the inspector as http://127.0.0.1 or http://localhost")
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(s.index)
}

// Serve serves the inspector on ln until ctx ends, then shuts down within
// a few seconds. Live event streams end with ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done, failed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-failed:
			return
		}
		cancel() // ends the event streams, so that Shutdown finds idle connections
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	close(failed)
	<-done
	return err
}
