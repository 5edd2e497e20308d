package relay

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Starting answers on ln until stop is called: every request gets 503
// "starting", so that while a cluster node waits for the others (up to a
// minute) its address is taken, health checks and load balancers see a
// node that is up but not ready, and senders and agents retry (no 2xx
// before a delivery is stored). stop hands ln, still open, to Serve; it
// may be called more than once. A listener that cannot be handed over
// (not TCP) is left alone: connections then wait in its backlog.
func Starting(ln net.Listener, cfg Config) (stop func(), err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		return func() {}, nil
	}
	tlsConf, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(answerStarting),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	h := &handoff{TCPListener: tcp}
	served := make(chan struct{})
	go func() {
		defer close(served)
		var l net.Listener = h
		if tlsConf != nil {
			l = tls.NewListener(l, tlsConf)
		}
		hs.Serve(l)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if hs.Shutdown(ctx) != nil {
				hs.Close() // a client that sent no request yet
			}
			<-served
			tcp.SetDeadline(time.Time{}) // Serve's Accept blocks again
		})
	}, nil
}

// answerStarting is every answer of a relay that is not ready yet. The
// connection is closed after it: none is kept alive into the handover.
func answerStarting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "5")
	http.Error(w, "starting: this relay is joining its cluster, retry shortly", http.StatusServiceUnavailable)
}

// handoff is the listener Starting serves on: closing it only wakes the
// Accept in progress (a deadline), and leaves the socket open for the
// relay's own server.
type handoff struct {
	*net.TCPListener
}

func (h *handoff) Close() error { return h.SetDeadline(time.Now()) }
