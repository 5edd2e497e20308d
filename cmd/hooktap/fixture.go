package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/fixture"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// eventsSave writes recorded deliveries as a fixture: one step each, in
// the order given.
func eventsSave(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events save", "events save ID [ID...] FILE|- [--force] [--db FILE]")
	db := dbFlag(fs, e)
	force := fs.Bool("force", false, "overwrite FILE if it exists")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("events save needs one or more delivery ids and a file, e.g. hooktap events save k3f9x2 flow.json")
	}
	ids, file := pos[:len(pos)-1], pos[len(pos)-1]
	st, err := readStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	var fx fixture.Fixture
	for _, id := range ids {
		d, err := st.Get(ctx, id)
		if err != nil {
			return err
		}
		fx.Steps = append(fx.Steps, fixture.FromDelivery(d))
	}
	if file == "-" {
		return fx.Write(e.stdout)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(file, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; pass --force to overwrite it", file)
	}
	if err != nil {
		return err
	}
	if err := fx.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "saved %d step(s) to %s (signatures left out; %s trigger --fixture %s sends them re-signed)\n", len(fx.Steps), file, selfCommand(), shellArg(file))
	return nil
}

// loadFixture reads the fixture trigger sends: a file (--fixture), or
// recorded deliveries (--from, one step each).
func loadFixture(ctx context.Context, f *triggerFlags) (*fixture.Fixture, error) {
	if f.fixture != "" {
		r := io.Reader(os.Stdin)
		if f.fixture != "-" {
			file, err := os.Open(f.fixture)
			if err != nil {
				return nil, usagef("--fixture: %v", err)
			}
			defer file.Close()
			r = file
		}
		fx, err := fixture.Load(r)
		if err != nil {
			return nil, usagef("--fixture %s: %v", f.fixture, err)
		}
		return fx, nil
	}
	st, err := readStore(ctx, f.db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ids := splitList(f.from)
	if len(ids) == 0 {
		return nil, usagef("--from needs delivery ids, e.g. --from k3f9x2,p8q1r7")
	}
	fx := &fixture.Fixture{}
	for _, id := range ids {
		d, err := st.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		fx.Steps = append(fx.Steps, fixture.FromDelivery(d))
	}
	return fx, nil
}

// triggerFixture sends a fixture (or recorded deliveries) --count times,
// each run with fresh ids and timestamps, re-signed.
func triggerFixture(ctx context.Context, e *env, f *triggerFlags, schemeSet bool, pos []string) error {
	switch {
	case len(pos) > 0:
		return usagef("trigger takes an event or --fixture/--from, not both")
	case f.fixture != "" && f.from != "":
		return usagef("give --fixture or --from, not both")
	case f.provider != "":
		return usagef("--fixture and --from send to --to; --provider makes the emulator emit a catalog event")
	case f.count < 1:
		return usagef("--count must be at least 1")
	}
	fwd, err := forward.New(f.to, 0)
	if err != nil {
		return usagef("--to: %v", err)
	}
	var scheme signing.Scheme
	if schemeSet {
		if scheme, err = signing.Lookup(f.scheme); err != nil {
			return usageError{err.Error()}
		}
	}
	fx, err := loadFixture(ctx, f)
	if err != nil {
		return err
	}
	// Every run is built before anything is sent: a bad --set fails first.
	var runs [][]fixture.Request
	for range f.count {
		reqs, err := fx.Run(fixture.Options{Now: time.Now(), NewID: uuid.NewString, EntityID: f.entityID, Sets: f.sets})
		if err != nil {
			return usageError{err.Error()}
		}
		runs = append(runs, reqs)
	}
	if !f.json && f.secret.value == "" {
		fmt.Fprintf(e.stderr, "note: sending unsigned (no --secret or HOOKTAP_SECRET); apps that check signatures will reject it\n")
	}
	enc := json.NewEncoder(e.stdout)
	failed, sent := 0, 0
	for _, reqs := range runs {
		for _, r := range reqs {
			a, sc, err := sendStep(ctx, fwd, r, scheme, f.secret.value)
			if ctx.Err() != nil {
				return interruptedf("interrupted %s", requestsDone(sent, len(runs)*len(reqs)))
			}
			if err != nil {
				return err
			}
			sent++
			if a.Status < 200 || a.Status >= 300 {
				failed++
			}
			l := triggerLine{Type: "trigger", Event: r.Action, EventID: r.EventID, URL: a.Target, Status: a.Status,
				DurationMS: a.DurationMS(), Error: a.Error, Scheme: sc, Delivery: a.Header.Get(relay.HeaderDelivery)}
			if f.json {
				err = enc.Encode(l)
			} else {
				err = printTriggerLine(printable{e.stdout}, l)
			}
			if err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests to %s got no 2xx answer", failed, sent, fwd.Target())
	}
	return nil
}

// sendStep signs r (when there is a secret) with a fresh timestamp, with
// scheme, else the scheme the step was recorded with, else the default,
// and sends it. It returns the attempt and the scheme's name ("" unsigned).
func sendStep(ctx context.Context, fwd *forward.Forwarder, r fixture.Request, scheme signing.Scheme, secret string) (*store.Attempt, string, error) {
	h := r.Headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	wire.DropOwnVia(h) // fixtures saved before Via was left out carry one
	if h.Get("Content-Type") == "" && len(r.Body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "hooktap/"+buildVersion())
	}
	name := ""
	if secret != "" {
		if scheme == nil {
			scheme, _ = signing.Lookup(r.Scheme)
		}
		if scheme == nil {
			scheme, _ = signing.Lookup(signing.DefaultScheme)
		}
		m := signing.Message{ID: r.EventID, Event: r.Action, Timestamp: time.Now(), Body: r.Raw}
		if err := scheme.Sign(h, m, secret); err != nil {
			return nil, "", err
		}
		name = scheme.Name()
	}
	a := fwd.Forward(ctx, forward.Request{Method: r.Method, Path: r.Path, Query: r.Query, Header: h, Body: r.Raw, Origin: true})
	return a, name, ctx.Err()
}
