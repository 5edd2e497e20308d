package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hooktap/hooktap/inspector/provider"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// devProvider is the provider emulator hooktap dev serves beside its relay.
type devProvider struct {
	p           *provider.Provider
	api         string // its base URL, …/v1
	printSecret bool
}

// secretFor gives the agent the secret of the emulator's subscription a
// delivery came from, so that its signature shows valid or invalid with no
// --secret.
func (dp *devProvider) secretFor(ctx context.Context, webhookURL string) func(*store.Delivery) string {
	return func(d *store.Delivery) string {
		u := webhookURL + d.Path
		if d.Query != "" {
			u += "?" + d.Query
		}
		return dp.p.SecretFor(ctx, u, d.Header.Get("X-Hooktap-Subscription-Id"), d.Body, func(secret string) bool {
			return signing.Verify(d.Header, d.Body, secret, d.ReceivedAt).State == signing.Valid
		})
	}
}

// pointsAt reports whether a subscription's URL is the webhook URL or
// under it, its loopback host spelled either way (localhost, 127.0.0.1,
// [::1]): the relay answers on all of them.
func pointsAt(raw, webhookURL string) bool {
	u, err := url.Parse(raw)
	w, werr := url.Parse(webhookURL)
	if err != nil || werr != nil || !strings.EqualFold(u.Scheme, w.Scheme) || u.Port() != w.Port() {
		return false
	}
	if !strings.EqualFold(u.Hostname(), w.Hostname()) && !(loopback(u.Hostname()) && loopback(w.Hostname())) {
		return false
	}
	return u.EscapedPath() == w.EscapedPath() || strings.HasPrefix(u.EscapedPath(), w.EscapedPath()+"/")
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
}

// watch prints, with --print-secret, the secret of every subscription to
// the webhook URL: those there already once the agent is ready, then each
// one created or given a new secret.
func (dp *devProvider) watch(ctx context.Context, r *reporter, webhookURL string) {
	if !dp.printSecret {
		return
	}
	subs, err := dp.p.Subscriptions(ctx)
	if err == nil {
		r.mu.Lock()
		for _, s := range subs {
			if pointsAt(s.URL, webhookURL) {
				r.secrets = append(r.secrets, s)
			}
		}
		r.mu.Unlock()
	}
	dp.p.OnChange(func(s provider.Subscription) {
		if pointsAt(s.URL, webhookURL) && s.Secret != "" {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.ready {
				r.secret(s)
			} else {
				r.secrets = append(r.secrets, s)
			}
		}
	})
}

// secretLine is a subscription's secret in --json output (--print-secret).
type secretLine struct {
	Type           string `json:"type"`
	SubscriptionID string `json:"webhook_subscription_id"`
	URL            string `json:"url"`
	Secret         string `json:"secret"`
}

// readied prints what waited for the ready line. r.mu is held.
func (r *reporter) readied() {
	for _, s := range r.secrets {
		r.secret(s)
	}
	r.secrets = nil
}

// secret prints one subscription's secret. r.mu is held.
func (r *reporter) secret(s provider.Subscription) {
	if r.json {
		r.encode.Encode(secretLine{Type: "secret", SubscriptionID: s.ID, URL: s.URL, Secret: s.Secret})
		return
	}
	fmt.Fprintf(printable{r.w}, "secret %s  subscription %s  %s\n", s.Secret, s.ID, s.URL)
}
