package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "verify ID [--secret S] [--provider-data DIR] [--db FILE] [--json]")
	var secret secretFlag
	secret.register(fs, e, "signing `secret` to check the delivery with")
	db := dbFlag(fs, e)
	providerData := providerDataFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(pos, "verify")
	if err != nil {
		return err
	}
	st, err := readStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Get(ctx, id)
	if err != nil {
		return sendError(err)
	}
	if secret.value == "" {
		// A delivery the provider emulator made: its subscription's secret.
		if v := emulatorSecret(ctx, *providerData)(d); v != "" {
			secret.setFrom(v, emulatorSource)
		}
	}
	if secret.value == "" {
		return usagef("verify needs the signing secret: pass --secret or set HOOKTAP_SECRET")
	}
	// A stored delivery is judged as of when it arrived: a signature that
	// was fresh then is valid, even if replaying it now would be too late.
	then := signing.Verify(d.Header, d.Body, secret.value, d.ReceivedAt)
	now := signing.Verify(d.Header, d.Body, secret.value, time.Now())
	then.Reason = explain(d, then)
	now.Reason = explain(d, now)

	if *jsonOut {
		l := verifyLine{ID: d.ID, Action: d.Action, ReceivedAt: d.ReceivedAt, Scheme: then.Scheme,
			SecretFrom: secret.source, State: string(then.State), Reason: then.Reason,
			NowState: string(now.State), NowReason: now.Reason}
		if !then.Timestamp.IsZero() {
			l.SignedAt = then.Timestamp.UTC()
		}
		if err := json.NewEncoder(e.stdout).Encode(l); err != nil {
			return err
		}
	} else {
		w := printable{e.stdout}
		what := d.Action
		if what == "" {
			what = d.Method + " " + d.Path
		}
		fmt.Fprintf(w, "delivery     %s (%s)\n", d.ID, what)
		fmt.Fprintf(w, "received at  %s\n", d.ReceivedAt.UTC().Format(time.RFC3339))
		if then.Scheme != "" {
			fmt.Fprintf(w, "scheme       %s (secret from %s)\n", then.Scheme, secret.source)
		}
		if !then.Timestamp.IsZero() {
			fmt.Fprintf(w, "signed at    %s\n", then.Timestamp.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "as received  %s: %s\n", then.State, then.Reason)
		fmt.Fprintf(w, "as of now    %s: %s\n", now.State, now.Reason)
	}
	switch then.State {
	case signing.Valid:
		return nil
	case signing.Unsigned:
		return fmt.Errorf("the delivery was unsigned when it arrived: %s", then.Reason)
	}
	return fmt.Errorf("signature %s when it arrived: %s", then.State, then.Reason)
}

// explain sharpens a failed check's reason with what the store knows: the
// stored bytes are the ones that arrived, so when they matched the agent's
// secret on arrival but not this one, the secret given is the wrong one.
func explain(d *store.Delivery, r signing.Result) string {
	if r.State == signing.Invalid && (d.Signature == signing.Valid || d.Signature == signing.Expired) &&
		strings.HasPrefix(r.Reason, "signature does not match") {
		return "wrong secret: the signature matched the secret the agent had when the delivery arrived"
	}
	return r.Reason
}

// verifyLine is the --json form of verify.
type verifyLine struct {
	ID         string    `json:"id"`
	Action     string    `json:"action,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	SignedAt   time.Time `json:"signed_at,omitzero"`
	Scheme     string    `json:"scheme,omitempty"`
	SecretFrom string    `json:"secret_from"`
	State      string    `json:"state"`
	Reason     string    `json:"reason"`
	NowState   string    `json:"now_state"`
	NowReason  string    `json:"now_reason"`
}
