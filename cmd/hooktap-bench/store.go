package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/payload"
)

// Store targets (issue 3).
const (
	targetIngest   = 20_000 // deliveries/s
	targetNewest   = 5 * time.Millisecond
	targetFiltered = 10 * time.Millisecond
	targetSearch   = 200 * time.Millisecond
)

// sample is a pre-built request: generating JSON is not what is measured.
type sample struct {
	header http.Header
	body   []byte
	fields payload.Fields
}

// samples builds n realistic Monite deliveries: a third about payables,
// the rest across the whole catalog, for a handful of entities, in the API
// versions seen in the wild.
func samples(n int, r *rand.Rand) ([]sample, []string, error) {
	events := catalog.All()
	var payables []catalog.Event
	for _, e := range events {
		if e.ObjectType == "payable" {
			payables = append(payables, e)
		}
	}
	entities := make([]string, 20)
	for i := range entities {
		entities[i] = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
	}
	versions := []string{"2024-05-25", "2024-05-25", "2024-05-25", "2024-01-31", "2023-09-01"}
	out := make([]sample, n)
	now := time.Now()
	for i := range out {
		e := events[r.IntN(len(events))]
		if r.IntN(3) == 0 {
			e = payables[r.IntN(len(payables))]
		}
		body, err := catalog.Payload(e, catalog.Options{
			APIVersion: versions[r.IntN(len(versions))],
			EntityID:   entities[r.IntN(len(entities))],
			Now:        now.Add(-time.Duration(r.IntN(86400)) * time.Second),
			Rand:       r,
		})
		if err != nil {
			return nil, nil, err
		}
		h := http.Header{
			"Content-Type":       {"application/json"},
			"User-Agent":         {"Monite-Webhooks/1.0"},
			"X-Request-Id":       {fmt.Sprintf("%016x", r.Uint64())},
			"X-Monite-Signature": {fmt.Sprintf("t=%d,v1=%016x%016x%016x%016x", now.Unix(), r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())},
			"Accept-Encoding":    {"gzip"},
		}
		out[i] = sample{h, body, payload.Parse(h, body)}
	}
	return out, entities, nil
}

// statusFor draws an app's answer: mostly 200, some failures.
func statusFor(r *rand.Rand) (int, string) {
	switch n := r.IntN(100); {
	case n < 88:
		return 200, ""
	case n < 91:
		return 201, ""
	case n < 95:
		return 500, ""
	case n < 98:
		return 404, ""
	default:
		return 0, "dial tcp 127.0.0.1:3000: connect: connection refused"
	}
}

