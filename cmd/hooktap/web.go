package main

import (
	"context"
	"fmt"
	"net"

	"github.com/hooktap/hooktap/web"
)

// startWeb serves the web inspector beside a running agent until stop is
// called or ctx ends. A busy port is not fatal: the agent runs on without
// the inspector, after a one-line warning.
func startWeb(ctx context.Context, e *env, r *agentRun) (stop func(), err error) {
	if r.flags.noWeb {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", r.flags.web)
	if err != nil {
		fmt.Fprintf(e.stderr, "hooktap: web inspector not started: %v (pick another --web, or --no-web)\n", err)
		return func() {}, nil
	}
	srv := web.New(web.Options{
		Store:   r.store,
		Bus:     r.bus,
		Sender:  r.sender,
		Logger:  newLogger(e.stderr, r.flags.verbose),
		Version: buildVersion(),
	})
	fmt.Fprintf(e.stderr, "Web inspector  %s\n", webURL(ln.Addr()))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	return func() { cancel(); <-done }, nil
}

// webURL is the address to open in a browser.
func webURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
