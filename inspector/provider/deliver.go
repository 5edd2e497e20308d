package provider

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hooktap/hooktap/inspector/signing"
)

// Delivery is one event's delivery to one subscription, as the deliverer
// sees it after an attempt.
type Delivery struct {
	ID             string
	EventID        string
	SubscriptionID string
	URL            string
	Action         string
	Attempt        int    // attempts made so far
	Status         int    // the last attempt's answer; 0 when there was none
	Error          string // why the last attempt got no answer
	State          string // pending, succeeded, failed, canceled
	NextAt         time.Time
}

// concurrency bounds the attempts in flight at once.
const concurrency = 16

// responseKeep is how much of an app's answer the log keeps.
const responseKeep = 1024

// poke wakes the deliverer.
func (p *Provider) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run delivers due deliveries until ctx ends, then waits for the attempts
// in flight. It reads due times from the database each round (at least
// every second), so a restart resumes the retries a crash left, and a
// clock that jumps is noticed.
func (p *Provider) Run(ctx context.Context) error {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		due, next, err := p.due(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("provider: read due deliveries", "err", err)
		}
		for _, id := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				p.attempt(ctx, id)
				p.mu.Lock()
				delete(p.inflight, id)
				p.mu.Unlock()
				p.poke()
			}()
		}
		wait := time.Second
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// due claims up to a batch of deliveries whose time has come, and says when
// the next one is due. A due time further ahead than the longest delay can
// only come from a clock that was set back: such a delivery is due now.
func (p *Provider) due(ctx context.Context) ([]string, time.Time, error) {
	now := p.now()
	ahead := now + p.longest().Microseconds()
	rows, err := p.db.R.QueryContext(ctx, `SELECT id, next_at FROM deliveries WHERE state = 'pending' ORDER BY next_at LIMIT 256`)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var ids []string
	var next time.Time
	p.mu.Lock()
	defer p.mu.Unlock()
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, time.Time{}, err
		}
		if p.inflight[id] {
			continue
		}
		if at > now && at <= ahead {
			if next.IsZero() {
				next = time.Now().Add(time.Duration(at-now) * time.Microsecond)
			}
			continue
		}
		p.inflight[id] = true
		ids = append(ids, id)
	}
	return ids, next, rows.Err()
}

// longest is the longest delay the schedule may give, jitter included,
// plus a second.
func (p *Provider) longest() time.Duration {
	var m time.Duration
	for _, d := range p.cfg.Schedule {
		m = max(m, d)
	}
	return time.Duration(float64(m)*p.cfg.Scale*1.25) + time.Second
}

// delay is the wait before retry n (1-based) with ±20% jitter, so that
// retries of many deliveries do not arrive together.
func (p *Provider) delay(n int) time.Duration {
	d := float64(p.cfg.Schedule[n-1]) * p.cfg.Scale
	return time.Duration(d * (0.8 + 0.4*rand.Float64()))
}

// pending is what an attempt needs of a delivery and its subscription.
type pending struct {
	Delivery
	body    []byte
	scheme  string
	secret  string
	enabled bool
	gone    bool // the subscription was deleted
}

func (p *Provider) load1(ctx context.Context, id string) (*pending, error) {
	var d pending
	var secret, status sql.NullString
	err := p.db.R.QueryRowContext(ctx, `SELECT d.id, d.event_id, d.subscription_id, d.url, d.action, d.requests_made_count, d.body, d.scheme, d.state,
		s.secret, s.status FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = ?`, id).
		Scan(&d.ID, &d.EventID, &d.SubscriptionID, &d.URL, &d.Action, &d.Attempt, &d.body, &d.scheme, &d.State, &secret, &status)
	if err != nil {
		return nil, err
	}
	d.secret, d.gone, d.enabled = secret.String, !secret.Valid, status.String == statusEnabled
	return &d, nil
}

