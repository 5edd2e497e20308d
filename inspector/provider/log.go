package provider

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"
)

// LogEntry is one item of the delivery log: one event's delivery to one
// subscription, with its attempts aggregated as Monite does.
type LogEntry struct {
	ID                 string  `json:"id"`
	EventID            string  `json:"event_id"`
	RequestsMadeCount  int     `json:"requests_made_count"`
	Response           *string `json:"response"`
	ResponseStatusCode *int    `json:"response_status_code"`
	URL                string  `json:"url"`
	WasSuccessful      bool    `json:"was_successful"`
}

func (p *Provider) listDeliveries(c *call) {
	allowed := append([]string{"event_id", "event_action", "object_type"}, timeFilters...)
	lq, ok := parseList(c, "webhook_deliveries", allowed)
	if !ok {
		return
	}
	clause, args := lq.sql(map[string]string{"event_id": "event_id", "event_action": "action", "object_type": "object_type"})
	// Monite scopes the log to the x-monite-entity-id header; the emulator
	// does when it is sent, and shows every entity's deliveries when not.
	where := "1=1"
	if e := strings.TrimSpace(c.r.Header.Get("X-Monite-Entity-Id")); e != "" {
		where = "entity_id = ?"
		args = append([]any{e}, args...)
	}
	rows, err := p.db.R.QueryContext(c.r.Context(), `SELECT id, event_id, requests_made_count, response, response_status_code, url, was_successful
		FROM deliveries WHERE `+where+clause, args...)
	if err != nil {
		c.fail(http.StatusInternalServerError, "list: %v", err)
		return
	}
	defer rows.Close()
	var items []any
	for rows.Next() {
		var e LogEntry
		var resp sql.NullString
		var code sql.NullInt64
		if err := rows.Scan(&e.ID, &e.EventID, &e.RequestsMadeCount, &resp, &code, &e.URL, &e.WasSuccessful); err != nil {
			c.fail(http.StatusInternalServerError, "list: %v", err)
			return
		}
		if resp.Valid {
			e.Response = &resp.String
		}
		if code.Valid {
			n := int(code.Int64)
			e.ResponseStatusCode = &n
		}
		items = append(items, e)
	}
	lq.answer(c, items)
}

// AttemptEntry is one attempt of a delivery (hooktap's extension: Monite's
// log shows only the aggregate).
type AttemptEntry struct {
	N          int     `json:"attempt"`
	StartedAt  string  `json:"started_at"`
	DurationMS float64 `json:"duration_ms"`
	Status     int     `json:"response_status_code"`
	Error      string  `json:"error,omitempty"`
	Response   string  `json:"response"`
}

// deliveryState is the extension's view of a delivery beyond Monite's log.
type deliveryState struct {
	ID             string         `json:"id"`
	SubscriptionID string         `json:"webhook_subscription_id"`
	State          string         `json:"state"`
	NextAttemptAt  *string        `json:"next_attempt_at"`
	Attempts       []AttemptEntry `json:"attempts"`
}

func (p *Provider) listAttempts(c *call) {
	id := c.pathID()
	var st deliveryState
	var next sql.NullInt64
	err := p.db.R.QueryRowContext(c.r.Context(), `SELECT id, subscription_id, state, next_at FROM deliveries WHERE id = ?`, id).
		Scan(&st.ID, &st.SubscriptionID, &st.State, &next)
	if errors.Is(err, sql.ErrNoRows) {
		c.fail(http.StatusNotFound, "delivery %q not found", c.r.PathValue("id"))
		return
	}
	if err != nil {
		c.fail(http.StatusInternalServerError, "read delivery: %v", err)
		return
	}
	if next.Valid {
		s := stamp(next.Int64)
		st.NextAttemptAt = &s
	}
	rows, err := p.db.R.QueryContext(c.r.Context(), `SELECT n, started_at, duration_us, status, error, response FROM attempts WHERE delivery_id = ? ORDER BY n`, id)
	if err != nil {
		c.fail(http.StatusInternalServerError, "read attempts: %v", err)
		return
	}
	defer rows.Close()
	st.Attempts = []AttemptEntry{}
	for rows.Next() {
		var a AttemptEntry
		var started, dur int64
		if err := rows.Scan(&a.N, &started, &dur, &a.Status, &a.Error, &a.Response); err != nil {
			c.fail(http.StatusInternalServerError, "read attempts: %v", err)
			return
		}
		a.StartedAt, a.DurationMS = stamp(started), float64(dur)/1000
		st.Attempts = append(st.Attempts, a)
	}
	c.reply(http.StatusOK, st)
}

// stamp formats unix microseconds as Monite formats times.
func stamp(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