func benchStore(ctx context.Context, cfg config, t *table) error {
	const sec = "store"
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-")
	if err != nil {
		return err
	}
	cfg.shared.cleanup = append(cfg.shared.cleanup, dir) // later sections use the filled store
	path := filepath.Join(dir, "bench.db")
	r := rand.New(rand.NewPCG(1, 2))
	pool, entities, err := samples(20_000, r)
	if err != nil {
		return err
	}

	// Ingest, all through the store's one batching writer, timed until the
	// full-text index has caught up. A tenth takes the agent's path (Insert
	// then AddAttempt per delivery, many in flight); the rest the bulk path
	// (Import: many deliveries with their attempts per write).
	s, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	n := cfg.deliveries
	agentN := n / 10
	base := time.Now().Add(-time.Duration(n) * 50 * time.Millisecond)
	var probeID, probeObject string
	gen := func(i int) *store.Delivery {
		smp := &pool[r.IntN(len(pool))]
		id := strconv.FormatUint(r.Uint64()|1<<63, 32)[:13] + fmt.Sprintf("%03x", i&0xfff)
		at := base.Add(time.Duration(i) * 50 * time.Millisecond)
		f := smp.fields
		d := &store.Delivery{
			ID: id, Channel: "bench", RelaySeq: int64(i + 1), ReceivedAt: at, Method: "POST", Path: "/",
			Header: smp.header, Body: smp.body, RemoteAddr: "203.0.113.7:41234", Host: "relay.example", Proto: "HTTP/1.1",
			ObjectType: f.ObjectType, Action: f.Action, EntityID: f.EntityID, ObjectID: f.ObjectID, EventID: f.EventID,
			Scheme: "monite", Signature: signing.Valid,
		}
		if i == n/2 {
			probeID, probeObject = id, f.ObjectID
		}
		status, errText := statusFor(r)
		a := &store.Attempt{
			DeliveryID: id, Kind: store.KindForward, Target: "http://127.0.0.1:3000/webhooks",
			StartedAt: at.Add(time.Millisecond), Duration: time.Duration(500+r.IntN(20000)) * time.Microsecond,
			Status: status, Error: errText,
		}
		if status != 0 {
			a.Header = http.Header{"Content-Type": {"application/json"}, "Date": {at.UTC().Format(http.TimeFormat)}}
			a.Body = []byte(`{"received":true}`)
		}
		d.History = []*store.Attempt{a}
		return d
	}
	fail := func(err error) error {
		s.Close()
		return fmt.Errorf("ingest: %w", err)
	}

	const window = 8192
	inflight := make([]<-chan error, 0, 2*window)
	wait := func(k int) error {
		for _, done := range inflight[:k] {
			if err := store.Wait(ctx, done); err != nil {
				return err
			}
		}
		inflight = append(inflight[:0], inflight[k:]...)
		return nil
	}
	start := time.Now()
	for i := range agentN {
		d := gen(i)
		inflight = append(inflight, s.Record(d, d.History[0]))
		if len(inflight) >= 2*window {
			if err := wait(window); err != nil {
				return fail(err)
			}
		}
	}
	if err := wait(len(inflight)); err != nil {
		return fail(err)
	}
	if err := s.IndexNow(ctx); err != nil {
		return fail(err)
	}
	agentTime := time.Since(start)

	start = time.Now()
	const chunk = 16384
	for i := agentN; i < n; {
		ds := make([]*store.Delivery, 0, chunk)
		for ; i < n && len(ds) < chunk; i++ {
			ds = append(ds, gen(i))
		}
		st, err := s.Import(ctx, ds)
		if err != nil {
			return fail(err)
		}
		if st.Deliveries != len(ds) {
			return fail(fmt.Errorf("stored %d of %d", st.Deliveries, len(ds)))
		}
		if i%200_000 < chunk {
			fmt.Fprintf(cfg.log, "  %d deliveries\n", i)
		}
	}
	if err := s.IndexNow(ctx); err != nil {
		return fail(err)
	}
	bulkTime := time.Since(start)
	if err := s.Close(); err != nil {
		return err
	}
	rate := func(k int, d time.Duration) (string, *bool) {
		r := float64(k) / d.Seconds()
		ok := r >= targetIngest
		return fmt.Sprintf("%s/s (%s in %.1fs)", thousands(int(r)), thousands(k), d.Seconds()), &ok
	}
	v, ok := rate(agentN, agentTime)
	t.add(sec, "ingest, agent path (Record: a delivery and its attempt per write, writer batches)", v, fmt.Sprintf("≥ %s/s", thousands(targetIngest)), ok)
	v, ok = rate(n-agentN, bulkTime)
	t.add(sec, "ingest, bulk path (Import, 256 per write)", v, fmt.Sprintf("≥ %s/s", thousands(targetIngest)), ok)
	v, ok = rate(n, agentTime+bulkTime)
	t.add(sec, "ingest, all "+thousands(n)+" deliveries with full-text index", v, fmt.Sprintf("≥ %s/s", thousands(targetIngest)), ok)

	var size int64 // the store and its full-text index's file
	for _, f := range []string{path, path + "-search"} {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		size += st.Size()
	}
	t.add(sec, "database size per delivery (with its attempt, full-text index included)", fmt.Sprintf("%d bytes (%.0f MiB in all)", size/int64(n), float64(size)/(1<<20)), "", nil)

	// Queries, on a store opened afresh like `hooktap events list` does.
	s, err = store.OpenExisting(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	type probe struct {
		name   string
		q      store.Query
		target time.Duration
		none   bool // no delivery matches: the query must find that out fast
	}
	probes := []probe{
		{"newest page of 50", store.Query{}, targetNewest, false},
		{"page 1000 of 50 (--before)", store.Query{Before: int64(n - 50_000)}, targetNewest, false},
		{"filtered page: --object-type payable", store.Query{ObjectType: "payable"}, targetFiltered, false},
		{"filtered page: --object-type batch_payment (rare)", store.Query{ObjectType: "batch_payment"}, targetFiltered, false},
		{"filtered page: --status 5xx", store.Query{Status: mustStatus("5xx")}, targetFiltered, false},
		{"filtered page: --status 404", store.Query{Status: mustStatus("404")}, targetFiltered, false},
		{"filtered page: --status error", store.Query{Status: mustStatus("error")}, targetFiltered, false},
		{"filtered page: --status 202 (no such delivery)", store.Query{Status: mustStatus("202")}, targetFiltered, true},
		{"filtered page: --object-type payable --status 5xx", store.Query{ObjectType: "payable", Status: mustStatus("5xx")}, targetFiltered, false},
		{"filtered page: --entity-id", store.Query{EntityID: entities[3]}, targetFiltered, false},
		{"search: one object id", store.Query{Search: probeObject}, targetSearch, false},
		{"search: an entity id (5% of rows)", store.Query{Search: entities[7]}, targetSearch, false},
		{"search: common word \"approved\"", store.Query{Search: "approved"}, targetSearch, false},
		{"search: two words \"counterpart created\"", store.Query{Search: "counterpart created"}, targetSearch, false},
		{"search + filter: \"approved\" --status 5xx", store.Query{Search: "approved", Status: mustStatus("5xx")}, targetSearch, false},
	}
	for _, p := range probes {
		p.q.Limit = 50
		var got int
		med, worst, err := timeQuery(ctx, 15, func() error {
			ds, err := s.List(ctx, p.q)
			got = len(ds)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if (got == 0) != p.none {
			return fmt.Errorf("%s: %d rows; the generator or the query is wrong", p.name, got)
		}
		ok := med <= p.target
		t.add(sec, p.name, fmt.Sprintf("%s median, %s worst of 15", ms(med), ms(worst)), "≤ "+ms(p.target), &ok)
	}
	d, err := s.Get(ctx, probeID[:10])
	if err != nil {
		return fmt.Errorf("get by prefix: %w", err)
	}
	if d.ID != probeID {
		return fmt.Errorf("get by prefix found %s, want %s", d.ID, probeID)
	}
	med, worst, err := timeQuery(ctx, 15, func() error { _, err := s.Get(ctx, probeID[:10]); return err })
	if err != nil {
		return err
	}
	t.add(sec, "show by id prefix (Get)", fmt.Sprintf("%s median, %s worst of 15", ms(med), ms(worst)), "", nil)
	cfg.shared.storeDB = path
	return nil
}

// timeQuery runs fn once to warm up, then runs times times.
func timeQuery(ctx context.Context, runs int, fn func() error) (median, worst time.Duration, err error) {
	if err := fn(); err != nil {
		return 0, 0, err
	}
	ds := make([]time.Duration, runs)
	for i := range ds {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		start := time.Now()
		if err := fn(); err != nil {
			return 0, 0, err
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[runs/2], ds[runs-1], nil
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + " ms"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mustStatus is a status filter a test spells out.
func mustStatus(s string) store.Status {
	st, err := store.ParseStatus(s)
	if err != nil {
		panic(err)
	}
	return st
}
