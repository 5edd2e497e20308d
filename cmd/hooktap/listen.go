package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/provider"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// agentFlags are the flags listen and dev share.
type agentFlags struct {
	forwardTo string
	routes    []string // EVENTS=URL, first match wins
	channel   string
	token     string
	db        string
	events    string
	objects   listFlag // --object-type, repeatable or comma-separated
	entities  listFlag // --entity-id, likewise
	secret    string
	noTUI     bool
	json      bool
	verbose   bool
	heartbeat time.Duration
	workers   int    // deliveries forwarded at once
	web       string // web inspector address
	noWeb     bool

	retention retentionFlags // --keep, --max-deliveries
}

func (f *agentFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.forwardTo, "forward-to", "", "URL of your app's webhook endpoint, e.g. http://localhost:3000/webhooks")
	fs.Func("route", "send the events matching a glob elsewhere: 'payable.*=http://localhost:3000/payables' (repeatable; first match wins)", func(v string) error {
		if _, err := forward.ParseRoute(v, 0, forward.New); err != nil {
			return err
		}
		f.routes = append(f.routes, v)
		return nil
	})
	fs.StringVar(&f.token, "token", envOr(e, "HOOKTAP_TOKEN", ""), "agent token for the channel (or HOOKTAP_TOKEN)")
	fs.StringVar(&f.db, "db", defaultDB(e), "SQLite file that records deliveries (or HOOKTAP_DB)")
	fs.StringVar(&f.events, "events", "", "only these events, comma-separated globs: payable.*,counterpart.created")
	fs.Var(&f.objects, "object-type", "only these object types, e.g. payable (repeatable, or comma-separated)")
	fs.Var(&f.entities, "entity-id", "only the events of these entities (repeatable, or comma-separated)")
	fs.StringVar(&f.secret, "secret", envOr(e, "HOOKTAP_SECRET", ""), "webhook signing secret, to verify deliveries (or HOOKTAP_SECRET)")
	fs.BoolVar(&f.noTUI, "no-tui", false, "print one line per delivery instead of the terminal UI")
	fs.BoolVar(&f.json, "json", false, "print JSON lines (a ready line, then one per delivery)")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail to stderr")
	f.retention.register(fs)
	fs.IntVar(&f.workers, "concurrency", 64, "deliveries forwarded to the app at once")
	fs.DurationVar(&f.heartbeat, "heartbeat", agent.DefaultHeartbeat, "how often to check that the relay answers; a relay silent for two is reconnected")
	fs.StringVar(&f.web, "web", "127.0.0.1:4040", "address of the web inspector")
	fs.BoolVar(&f.noWeb, "no-web", false, "do not serve the web inspector")
}

func (f *agentFlags) check() error {
	if f.forwardTo == "" {
		return usagef("--forward-to is required, e.g. --forward-to http://localhost:3000/webhooks")
	}
	if !relay.ValidChannel(f.channel) {
		return usagef("bad --channel %q: use 1-64 letters, digits, '.', '_' or '-'", f.channel)
	}
	if f.workers < 1 {
		return usagef("bad --concurrency %d: want at least 1 (deliveries forwarded to the app at once)", f.workers)
	}
	if f.heartbeat < 100*time.Millisecond || f.heartbeat > agent.MaxHeartbeat {
		return usagef("--heartbeat must be between 100ms and %s", agent.MaxHeartbeat)
	}
	if err := f.filter().Validate(); err != nil {
		return usageError{err.Error()}
	}
	if _, err := f.retention.retention(); err != nil {
		return err
	}
	if !f.noWeb {
		return checkAddr("web", f.web)
	}
	return nil
}

// filter is what the agent asks the relay for.
func (f *agentFlags) filter() relay.Filter {
	return relay.Filter{Events: splitList(f.events), ObjectTypes: f.objects, EntityIDs: f.entities}
}

// listFlag is a flag that may be given several times, each time with one
// value or several separated by commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	vs := splitList(v)
	if len(vs) == 0 {
		return errors.New("empty value")
	}
	*l = append(*l, vs...)
	return nil
}

