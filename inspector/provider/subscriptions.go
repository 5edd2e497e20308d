package provider

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hooktap/hooktap/relay/sqlitedb"
	"net"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/catalog"
)

// The two kinds of subscription: today's webhook_subscriptions and the
// legacy webhook_settings of the oldest docs, which share one table.
const (
	kindSubscription = "webhook_subscription"
	kindSetting      = "webhook_setting"

	statusEnabled  = "enabled"
	statusDisabled = "disabled"
)

// Subscription is a webhook subscription (or legacy setting) as the API
// shows it. Secret is only shown on create and regenerate_secret.
type Subscription struct {
	ID         string   `json:"id"`
	EventTypes []string `json:"event_types"`
	ObjectType string   `json:"object_type"`
	Secret     string   `json:"secret,omitempty"`
	Status     string   `json:"status"`
	URL        string   `json:"url"`

	kind       string
	apiVersion string
	createdAt  int64
	updatedAt  int64
}

// subFields are the fields POST and PATCH take; PATCH takes each as
// optional (a nil pointer leaves it alone).
type subFields struct {
	ObjectType *string   `json:"object_type"`
	URL        *string   `json:"url"`
	EventTypes *[]string `json:"event_types"`
}

const subColumns = `id, kind, object_type, url, event_types, status, secret, api_version, created_at, updated_at`

func scanSub(row interface{ Scan(...any) error }) (*Subscription, error) {
	var s Subscription
	var types string
	if err := row.Scan(&s.ID, &s.kind, &s.ObjectType, &s.URL, &types, &s.Status, &s.Secret, &s.apiVersion, &s.createdAt, &s.updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &s.EventTypes); err != nil || s.EventTypes == nil {
		s.EventTypes = []string{}
	}
	return &s, nil
}

// shown is s as GET shows it: without the secret.
func (s *Subscription) shown() *Subscription {
	c := *s
	c.Secret = ""
	return &c
}

// objectTypes are the object types of the catalog: what can be subscribed.
func (p *Provider) objectTypes() []string {
	var types []string
	for _, e := range p.catalog() {
		if !slices.Contains(types, e.ObjectType) {
			types = append(types, e.ObjectType)
		}
	}
	return types
}

// check validates the fields for a subscription of objectType (the new one
// on PATCH) and answers 422 itself. create says every required field must
// be there.
func (p *Provider) checkFields(c *call, f subFields, create bool) bool {
	if create && f.ObjectType == nil {
		c.invalid(loc("body", "object_type"), "field required")
		return false
	}
	if create && f.URL == nil {
		c.invalid(loc("body", "url"), "field required")
		return false
	}
	if f.ObjectType != nil && !slices.Contains(p.objectTypes(), *f.ObjectType) {
		c.invalid(loc("body", "object_type"), "unknown object_type %q; one of: %s", *f.ObjectType, strings.Join(p.objectTypes(), ", "))
		return false
	}
	if f.URL != nil {
		if msg := p.checkURL(*f.URL); msg != "" {
			c.invalid(loc("body", "url"), "%s", msg)
			return false
		}
	}
	return true
}

// checkEventTypes checks that every event type is an event of objectType:
// its name ("created") or its action ("payable.created").
func (p *Provider) checkEventTypes(c *call, objectType string, types []string) bool {
	if len(types) > 100 {
		c.invalid(loc("body", "event_types"), "at most 100 event types")
		return false
	}
	for i, t := range types {
		if !p.matchesEvent(objectType, t) {
			var names []string
			for _, e := range p.catalog() {
				if e.ObjectType == objectType {
					names = append(names, e.Name)
				}
			}
			c.invalid(loc("body", "event_types", i), "%q is not an event of %s; one of: %s", t, objectType, strings.Join(names, ", "))
			return false
		}
	}
	return true
}

// matchesEvent reports whether event type t names an event of objectType.
func (p *Provider) matchesEvent(objectType, t string) bool {
	for _, e := range p.catalog() {
		if e.ObjectType == objectType && (t == e.Name || t == e.Action()) {
			return true
		}
	}
	return false
}

// checkURL returns why u cannot be a webhook URL, or "". Monite takes
// https URLs of 1-2083 characters; the emulator also takes http, since the
// point is to deliver to a laptop.
func (p *Provider) checkURL(u string) string {
	if u == "" || len(u) > 2083 {
		return "url must be 1-2083 characters"
	}
	if strings.ContainsFunc(u, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "url contains control characters"
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.Hostname() == "" {
		return "url must be an absolute http(s) URL such as https://example.com/webhooks"
	}
	if pu.User != nil {
		return "url must not carry a user name or password"
	}
	port := pu.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[pu.Scheme]
	}
	if p.isSelf(net.JoinHostPort(pu.Hostname(), port), path.Clean("/"+pu.Path)) {
		return "url points at the emulator itself; use your app's (or hooktap's webhook) URL"
	}
	return ""
}