// attempt makes one attempt of delivery id and records it. A subscription
// disabled or deleted since the event stops its retries: it receives
// nothing more.
func (p *Provider) attempt(ctx context.Context, id string) {
	d, err := p.load1(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("provider: load delivery", "id", id, "err", err)
		}
		return
	}
	if d.State != "pending" {
		return
	}
	if d.gone || !d.enabled {
		d.State = "canceled"
		if _, err := p.db.W.ExecContext(ctx, `UPDATE deliveries SET state = 'canceled', next_at = NULL, updated_at = ? WHERE id = ?`, p.now(), id); err != nil && ctx.Err() == nil {
			p.log.Error("provider: cancel delivery", "id", id, "err", err)
		}
		return
	}
	started := p.cfg.Now()
	status, response, errText := p.send(ctx, d)
	if ctx.Err() != nil {
		return // shutting down: not recorded, so the next start sends it again
	}
	p.record(ctx, d, started, status, response, errText)
}

// send POSTs the delivery, signed now with the subscription's current
// secret. It returns the answer's status and the start of its body, or why
// there was none.
func (p *Provider) send(ctx context.Context, d *pending) (int, string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	// Not Monite's nor Monk's: hooktap's own, so that the TUI and the web
	// inspector show which subscription and which attempt a delivery is.
	req.Header.Set("X-Hooktap-Subscription-Id", d.SubscriptionID)
	req.Header.Set("X-Hooktap-Attempt", strconv.Itoa(d.Attempt+1))
	sc, err := signing.Lookup(d.scheme)
	if err != nil {
		return 0, "", err.Error()
	}
	// Monk's delivery id stays the same across retries, for idempotency.
	m := signing.Message{ID: d.ID, Event: d.Action, Timestamp: p.cfg.Now(), Body: d.body}
	if err := sc.Sign(req.Header, m, d.secret); err != nil {
		return 0, "", err.Error()
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", describeErr(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, responseKeep))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection when it is cheap
	return resp.StatusCode, printable(b), ""
}

// describeErr says why an attempt got no answer, without Go's wrapping.
func describeErr(err error) string {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout: no answer within the attempt's time limit"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "connection refused") {
		return "connection refused"
	}
	return msg
}

// printable is the answer's start as text: invalid UTF-8 becomes U+FFFD.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// record writes the attempt and what follows from it: success, another
// try at a due time, or failure after the last attempt.
func (p *Provider) record(ctx context.Context, d *pending, started time.Time, status int, response, errText string) {
	n := d.Attempt + 1
	now := p.cfg.Now()
	ok := status >= 200 && status < 300
	d.Attempt, d.Status, d.Error = n, status, errText
	var next any
	switch {
	case ok:
		d.State = "succeeded"
	case n > len(p.cfg.Schedule):
		d.State = "failed"
	default:
		d.State = "pending"
		d.NextAt = now.Add(p.delay(n))
		next = d.NextAt.UnixMicro()
	}
	var code any
	shown := response
	if status != 0 {
		code = status
	} else {
		shown = errText
	}
	tx, err := p.db.W.BeginTx(ctx, nil)
	if err != nil {
		p.log.Error("provider: record attempt", "id", d.ID, "err", err)
		return
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO attempts(delivery_id, n, started_at, duration_us, status, error, response) VALUES (?,?,?,?,?,?,?)`,
		d.ID, n, started.UnixMicro(), now.Sub(started).Microseconds(), status, errText, response)
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET requests_made_count = ?, response_status_code = ?, response = ?, was_successful = ?,
			state = ?, next_at = ?, updated_at = ? WHERE id = ?`, n, code, shown, ok, d.State, next, now.UnixMicro(), d.ID)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		p.log.Error("provider: record attempt", "id", d.ID, "err", err)
		return
	}
	p.log.Info("delivery attempt", "id", d.ID, "subscription", d.SubscriptionID, "attempt", n, "status", status, "error", errText, "state", d.State)
	p.mu.Lock()
	fs := slices.Clone(p.events)
	p.mu.Unlock()
	for _, f := range fs {
		f(d.Delivery)
	}
}