func cmdListen(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "listen", "listen --relay URL --channel NAME --forward-to URL [flags]")
	var f agentFlags
	relayURL := fs.String("relay", envOr(e, "HOOKTAP_RELAY", ""), "relay base URL, e.g. https://relay.example.com (or HOOKTAP_RELAY)")
	fs.StringVar(&f.channel, "channel", "", "channel to receive")
	f.register(fs, e)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *relayURL == "" {
		return usagef("--relay is required, e.g. --relay http://127.0.0.1:8789")
	}
	if err := f.check(); err != nil {
		return err
	}
	// As for dev: a second agent on one store would mix its deliveries
	// (of another channel, or another relay) into the first one's.
	if err := devFilesFree("", "", f.db); err != nil {
		return err
	}
	unlockStore, err := lockStore(f.db)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer unlockStore()
	return createHint(runAgent(ctx, e, &f, *relayURL, nil, nil), *relayURL, f.channel)
}

// devFilesFree checks, before dev opens anything, that no other hooktap
// dev uses its relay data (relayDir; "" for listen, which has none), its
// emulator state (providerDir; "" with --no-provider) or its store, and
// that no listen uses the store, and names in one line every flag a second
// dev needs, so that it takes one try, not three; a store shared by two
// devs would mix their deliveries.
func devFilesFree(relayDir, providerDir, db string) error {
	var busy, flags []string
	if relayDir != "" && inUse(filepath.Join(relayDir, "relay.lock")) {
		busy, flags = append(busy, "the relay data in "+relayDir), append(flags, "--data DIR")
	}
	if providerDir != "" && inUse(filepath.Join(providerDir, "provider.lock")) {
		busy, flags = append(busy, "the emulator state in "+providerDir), append(flags, "--provider-data DIR")
	}
	if inUse(db) {
		busy, flags = append(busy, "the store "+db), append(flags, "--db FILE")
	}
	if len(busy) == 0 {
		return nil
	}
	return fmt.Errorf("another hooktap process already uses %s: give this one its own %s", strings.Join(busy, ", "), strings.Join(flags, " "))
}

// createHint makes the command in a team relay's "no channel NAME" refusal
// one that works when pasted: with the relay's URL and the admin token from
// the variable channels reads.
func createHint(err error, relayURL, channel string) error {
	bare := "hooktap channels create " + channel + ")"
	if err == nil || !errors.Is(err, agent.ErrRefused) || !strings.HasSuffix(err.Error(), bare) {
		return err
	}
	return fmt.Errorf("%s%s)", strings.TrimSuffix(err.Error(), bare), createCommand(channel, relayURL))
}

func cmdDev(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dev", "dev --forward-to URL [flags]")
	var f agentFlags
	addr := fs.String("addr", "127.0.0.1:8789", "address of the embedded relay")
	data := fs.String("data", "", "directory for the embedded relay's buffer (default: the user's data directory)")
	fs.StringVar(&f.channel, "channel", "dev", "channel name")
	f.register(fs, e)
	var pf providerFlags
	pf.register(fs, e, "provider-")
	noProvider := fs.Bool("no-provider", false, "do not serve the provider emulator at /v1")
	printSecret := fs.Bool("print-secret", false, "print the secret of every emulator subscription to the webhook URL (needs --no-tui or --json)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if err := checkAddr("addr", *addr); err != nil {
		return err
	}
	if *printSecret && (*noProvider || useTUI(e, &f)) {
		return usagef("--print-secret prints lines: use it with --no-tui or --json, and without --no-provider")
	}
	var pcfg provider.Config
	if !*noProvider {
		var err error
		if pcfg, err = pf.config(e); err != nil {
			return err
		}
	}
	if *data == "" {
		*data = dataDir(e) + "/relay"
	}
	if err := devFilesFree(*data, pcfg.DataDir, f.db); err != nil {
		return err
	}
	unlockStore, err := lockStore(f.db)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer unlockStore()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("embedded relay: %w (is another hooktap dev running? pick another --addr, or with make: make run ADDR=127.0.0.1:PORT)", err)
	}
	if t := selfTarget(&f, ln.Addr()); t != "" {
		ln.Close()
		return usagef("%s is hooktap dev's own address: deliveries forwarded there would come back for ever; give your app's URL", t)
	}
	if useTUI(e, &f) {
		var closeLog func()
		e, closeLog = logToFile(e, f.db) // the relay logs there too
		defer closeLog()
	}
	rcfg := relay.Config{DataDir: *data, Version: buildVersion(), Logger: newLogger(e.stderr, f.verbose)}
	var dp *devProvider
	if !*noProvider {
		pcfg.Self = []string{ln.Addr().String() + "/v1"}
		pcfg.Logger = newLogger(e.stderr, f.verbose)
		p, err := provider.Open(ctx, pcfg)
		if err != nil {
			ln.Close()
			return fmt.Errorf("provider emulator: %w", err)
		}
		defer p.Close()
		dp = &devProvider{p: p, api: "http://" + ln.Addr().String() + "/v1", printSecret: *printSecret}
		rcfg.Mount = map[string]http.Handler{"/v1/": p.Handler()}
	}
	unlock, err := lockRelayData(*data)
	if err != nil {
		ln.Close()
		return err
	}
	defer unlock()
	srv, err := relay.New(ctx, rcfg)
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	relayDone := make(chan error, 1)
	go func() { relayDone <- srv.Serve(ctx, ln) }()
	providerDone := make(chan error, 1)
	if dp != nil {
		go func() { providerDone <- dp.p.Run(ctx) }()
	} else {
		providerDone <- nil
	}

	// The agent attaches to the relay in memory (relay.Server.Attach):
	// deliveries and acks are handed over as they are, with no socket.
	base := "http://" + ln.Addr().String()
	attach := func(context.Context) (*wire.Conn, error) {
		agentEnd, relayEnd := wire.Pipe()
		srv.Attach(relayEnd, base)
		return agentEnd, nil
	}
	err = runAgent(ctx, e, &f, base, dp, attach)
	cancel()
	if rerr := <-relayDone; rerr != nil && !errors.Is(rerr, http.ErrServerClosed) && err == nil {
		err = rerr
	}
	<-providerDone
	return err
}