func (p *Provider) createSub(c *call, kind string) {
	var f subFields
	if !c.decode(&f) || !p.checkFields(c, f, true) {
		return
	}
	types := []string{}
	if f.EventTypes != nil && *f.EventTypes != nil {
		types = *f.EventTypes
	}
	if !p.checkEventTypes(c, *f.ObjectType, types) {
		return
	}
	now := p.now()
	s := &Subscription{
		ID: uuid.NewString(), EventTypes: types, ObjectType: *f.ObjectType, Secret: newSecret(),
		Status: statusEnabled, URL: *f.URL, kind: kind, apiVersion: c.shape(), createdAt: now, updatedAt: now,
	}
	tj, _ := json.Marshal(s.EventTypes)
	_, err := p.db.W.ExecContext(c.r.Context(), `INSERT INTO subscriptions(`+subColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		s.ID, kind, s.ObjectType, s.URL, string(tj), s.Status, s.Secret, s.apiVersion, now, now)
	if err != nil {
		c.fail(http.StatusInternalServerError, "store subscription: %v", err)
		return
	}
	p.log.Info("subscription created", "id", s.ID, "kind", kind, "object_type", s.ObjectType, "url", s.URL)
	p.changed(s)
	if kind == kindSetting {
		c.reply(http.StatusOK, s) // the legacy API answers 200
		return
	}
	c.reply(http.StatusCreated, s)
}

// shape is the payload shape for subscriptions made in this call.
func (c *call) shape() string {
	if c.version == "" || shapeFor(c.version) == "" {
		return catalog.Legacy
	}
	return shapeFor(c.version)
}

// load returns the subscription of kind with the path's id, answering 404
// itself when there is none.
func (p *Provider) load(c *call, kind string) *Subscription {
	id := c.pathID()
	s, err := scanSub(p.db.R.QueryRowContext(c.r.Context(), `SELECT `+subColumns+` FROM subscriptions WHERE id = ? AND kind = ?`, id, kind))
	if errors.Is(err, sql.ErrNoRows) {
		c.fail(http.StatusNotFound, "%s %q not found", strings.ReplaceAll(kind, "_", " "), c.r.PathValue("id"))
		return nil
	}
	if err != nil {
		c.fail(http.StatusInternalServerError, "read subscription: %v", err)
		return nil
	}
	return s
}

func (p *Provider) getSub(c *call, kind string) {
	if s := p.load(c, kind); s != nil {
		c.reply(http.StatusOK, s.shown())
	}
}

func (p *Provider) patchSub(c *call, kind string) {
	var f subFields
	if !c.decode(&f) || !p.checkFields(c, f, false) {
		return
	}
	s := p.load(c, kind)
	if s == nil {
		return
	}
	if f.ObjectType != nil {
		if *f.ObjectType != s.ObjectType && f.EventTypes == nil {
			s.EventTypes = []string{} // the old object's events mean nothing for the new one
		}
		s.ObjectType = *f.ObjectType
	}
	if f.URL != nil {
		s.URL = *f.URL
	}
	if f.EventTypes != nil {
		s.EventTypes = []string{}
		if *f.EventTypes != nil {
			s.EventTypes = *f.EventTypes
		}
	}
	if !p.checkEventTypes(c, s.ObjectType, s.EventTypes) {
		return
	}
	if c.version != "" {
		s.apiVersion = c.shape()
	}
	s.updatedAt = p.now()
	tj, _ := json.Marshal(s.EventTypes)
	if !p.update(c, `UPDATE subscriptions SET object_type = ?, url = ?, event_types = ?, api_version = ?, updated_at = ? WHERE id = ?`,
		s.ObjectType, s.URL, string(tj), s.apiVersion, s.updatedAt, s.ID) {
		return
	}
	p.changed(s)
	c.reply(http.StatusOK, s.shown())
}

// update runs one write for a loaded subscription; a subscription deleted
// meanwhile is a 404.
func (p *Provider) update(c *call, query string, args ...any) bool {
	res, err := p.db.W.ExecContext(c.r.Context(), query, args...)
	if err != nil {
		c.fail(http.StatusInternalServerError, "update subscription: %v", err)
		return false
	}
	if n, _ := res.RowsAffected(); n == 0 {
		c.fail(http.StatusNotFound, "subscription %q not found", c.r.PathValue("id"))
		return false
	}
	return true
}

