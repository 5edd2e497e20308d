package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/tui"
)

// Terminal UI targets (issue 5): a key press that loads a page or a
// delivery and redraws stays within a frame or two.
const (
	targetTUIList   = 16 * time.Millisecond
	targetTUIDetail = 16 * time.Millisecond
)

// benchTUI fills a store with cfg.deliveries deliveries and times what the
// terminal UI does on a key press: read the visible page (or one delivery
// with its attempts) and render the screen, at 100x30 and 200x50.
func benchTUI(ctx context.Context, cfg config, t *table) error {
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-tui-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := rand.New(rand.NewPCG(5, 6))
	pool, _, err := samples(2_000, r)
	if err != nil {
		return err
	}
	if cfg.shared.storeDB != "" {
		return renderTUI(ctx, cfg, t, cfg.shared.storeDB)
	}
	s, err := store.Open(ctx, filepath.Join(dir, "tui.db"))
	if err != nil {
		return err
	}
	n := cfg.deliveries
	base := time.Now().Add(-time.Duration(n) * 50 * time.Millisecond)
	const chunk = 16384
	for i := 0; i < n; {
		ds := make([]*store.Delivery, 0, chunk)
		for ; i < n && len(ds) < chunk; i++ {
			smp := &pool[r.IntN(len(pool))]
			f := smp.fields
			at := base.Add(time.Duration(i) * 50 * time.Millisecond)
			d := &store.Delivery{
				ID: fmt.Sprintf("dlv_%016x", r.Uint64()), Channel: "bench", ReceivedAt: at, Method: "POST", Path: "/",
				Header: smp.header, Body: smp.body, ObjectType: f.ObjectType, Action: f.Action, EntityID: f.EntityID,
				ObjectID: f.ObjectID, EventID: f.EventID, Scheme: "monite", Signature: signing.Valid,
			}
			status, errText := statusFor(r)
			d.History = []*store.Attempt{{
				DeliveryID: d.ID, Kind: store.KindForward, Target: "http://127.0.0.1:3000/webhooks",
				StartedAt: at.Add(time.Millisecond), Duration: time.Duration(500+r.IntN(20000)) * time.Microsecond,
				Status: status, Error: errText, Body: []byte(`{"received":true}`),
			}}
			ds = append(ds, d)
		}
		if _, err := s.Import(ctx, ds); err != nil {
			return fmt.Errorf("fill store: %w", err)
		}
		if i%200_000 < chunk {
			fmt.Fprintf(cfg.log, "  %d deliveries\n", i)
		}
	}
	if err := s.IndexNow(ctx); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	return renderTUI(ctx, cfg, t, filepath.Join(dir, "tui.db"))
}

// renderTUI times the terminal UI over the store at path.
func renderTUI(ctx context.Context, cfg config, t *table, path string) error {
	const sec = "tui"
	s, err := store.OpenExisting(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	count, err := s.Count(ctx)
	if err != nil {
		return err
	}
	n := int(count)
	// A delivery from the middle of the store for the detail view.
	mid, err := s.List(ctx, store.Query{Limit: 1, Before: count / 2})
	if err != nil || len(mid) == 0 {
		return fmt.Errorf("no delivery to show: %v", err)
	}
	probe := mid[0].ID
	opts := tui.Options{Store: s}
	for _, size := range [][2]int{{100, 30}, {200, 50}} {
		w, h := size[0], size[1]
		med, worst, err := timeQuery(ctx, 15, func() error {
			_, err := tui.Render(ctx, opts, w, h, "")
			return err
		})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		ok := med <= targetTUIList
		t.add(sec, fmt.Sprintf("list page at %dx%d, %s stored (read + render)", w, h, thousands(n)),
			fmt.Sprintf("%s median, %s worst of 15", ms(med), ms(worst)), "≤ "+ms(targetTUIList), &ok)
		med, worst, err = timeQuery(ctx, 15, func() error {
			_, err := tui.Render(ctx, opts, w, h, probe)
			return err
		})
		if err != nil {
			return fmt.Errorf("detail: %w", err)
		}
		ok = med <= targetTUIDetail
		t.add(sec, fmt.Sprintf("detail view at %dx%d (Get + pretty JSON + render)", w, h),
			fmt.Sprintf("%s median, %s worst of 15", ms(med), ms(worst)), "≤ "+ms(targetTUIDetail), &ok)
	}
	med, worst, err := timeQuery(ctx, 5, func() error { _, err := s.Count(ctx); return err })
	if err != nil {
		return err
	}
	t.add(sec, "status bar count (once a second, off the key path)", fmt.Sprintf("%s median, %s worst of 5", ms(med), ms(worst)), "", nil)
	return nil
}