// selfTarget is the first of f's forward targets (--forward-to, then
// --route) that is addr, the address dev listens on, or "".
func selfTarget(f *agentFlags, addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return ""
	}
	targets := []string{f.forwardTo}
	for _, r := range f.routes {
		if _, u, ok := strings.Cut(r, "="); ok {
			targets = append(targets, u)
		}
	}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil {
			continue // the forwarder says what is wrong with it
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if port != strconv.Itoa(ta.Port) {
			continue
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		switch {
		case strings.EqualFold(host, "localhost") && (ta.IP.IsLoopback() || ta.IP.IsUnspecified()),
			ip != nil && (ip.Equal(ta.IP) || ta.IP.IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified())),
			ip != nil && ip.IsUnspecified() && ta.IP.IsLoopback():
			return u.Redacted() // a password in it stays out of the message
		}
	}
	return ""
}

// agentRun is everything one running agent shares with its UIs.
type agentRun struct {
	flags  *agentFlags
	relay  string
	store  *store.Store
	bus    *live.Bus
	sender *replay.Sender
	agent  *agent.Agent
	// example is the test webhook the banner, the TUI and the web page
	// offer: one the agent's filter takes.
	example example
	// providerPage is hooktap dev's emulator page, for the web inspector.
	providerPage string
	// webURL is the web inspector's address, once it listens ("" when not),
	// and webProblem why it does not, when it was asked for.
	webURL, webProblem string
	// filterWarnings are the filter's names that no known event has.
	filterWarnings []filterWarning
}

