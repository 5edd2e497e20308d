package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/web"
)

// cmdWeb serves the web inspector over a store on its own, with no relay:
// browse history, replay and resend.
func cmdWeb(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "web", "web [--db FILE] [--addr HOST:PORT] [--secret S] [--provider-data DIR]")
	db := dbFlag(fs, e)
	addr := fs.String("addr", "127.0.0.1:4040", "address to serve the inspector on")
	secret := fs.String("secret", envOr(e, "HOOKTAP_SECRET", ""), "signing secret for resend (or HOOKTAP_SECRET)")
	providerData := providerDataFlag(fs, e)
	verbose := fs.Bool("verbose", false, "log debug detail to stderr")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("web takes no arguments, got %q", pos[0])
	}
	if err := checkAddr("addr", *addr); err != nil {
		return err
	}
	st, err := readStore(ctx, *db)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("web inspector: %w (pick another --addr)", err)
	}
	srv := web.New(web.Options{
		Store:   st,
		Sender:  &replay.Sender{Store: st, Secret: *secret, SecretFor: emulatorSecret(ctx, *providerData)},
		Logger:  newLogger(e.stderr, *verbose),
		Version: buildVersion(),
		Self:    selfCommand(),
	})
	fmt.Fprintf(e.stdout, "Web inspector  %s\n  Store  %s\n", webURL(ln.Addr()), st.Path())
	return srv.Serve(ctx, ln)
}

// startWeb serves the web inspector beside a running agent until stop is
// called or ctx ends. A busy port is not fatal: the agent runs on without
// the inspector, and r.webProblem says so, with what to do; the caller
// shows it where the user looks (the terminal UI, a JSON line, stderr).
func startWeb(ctx context.Context, e *env, r *agentRun) (stop func(), err error) {
	if r.flags.noWeb {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", r.flags.web)
	if err != nil {
		r.webProblem = webProblem(r.flags.web, err)
		if !r.flags.json { // with --json the reporter's JSON line says it, once
			fmt.Fprintf(e.stderr, "hooktap: %s\n", r.webProblem)
		}
		return func() {}, nil
	}
	srv := web.New(web.Options{
		Store:   r.store,
		Bus:     r.bus,
		Sender:  r.sender,
		Logger:  newLogger(e.stderr, r.flags.verbose),
		Version: buildVersion(),

		ProviderPage: r.providerPage,
		Self:         selfCommand(),
		TryIt:        r.example.tryIt,
	})
	r.webURL = webURL(ln.Addr()) // the port bound, for --web 127.0.0.1:0
	fmt.Fprintf(e.stderr, "Web inspector  %s\n", r.webURL)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	return func() { cancel(); <-done }, nil
}

// webProblem says that the web inspector could not listen on addr, and
// what to do: another port (the next one, when addr has a port), or none.
func webProblem(addr string, err error) string {
	why := err.Error()
	if errors.Is(err, syscall.EADDRINUSE) {
		why = addr + " is in use"
	}
	try := "another --web"
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65535 {
			try = "--web " + net.JoinHostPort(host, strconv.Itoa(p+1))
		}
	}
	return "web inspector not started: " + why + "; try " + try + " or --no-web"
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
