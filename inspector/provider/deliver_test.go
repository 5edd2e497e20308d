package provider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/provider"
)

// TestRetriesUntilSuccess: an app that answers 500 twice and then 200 gets
// three attempts, each signed with a fresh timestamp, and the log says so.
func TestRetriesUntilSuccess(t *testing.T) {
	clk := newClock()
	em := startEmulator(t, provider.Config{Now: clk.now})
	m := client(t, em.URL)
	a := newApp(t, 500, 500, 200)
	s := m.create("payable", a.URL+"/hooks", "created")
	a.setSecret(s.Secret)

	eventID, n := m.emit("payable.created")
	if n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
	var stamps []int64
	var body []byte
	for i := 1; i <= 3; i++ {
		r := a.next(t)
		if !r.valid {
			t.Fatalf("attempt %d: signature does not verify with the subscription's secret", i)
		}
		if want := clk.now().Unix(); r.timestamp != want {
			t.Fatalf("attempt %d signed at %d, the clock says %d", i, r.timestamp, want)
		}
		if r.header.Get("X-Hooktap-Attempt") != fmt.Sprint(i) || r.header.Get("X-Hooktap-Subscription-Id") != s.ID {
			t.Fatalf("attempt %d: X-Hooktap-Attempt %q, X-Hooktap-Subscription-Id %q", i, r.header.Get("X-Hooktap-Attempt"), r.header.Get("X-Hooktap-Subscription-Id"))
		}
		if body != nil && string(r.body) != string(body) {
			t.Fatalf("attempt %d body changed:\n%s\n%s", i, body, r.body)
		}
		body = r.body
		stamps = append(stamps, r.timestamp)
		if i < 3 {
			waitFor(t, "the attempt in the log", func() bool {
				l := m.log("?event_id=" + eventID)
				return len(l) == 1 && l[0].RequestsMadeCount == i
			})
			l := m.log("")[0]
			if l.WasSuccessful || l.ResponseStatusCode == nil || *l.ResponseStatusCode != 500 {
				t.Fatalf("after attempt %d: %+v", i, l)
			}
			clk.advance(6 * time.Minute) // past any delay of the schedule
		}
	}
	if stamps[0] == stamps[1] || stamps[1] == stamps[2] {
		t.Fatalf("timestamps not fresh: %v", stamps)
	}
	var payload struct {
		WebhookSubscriptionID string `json:"webhook_subscription_id"`
	}
	json.Unmarshal(body, &payload)
	if payload.WebhookSubscriptionID != s.ID || !strings.Contains(string(body), `"action":"payable.created"`) || !strings.Contains(string(body), eventID) {
		t.Fatalf("body: %s", body)
	}
	waitFor(t, "success in the log", func() bool {
		l := m.log("?event_action=payable.created")
		return len(l) == 1 && l[0].WasSuccessful
	})
	l := m.log("")[0]
	if l.RequestsMadeCount != 3 || *l.ResponseStatusCode != 200 || l.EventID != eventID || l.URL != a.URL+"/hooks" || *l.Response != `{"status":200}` {
		t.Fatalf("log: %+v", l)
	}
	// The 2023-09-01 name of the log.
	var old logPage
	if m.do("GET", "/webhooks", nil, &old); len(old.Data) != 1 || old.Data[0].RequestsMadeCount != 3 {
		t.Fatalf("/webhooks: %+v", old)
	}
	var attempts struct {
		State    string
		Attempts []struct {
			Attempt            int
			ResponseStatusCode int `json:"response_status_code"`
		}
	}
	if code := m.do("GET", "/_emulator/deliveries/"+l.ID+"/attempts", nil, &attempts); code != 200 || attempts.State != "succeeded" ||
		len(attempts.Attempts) != 3 || attempts.Attempts[0].ResponseStatusCode != 500 || attempts.Attempts[2].ResponseStatusCode != 200 {
		t.Fatalf("attempts: %d %+v", code, attempts)
	}
	if a.count() != 3 {
		t.Fatalf("the app got %d requests", a.count())
	}
}