// runAgent opens the store, connects to the relay and reports deliveries
// until ctx ends: in the terminal UI when stdout is a terminal, else as
// lines (or JSON lines) on stdout. The web inspector runs beside either.
// In hooktap dev, dp is the provider emulator and attach connects the agent
// to the relay in the same process.
func runAgent(ctx context.Context, e *env, f *agentFlags, relayURL string, dp *devProvider, attach func(context.Context) (*wire.Conn, error)) error {
	// For developers: HOOKTAP_FORWARDER=transport forwards through net/http's
	// Transport instead of the forwarder's own pool, for make bench to compare.
	newForwarder := forward.New
	if e.getenv("HOOKTAP_FORWARDER") == "transport" {
		newForwarder = forward.NewTransport
	}
	fwd, err := newForwarder(f.forwardTo, 0)
	if err != nil {
		return usageError{err.Error()}
	}
	var routes []forward.Route
	for _, v := range f.routes {
		r, err := forward.ParseRoute(v, 0, newForwarder)
		if err != nil {
			return usageError{err.Error()}
		}
		routes = append(routes, r)
	}
	st, err := store.Open(ctx, f.db)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	bus := live.NewBus()
	r := &agentRun{
		flags:   f,
		relay:   relayURL,
		store:   st,
		bus:     bus,
		sender:  &replay.Sender{Store: st, Bus: bus, Secret: f.secret},
		example: exampleFor(f.filter()),

		filterWarnings: checkFilter(f.filter()),
	}
	tui := useTUI(e, f)
	if tui {
		var closeLog func()
		e, closeLog = logToFile(e, f.db) // no log line on the UI's screen
		defer closeLog()
	}
	var report func(live.Event)
	logTo := e.stderr
	var rep *reporter
	if !tui {
		rep = newReporter(e.stdout, f.json, st.Path())
		rep.example = r.example
		report = rep.report
	}
	var secretFor func(*store.Delivery) string
	if dp != nil {
		r.providerPage = dp.api + "/_emulator/"
		secretFor = dp.secretFor(ctx, relayURL+"/h/"+f.channel)
		r.sender.SecretFor = secretFor // resend re-signs the emulator's deliveries with no --secret
		if rep != nil {
			rep.providerAPI = dp.api
			dp.watch(ctx, rep, relayURL+"/h/"+f.channel)
		}
	}
	st.SetLogger(newLogger(logTo, f.verbose)) // the full-text index reports trouble there
	stopPrune := startPruning(ctx, st, f.retention, newLogger(logTo, f.verbose))
	defer stopPrune()
	r.agent, err = agent.New(agent.Config{
		Relay:       relayURL,
		Channel:     f.channel,
		Token:       f.token,
		Events:      splitList(f.events),
		ObjectTypes: f.objects,
		EntityIDs:   f.entities,
		Store:       st,
		Forwarder:   fwd,
		Routes:      routes,
		Secret:      f.secret,
		SecretFor:   secretFor,
		Bus:         bus,
		Report:      report,
		Logger:      newLogger(logTo, f.verbose),
		Version:     buildVersion(),
		Concurrency: f.workers,
		Heartbeat:   f.heartbeat,
		Dial:        attach,
	})
	if err != nil {
		return usageError{err.Error()}
	}
	stopWeb, err := startWeb(ctx, e, r)
	if err != nil {
		return err
	}
	defer stopWeb()
	if rep != nil && r.webProblem != "" {
		rep.web(r.flags.web, r.webProblem)
	}
	// Said before the agent starts, so above the banner (the TUI shows
	// them on its status line).
	for _, w := range r.filterWarnings {
		switch {
		case f.json:
			rep.warning(w)
		case !tui:
			fmt.Fprintf(e.stderr, "hooktap: %s\n", w)
		}
	}
	if tui {
		return runTUI(ctx, e, r)
	}
	return runLines(ctx, e, r, rep)
}

// reporter prints what the agent does: human lines or JSON lines.
type reporter struct {
	mu          sync.Mutex
	providerAPI string                  // hooktap dev's emulator
	example     example                 // the test webhook the banner offers
	secrets     []provider.Subscription // to print once ready (--print-secret)
	w           io.Writer
	json        bool
	db          string
	ready       bool // the relay connection was up once
	state       live.State
	reason      string
	retryAt     time.Time
	full        bool // the store cannot write
	// what was last said of the app
	appSeen, appUp bool
	appProblem     string // the app's problem in a few words, while down
	appErr         string
	encode         *json.Encoder
}

func newReporter(w io.Writer, jsonOut bool, db string) *reporter {
	return &reporter{w: w, json: jsonOut, db: db, encode: json.NewEncoder(w)}
}

type readyLine struct {
	Type      string   `json:"type"`
	URL       string   `json:"url"`
	ForwardTo string   `json:"forward_to"`
	Routes    []string `json:"routes,omitempty"`
	DB        string   `json:"db"`
	// Whether the app answered the agent's check of the forward target
	// (checked before connecting), and why not.
	AppListening bool   `json:"app_listening"`
	AppProblem   string `json:"app_problem,omitempty"`
	ProviderAPI  string `json:"provider_api,omitempty"`
}

// webDownLine says that the web inspector did not start, and what to do.
type webDownLine struct {
	Type      string `json:"type"`
	Listening bool   `json:"listening"`
	Addr      string `json:"addr"`
	Error     string `json:"error"`
}

// warningLine is a filter name no known event has (filterWarning).
type warningLine struct {
	Type       string `json:"type"`
	Flag       string `json:"flag"`
	Value      string `json:"value"`
	Suggestion string `json:"suggestion,omitempty"`
	Message    string `json:"message"`
}

// connectionLine is a change of the relay connection. RetryIn is in
// seconds, while reconnecting.
type connectionLine struct {
	Type    string  `json:"type"`
	State   string  `json:"state"` // connecting, connected, reconnecting, refused
	Relay   string  `json:"relay"`
	Reason  string  `json:"reason,omitempty"`
	RetryIn float64 `json:"retry_in,omitempty"`
}