func (p *Provider) deleteSub(c *call, kind string) {
	s := p.load(c, kind)
	if s == nil || !p.update(c, `DELETE FROM subscriptions WHERE id = ?`, s.ID) {
		return
	}
	p.log.Info("subscription deleted", "id", s.ID)
	if kind == kindSetting {
		c.reply(http.StatusOK, map[string]string{"message": "Webhook setting " + s.ID + " deleted"})
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) setStatus(c *call, status string) {
	s := p.load(c, kindSubscription)
	if s == nil {
		return
	}
	s.Status, s.updatedAt = status, p.now()
	if p.update(c, `UPDATE subscriptions SET status = ?, updated_at = ? WHERE id = ?`, status, s.updatedAt, s.ID) {
		c.reply(http.StatusOK, s.shown())
	}
}

// regenerate gives the subscription a new secret; the old one stops at
// once, for retries of earlier events too.
func (p *Provider) regenerate(c *call) {
	s := p.load(c, kindSubscription)
	if s == nil {
		return
	}
	s.Secret, s.updatedAt = newSecret(), p.now()
	if p.update(c, `UPDATE subscriptions SET secret = ?, updated_at = ? WHERE id = ?`, s.Secret, s.updatedAt, s.ID) {
		p.log.Info("subscription secret regenerated", "id", s.ID)
		p.changed(s)
		c.reply(http.StatusOK, s)
	}
}

// ReadSubscriptions returns every subscription (and legacy setting) in the
// emulator's state under dataDir, secrets included, oldest first: what
// hooktap provider secrets prints.
func ReadSubscriptions(ctx context.Context, dataDir string) ([]Subscription, error) {
	db, err := sqlitedb.Open(ctx, filepath.Join(dataDir, "provider.db"), migrations, sqlitedb.Options{MustExist: true, Readers: 1})
	if errors.Is(err, sqlitedb.ErrNotExist) {
		return nil, fmt.Errorf("no emulator state in %s (start hooktap provider or hooktap dev first, or pass --data)", dataDir)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return subscriptions(ctx, db.R)
}

// Subscriptions returns every subscription, secrets included, oldest first.
func (p *Provider) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return subscriptions(ctx, p.db.R)
}

func subscriptions(ctx context.Context, db *sql.DB) ([]Subscription, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+subColumns+` FROM subscriptions ORDER BY created_at, rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		s, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// SecretFor returns the secret to verify a delivery that came to url with
// body: the secret of the subscription named by the body's
// webhook_subscription_id, else by subID (the delivery's
// X-Hooktap-Subscription-Id: Monk's bodies and the oldest Monite shape name
// none, and the URL may spell the host differently, localhost for
// 127.0.0.1), else of the one subscription delivering to url whose secret
// verifies (verify says), else "". A name only picks the secret: the
// signature must still verify with it.
func (p *Provider) SecretFor(ctx context.Context, url, subID string, body []byte, verify func(secret string) bool) string {
	return secretFor(ctx, p.db.R, url, subID, body, verify)
}

// ReadSecretFor is SecretFor with the emulator's state under dataDir, for
// a command that runs beside it (hooktap resend, verify): "" when there is
// no state there.
func ReadSecretFor(ctx context.Context, dataDir, url, subID string, body []byte, verify func(secret string) bool) string {
	db, err := sqlitedb.Open(ctx, filepath.Join(dataDir, "provider.db"), migrations, sqlitedb.Options{MustExist: true, Readers: 1})
	if err != nil {
		return ""
	}
	defer db.Close()
	return secretFor(ctx, db.R, url, subID, body, verify)
}

func secretFor(ctx context.Context, db *sql.DB, url, subID string, body []byte, verify func(secret string) bool) string {
	var b struct {
		SubscriptionID string `json:"webhook_subscription_id"`
	}
	json.Unmarshal(body, &b)
	for _, id := range []string{b.SubscriptionID, subID} {
		if id == "" {
			continue
		}
		var secret string
		if db.QueryRowContext(ctx, `SELECT secret FROM subscriptions WHERE id = ?`, id).Scan(&secret) == nil {
			return secret
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT secret FROM subscriptions WHERE url = ? ORDER BY created_at DESC LIMIT 16`, url)
	if err != nil {
		return ""
	}
	defer rows.Close()
	for rows.Next() {
		var secret string
		if rows.Scan(&secret) == nil && verify(secret) {
			return secret
		}
	}
	return ""
}