// TestGivesUpAfterSchedule: the schedule's length plus one attempts, then
// failed; 3xx is a failure and the redirect is not followed.
func TestGivesUpAfterSchedule(t *testing.T) {
	hit := make(chan struct{}, 10)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
	defer target.Close()
	a := newApp(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.arrived <- received{}
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	em := startEmulator(t, provider.Config{Schedule: []time.Duration{time.Millisecond, time.Millisecond}})
	m := client(t, em.URL)
	m.create("payable", redirect.URL)
	m.emit("payable.paid")
	for range 3 {
		a.next(t)
	}
	waitFor(t, "failed in the log", func() bool {
		l := m.log("")
		return len(l) == 1 && l[0].RequestsMadeCount == 3 && l[0].ResponseStatusCode != nil && *l[0].ResponseStatusCode == 307
	})
	if len(hit) != 0 {
		t.Fatal("the emulator followed a redirect")
	}
}

// TestTimeoutIsAFailedAttempt: an app slower than the timeout gets retried.
func TestTimeoutIsAFailedAttempt(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	em := startEmulator(t, provider.Config{Timeout: 100 * time.Millisecond, Schedule: []time.Duration{}})
	m := client(t, em.URL)
	m.create("payable", slow.URL)
	m.emit("payable.paid")
	waitFor(t, "the timeout in the log", func() bool {
		l := m.log("")
		return len(l) == 1 && l[0].RequestsMadeCount == 1 && l[0].ResponseStatusCode == nil &&
			l[0].Response != nil && strings.Contains(*l[0].Response, "timeout")
	})
}

// TestRegenerateSecret: after regenerate_secret, deliveries verify with the
// new secret and not with the old one.
func TestRegenerateSecret(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	a := newApp(t)
	s := m.create("counterpart", a.URL)
	a.setSecret(s.Secret)
	m.emit("counterpart.created")
	if r := a.next(t); !r.valid {
		t.Fatal("first delivery does not verify with the first secret")
	}
	var regen sub
	if code := m.do("POST", "/webhook_subscriptions/"+s.ID+"/regenerate_secret", nil, &regen); code != 200 || regen.Secret == s.Secret {
		t.Fatalf("regenerate: %d", code)
	}
	m.emit("counterpart.updated")
	r := a.next(t)
	if r.valid {
		t.Fatal("a delivery after regenerate_secret still verifies with the old secret")
	}
	sig := r.header.Get("Monite-Signature")
	if _, ok := verifyMonite(sig, r.body, regen.Secret); !ok {
		t.Fatal("a delivery after regenerate_secret does not verify with the new secret")
	}
}

// TestFanOut: one event goes to every enabled subscription that matches,
// each with its own secret and id; disabled ones and others get nothing.
func TestFanOut(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	all, created, disabled, other, wrongEvent := newApp(t), newApp(t), newApp(t), newApp(t), newApp(t)
	sAll := m.create("payable", all.URL)
	sCreated := m.create("payable", created.URL, "created")
	sDisabled := m.create("payable", disabled.URL)
	m.create("counterpart", other.URL)
	m.create("payable", wrongEvent.URL, "paid")
	all.setSecret(sAll.Secret)
	created.setSecret(sCreated.Secret)
	if code := m.do("POST", "/webhook_subscriptions/"+sDisabled.ID+"/disable", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	_, n := m.emit("payable.created")
	if n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
	for _, c := range []struct {
		a *app
		s sub
	}{{all, sAll}, {created, sCreated}} {
		r := c.a.next(t)
		var p struct {
			SubscriptionID string `json:"webhook_subscription_id"`
		}
		json.Unmarshal(r.body, &p)
		if !r.valid || p.SubscriptionID != c.s.ID {
			t.Fatalf("delivery to %s: valid=%v subscription %q", c.s.ID, r.valid, p.SubscriptionID)
		}
	}
	waitFor(t, "both in the log", func() bool {
		l := m.log("")
		return len(l) == 2 && l[0].WasSuccessful && l[1].WasSuccessful
	})
	if disabled.count()+other.count()+wrongEvent.count() != 0 {
		t.Fatalf("unmatched subscriptions received: disabled %d, other %d, wrong event %d", disabled.count(), other.count(), wrongEvent.count())
	}
	// An event nobody subscribes to is still an event.
	id, n := m.emit("tag.created")
	var ev map[string]any
	if code := m.do("GET", "/events/"+id, nil, &ev); n != 0 || code != 200 || ev["action"] != "tag.created" || ev["id"] != id {
		t.Fatalf("unmatched event: %d deliveries, GET %d %v", n, code, ev)
	}
	var raw json.RawMessage
	if m.do("GET", "/events/"+id, nil, &raw); !strings.HasPrefix(string(raw), `{"id":"`+id+`","created_at":`) || strings.Contains(string(raw), "webhook_subscription_id") {
		t.Fatalf("event not in Monite's field order, or with a subscription: %s", raw)
	}
	var events struct{ Data []map[string]any }
	if m.do("GET", "/events?event_action=tag.created", nil, &events); len(events.Data) != 1 {
		t.Fatalf("events list: %+v", events)
	}
}

// TestDisableStopsRetries: a subscription disabled while its delivery
// waits for a retry receives nothing more.
func TestDisableStopsRetries(t *testing.T) {
	clk := newClock()
	em := startEmulator(t, provider.Config{Now: clk.now})
	m := client(t, em.URL)
	a := newApp(t, 500, 200)
	s := m.create("payable", a.URL)
	m.emit("payable.created")
	a.next(t)
	waitFor(t, "attempt 1 logged", func() bool { l := m.log(""); return len(l) == 1 && l[0].RequestsMadeCount == 1 })
	m.do("POST", "/webhook_subscriptions/"+s.ID+"/disable", nil, nil)
	clk.advance(time.Hour)
	var st struct{ State string }
	waitFor(t, "the retry canceled", func() bool {
		m.do("GET", "/_emulator/deliveries/"+m.log("")[0].ID+"/attempts", nil, &st)
		return st.State == "canceled"
	})
	if a.count() != 1 {
		t.Fatalf("a disabled subscription received %d requests", a.count())
	}
}

// TestClockSetBack: a retry due before the clock was set back an hour is
// not held for that hour.
func TestClockSetBack(t *testing.T) {
	clk := newClock()
	em := startEmulator(t, provider.Config{Now: clk.now})
	m := client(t, em.URL)
	a := newApp(t, 500, 200)
	m.create("payable", a.URL)
	m.emit("payable.created")
	a.next(t)
	waitFor(t, "attempt 1 logged", func() bool { l := m.log(""); return len(l) == 1 && l[0].RequestsMadeCount == 1 })
	clk.advance(-time.Hour)
	a.next(t)
	waitFor(t, "success", func() bool { l := m.log(""); return len(l) == 1 && l[0].WasSuccessful })
}

// TestPayloadFollowsVersion: each subscription gets the payload shape of
// the API version it was created with.
func TestPayloadFollowsVersion(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	apps := map[string]*app{}
	for _, v := range []string{"2024-05-25", "2023-09-01", "2023-06-04"} {
		m.version = v
		apps[v] = newApp(t)
		m.create("payable", apps[v].URL)
	}
	m.emit("payable.created")
	for v, a := range apps {
		var p map[string]any
		json.Unmarshal(a.next(t).body, &p)
		_, hasSub := p["webhook_subscription_id"]
		_, hasDesc := p["description"]
		_, hasSignificance := p["significance"]
		switch {
		case v == "2024-05-25" && (!hasSub || !hasDesc || p["api_version"] != v),
			v == "2023-09-01" && (!hasSub || !hasSignificance || p["api_version"] != v),
			v == "2023-06-04" && (hasSub || p["name"] == nil || p["object_id"] == nil):
			t.Errorf("%s payload: %v", v, p)
		}
	}
}

// TestMonkFlavor: as Monk, the emulator sends Monk's flat bodies with its
// headers and X-Monk-Signature, and the delivery id stays the same across
// retries so that handlers can test their idempotency.
func TestMonkFlavor(t *testing.T) {
	clk := newClock()
	em := startEmulator(t, provider.Config{Flavor: "monk", Now: clk.now})
	m := client(t, em.URL)
	m.version = "" // Monk has no API versions
	var e apiError
	if code := m.do("POST", "/webhook_subscriptions", map[string]any{"object_type": "payable", "url": "https://a.b"}, &e); code != 422 {
		t.Fatalf("a Monite object type as Monk: %d", code)
	}
	a := newApp(t, 503, 200)
	s := m.create("invoice", a.URL, "created")
	if code := m.do("POST", "/_emulator/events", map[string]any{"action": "payable.created"}, &e); code != 422 || !strings.Contains(e.Detail[0].Msg, "Monite") {
		t.Fatalf("a Monite event as Monk: %d %+v", code, e)
	}
	m.emit("invoice.created")
	var first received
	for i := range 2 {
		r := a.next(t)
		h := r.header
		ts, sig, _ := strings.Cut(strings.TrimPrefix(h.Get("X-Monk-Signature"), "t="), ",v1=")
		if _, ok := verifyMonite("t="+ts+",v1="+sig, r.body, s.Secret); !ok || h.Get("Monite-Signature") != "" {
			t.Fatalf("attempt %d: X-Monk-Signature %q does not verify", i+1, h.Get("X-Monk-Signature"))
		}
		if h.Get("User-Agent") != "Monk-Webhook/1.0" || h.Get("X-Monk-Event") != "invoice.created" || h.Get("X-Monk-Delivery-Id") == "" {
			t.Fatalf("attempt %d headers: %v", i+1, h)
		}
		var body map[string]any
		json.Unmarshal(r.body, &body)
		if body["id"] == nil || body["createdAt"] == nil || body["updatedAt"] == nil || body["object"] != nil || body["webhook_subscription_id"] != nil {
			t.Fatalf("not Monk's body: %s", r.body)
		}
		if i == 0 {
			first = r
			waitFor(t, "attempt 1 logged", func() bool { l := m.log(""); return len(l) == 1 && l[0].RequestsMadeCount == 1 })
			clk.advance(time.Hour)
			continue
		}
		if h.Get("X-Monk-Delivery-Id") != first.header.Get("X-Monk-Delivery-Id") || string(r.body) != string(first.body) {
			t.Fatalf("the retry changed the delivery id or body: %q vs %q", h.Get("X-Monk-Delivery-Id"), first.header.Get("X-Monk-Delivery-Id"))
		}
	}
	waitFor(t, "success", func() bool { l := m.log(""); return len(l) == 1 && l[0].WasSuccessful && l[0].RequestsMadeCount == 2 })
}