// appLine says whether something listens on the forward target, at start
// and when that changes.
type appLine struct {
	Type      string `json:"type"`
	Listening bool   `json:"listening"`
	Target    string `json:"target"`
	Reason    string `json:"reason,omitempty"` // "nothing is listening on localhost:3000"
}

// storeLine says that the store stopped writing (deliveries are held and
// retried) or writes again.
type storeLine struct {
	Type     string `json:"type"`
	Writable bool   `json:"writable"`
	Error    string `json:"error,omitempty"`
	Waiting  int    `json:"waiting,omitempty"`
}

type deliveryLine struct {
	Type       string        `json:"type"`
	ID         string        `json:"id"`
	ReceivedAt string        `json:"received_at"`
	Method     string        `json:"method"`
	Path       string        `json:"path"`
	ObjectType string        `json:"object_type"`
	Action     string        `json:"action"`
	EntityID   string        `json:"entity_id"`
	Status     int           `json:"status"`
	Error      string        `json:"error,omitempty"`
	DurationMS float64       `json:"duration_ms"`
	Target     string        `json:"target,omitempty"`
	Signature  signing.State `json:"signature"`
}

func (r *reporter) report(ev live.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case live.EventRelay:
		r.conn(ev.Relay)
	case live.EventStore:
		r.store(ev.Store)
	case live.EventApp:
		r.app(ev.App)
	case live.EventAttempt:
		d := ev.Delivery
		if r.json {
			r.encode.Encode(deliveryLine{
				Type: "delivery", ID: d.ID, ReceivedAt: d.ReceivedAt.Format(time.RFC3339Nano),
				Method: d.Method, Path: d.Path, ObjectType: d.ObjectType, Action: d.Action, EntityID: d.EntityID,
				Status: d.Status, Error: d.Error, DurationMS: d.DurationMS, Target: d.Target, Signature: d.Signature,
			})
			return
		}
		fmt.Fprintln(r.w, store.Printable(humanLine(d)))
	}
}

// conn prints each change of the relay connection once: as a connection
// line with --json (and the ready line the first time it is up), else in
// words, with the banner the first time it is up.
func (r *reporter) conn(c live.RelayStatus) {
	prev, prevReason, prevRetry := r.state, r.reason, r.retryAt
	r.state, r.reason, r.retryAt = c.State, c.Reason, c.RetryAt
	if r.json {
		// Every heartbeat publishes the state again: not a change. Each
		// failed attempt is one (a new retry time).
		if c.State == prev && c.Reason == prevReason && c.RetryAt.Equal(prevRetry) {
			return
		}
		r.connLine(c)
		if c.State == live.StateConnected && !r.ready {
			r.ready = true
			r.encode.Encode(readyLine{Type: "ready", URL: c.URL, ForwardTo: c.Target, Routes: c.Routes, DB: r.db,
				AppListening: r.appUp, AppProblem: r.appProblem, ProviderAPI: r.providerAPI})
			r.readied()
		}
		return
	}
	if c.State == prev && c.Reason == prevReason {
		return
	}
	now := clock(time.Now())
	switch c.State {
	case live.StateConnecting:
		fmt.Fprintf(r.w, "%s  connecting to relay %s\n", now, c.Relay)
	case live.StateConnected:
		if !r.ready {
			r.ready = true
			r.banner(c)
			r.readied()
		} else {
			fmt.Fprintf(r.w, "%s  reconnected to %s\n", now, c.Relay)
		}
	case live.StateReconnecting:
		switch {
		case !r.ready:
			fmt.Fprintf(r.w, "%s  cannot connect to relay %s (%s); retrying — never connected\n", now, c.Relay, c.Reason)
		case prev == live.StateConnected:
			fmt.Fprintf(r.w, "%s  relay connection lost (%s); reconnecting\n", now, c.Reason)
		default:
			fmt.Fprintf(r.w, "%s  relay still unreachable (%s); retrying\n", now, c.Reason)
		}
	case live.StateOffline:
		if !r.ready {
			fmt.Fprintf(r.w, "%s  stopped; never connected to relay %s\n", now, c.Relay)
		}
	}
	// StateRefused: the command exits with the reason on stderr.
}

// connLine prints the connection's state as a JSON line; a shutdown
// (offline) is not a connection state scripts wait for.
func (r *reporter) connLine(c live.RelayStatus) {
	if c.State == live.StateOffline {
		return
	}
	l := connectionLine{Type: "connection", State: string(c.State), Relay: c.Relay, Reason: c.Reason}
	if c.State == live.StateReconnecting {
		l.RetryIn = float64(max(time.Until(c.RetryAt), 0).Milliseconds()) / 1000
	}
	r.encode.Encode(l)
}

// banner says where webhooks go, and how to send one.
func (r *reporter) banner(c live.RelayStatus) {
	fmt.Fprintf(r.w, "hooktap is ready\n  Webhook URL    %s\n  Forwarding to  %s\n", c.URL, c.Target)
	for _, route := range c.Routes {
		events, to, _ := strings.Cut(route, "=")
		fmt.Fprintf(r.w, "    %s  → %s\n", events, to)
	}
	fmt.Fprintf(r.w, "  Recording in   %s\n", r.db)
	if r.providerAPI != "" {
		fmt.Fprintf(r.w, "  Provider API   %s  (the provider emulator: point your client's base URL here)\n", r.providerAPI)
		fmt.Fprintf(r.w, "  Provider page  %s/_emulator/  (its subscriptions and delivery log)\n", r.providerAPI)
	}
	fmt.Fprintln(r.w)
	x := r.example
	fmt.Fprintf(r.w, "Send a test webhook:\n%s\n\n", indent(x.curl(c.URL), "  "))
	if t := x.triggerCommand(c.URL); t != "" {
		fmt.Fprintf(r.w, "or a realistic %s payload (signed when HOOKTAP_SECRET is set):\n  %s\n\n", x.provider, t)
	}
	if !x.matches {
		fmt.Fprintf(r.w, "(no example matches this agent's filter (--events, --object-type, --entity-id): the relay keeps %s for another agent, and your app does not get it)\n\n", x.action)
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// web says, in --json, that the web inspector did not start (in words,
// startWeb said it on stderr).
func (r *reporter) web(addr, problem string) {
	if !r.json {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.encode.Encode(webDownLine{Type: "web", Listening: false, Addr: addr, Error: problem})
}

// warning prints, with --json, a filter name no known event has.
func (r *reporter) warning(w filterWarning) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.encode.Encode(warningLine{Type: "warning", Flag: w.Flag, Value: w.Value, Suggestion: w.Suggestion, Message: w.String()})
}

// app prints whether the app listens, when that changes.
func (r *reporter) app(h live.AppHealth) {
	if r.appSeen && h.Listening == r.appUp && h.Err == r.appErr {
		return
	}
	first := !r.appSeen
	r.appSeen, r.appUp, r.appErr, r.appProblem = true, h.Listening, h.Err, h.Short()
	switch {
	case r.json:
		r.encode.Encode(appLine{Type: "app", Listening: h.Listening, Target: h.Target, Reason: h.Short()})
	case h.Down():
		fmt.Fprintf(r.w, "%s  %s\n", clock(time.Now()), h.Problem())
	case !first:
		fmt.Fprintf(r.w, "%s  your app is listening on %s\n", clock(time.Now()), h.Addr)
	}
}

// store prints a line when the store stops writing and when it writes
// again, not for every change in between.
func (r *reporter) store(h live.StoreHealth) {
	if h.Failing() == r.full {
		return
	}
	r.full = h.Failing()
	switch {
	case r.json:
		r.encode.Encode(storeLine{Type: "store", Writable: !r.full, Error: h.Err, Waiting: h.Waiting})
	case r.full:
		fmt.Fprintf(r.w, "%s  store cannot write (%s): deliveries are held and retried, %d waiting\n", clock(time.Now()), h.Cause(), h.Waiting)
	default:
		fmt.Fprintf(r.w, "%s  store writes again: held deliveries resume\n", clock(time.Now()))
	}
}

func clock(t time.Time) string { return t.Local().Format("15:04:05") }

// humanLine is one delivery in a terminal: time, status, method, path,
// action, entity, duration, id.
func humanLine(d *store.Delivery) string {
	status := fmt.Sprint(d.Status)
	if d.Status == 0 {
		status = "ERR"
	}
	action := d.Action
	if action == "" {
		action = "-"
	}
	path := d.Path
	if path == "" {
		path = "/"
	}
	line := fmt.Sprintf("%s  %-3s  %-6s %-20s %-36s %8.1fms  %s", clock(d.ReceivedAt), status, d.Method, path, action, d.DurationMS, d.ID)
	if d.Error != "" {
		line += "  " + d.Error
	}
	return strings.TrimRight(line, " ")
}
