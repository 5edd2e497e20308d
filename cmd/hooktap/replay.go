package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/provider"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// assignments is a repeatable --set path=value flag.
type assignments []string

func (a *assignments) String() string { return strings.Join(*a, " ") }

func (a *assignments) Set(s string) error {
	if path, _, err := jsonedit.ParseAssignment(s); err != nil {
		// The flag error names --set and the value: say what to write.
		if path == "" && strings.HasPrefix(s, "=") {
			return errors.New("the path before = is empty: write path=value, e.g. object.status=paid")
		}
		return errors.New("write path=value, e.g. object.status=paid")
	}
	*a = append(*a, s)
	return nil
}

// secretFlag is a signing secret and where it came from, so output can say
// "secret from HOOKTAP_SECRET" without ever printing the value.
type secretFlag struct {
	value  string
	source string
}

func (s *secretFlag) String() string { return "" } // never the value, not even in -h

func (s *secretFlag) Set(v string) error {
	s.value, s.source = v, "--secret"
	return nil
}

// setFrom sets the secret from an environment variable that the config
// file's secret_env names.
func (s *secretFlag) setFrom(v, source string) { s.value, s.source = v, source }

// register adds --secret, defaulting to HOOKTAP_SECRET.
func (s *secretFlag) register(fs *flag.FlagSet, e *env, usage string) {
	if v := e.getenv("HOOKTAP_SECRET"); v != "" {
		s.value, s.source = v, "HOOKTAP_SECRET"
	}
	fs.Var(s, "secret", usage+" (or HOOKTAP_SECRET)")
}

func cmdReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "replay", "replay ID [--to URL] [--db FILE] [--json]")
	to := fs.String("to", "", "send to this base URL (the delivery's path suffix and query are appended) instead of the original target")
	db := dbFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(pos, "replay")
	if err != nil {
		return err
	}
	st, err := store.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	s := &replay.Sender{Store: st}
	d, a, err := s.Replay(ctx, id, *to)
	if err != nil {
		return sendError(err)
	}
	return printSent(e, sentReport{kind: "replay", d: d, a: a}, *jsonOut)
}

func cmdResend(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "resend", "resend ID [--to URL] [--secret S] [--scheme X] [--set path=value]... [--edit] [--new-id] [--provider-data DIR] [--db FILE] [--json]")
	to := fs.String("to", "", "send to this base URL (the delivery's path suffix and query are appended) instead of the original target")
	db := dbFlag(fs, e)
	var secret secretFlag
	secret.register(fs, e, "signing `secret`")
	scheme := fs.String("scheme", "", "signing scheme: "+strings.Join(signing.Names(), ", ")+" (default: the delivery's own, else monite)")
	var sets assignments
	fs.Var(&sets, "set", "change a JSON field before signing: `path=value`, e.g. object.status=paid (repeatable)")
	edit := fs.Bool("edit", false, "edit the body in $EDITOR before signing")
	newID := fs.Bool("new-id", false, "give the message a new id instead of keeping the stored one")
	providerData := providerDataFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(pos, "resend")
	if err != nil {
		return err
	}
	if *scheme != "" {
		if _, err := signing.Lookup(*scheme); err != nil {
			return usageError{err.Error()}
		}
	}
	st, err := store.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	o := replay.ResendOptions{To: *to, Secret: secret.value, Scheme: *scheme, Set: sets, NewID: *newID}
	s := &replay.Sender{Store: st, SecretFor: emulatorSecret(ctx, *providerData)}
	d, err := st.Get(ctx, id)
	if err != nil {
		return sendError(err)
	}
	id = d.ID
	// Before the editor opens: an edit is not to be lost to a missing secret.
	if err := s.CanResend(d, o); err != nil {
		return sendError(err)
	}
	if *edit {
		body := d.Body
		// The edits from --set are shown in the editor rather than applied
		// after it, so that what the user saves is what gets signed.
		for _, s := range sets {
			path, value, _ := jsonedit.ParseAssignment(s)
			if body, err = jsonedit.Set(body, path, value); err != nil {
				return sendError(fmt.Errorf("--set %s: %w", s, err))
			}
		}
		edited, err := editBody(ctx, e, body)
		if err != nil {
			return err
		}
		if edited == nil && bytes.Equal(body, d.Body) {
			return jsonedit.ErrUnchanged // no --set either: nothing to send edited
		}
		if edited != nil {
			body = edited
		}
		o.Body, o.Set = body, nil
	}
	d, a, err := s.Resend(ctx, id, o)
	if err != nil {
		return sendError(err)
	}
	r := sentReport{kind: "resend", d: d, a: a}
	if sc := signing.Detect(a.RequestHeader); sc != nil {
		r.scheme, r.secretFrom = sc.Name(), cmp.Or(secret.source, emulatorSource)
	}
	return printSent(e, r, *jsonOut)
}

// emulatorSource is what output names as the secret's source when it is
// the provider emulator's (never the secret itself).
const emulatorSource = "the provider emulator"

// providerDataFlag adds --provider-data: the emulator's state, whose
// subscription secrets re-sign and verify the deliveries it made.
func providerDataFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("provider-data", dataDir(e)+"/provider", "the provider emulator's data `dir`: deliveries it made are re-signed and verified with their subscription's secret")
}

// emulatorSecret is the secret of the provider emulator's subscription a
// signed delivery came from (it names it in X-Hooktap-Subscription-Id),
// read from the emulator's state in dataDir; "" for any other delivery.
func emulatorSecret(ctx context.Context, dataDir string) func(*store.Delivery) string {
	return func(d *store.Delivery) string {
		subID := d.Header.Get("X-Hooktap-Subscription-Id")
		if subID == "" || signing.Detect(d.Header) == nil {
			return ""
		}
		return provider.ReadSecretFor(ctx, dataDir, "", subID, d.Body, func(string) bool { return false })
	}
}

// oneID checks that exactly one delivery id was given.
func oneID(pos []string, cmd string) (string, error) {
	switch len(pos) {
	case 0:
		return "", usagef("%s needs a delivery id (see hooktap events list)", cmd)
	case 1:
		return pos[0], nil
	}
	return "", usagef("%s takes one delivery id, got %d arguments", cmd, len(pos))
}

// sendError turns the Sender's errors that are about how hooktap was called
// into usage errors. An id that is not in the store (or a prefix of more
// than one) is not one: the same command works against another --db or
// after an import, so it is a runtime failure (exit 1), as in events show.
func sendError(err error) error {
	switch {
	case errors.Is(err, jsonedit.ErrBadPath), errors.Is(err, jsonedit.ErrNotJSON), errors.Is(err, jsonedit.ErrNotObject),
		errors.Is(err, jsonedit.ErrOutOfRange), errors.Is(err, signing.ErrUnknownScheme), errors.Is(err, replay.ErrNoSecret):
		return usageError{err.Error()}
	}
	return err
}

// editBody lets the user edit body in their editor (jsonedit.Draft) and
// returns what they saved, or nil when they saved it unchanged.
func editBody(ctx context.Context, e *env, body []byte) ([]byte, error) {
	d, err := jsonedit.NewDraft(body)
	if err != nil {
		return nil, err
	}
	defer d.Remove()
	editor := jsonedit.Editor(e.getenv)
	cmd := d.Command(editor)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("editor %q failed: %w; nothing was sent", editor, err)
	}
	edited, warning, err := d.Result()
	if warning != "" {
		fmt.Fprintln(e.stderr, "warning: "+warning)
	}
	return edited, err
}

// sentReport is one replay or resend and its answer.
type sentReport struct {
	kind       string // "replay" or "resend"
	d          *store.Delivery
	a          *store.Attempt
	scheme     string // resend: the scheme it was signed with
	secretFrom string // resend: "--secret" or "HOOKTAP_SECRET"
}

// sentLine is the --json form of a sentReport.
type sentLine struct {
	Type       string      `json:"type"`
	ID         string      `json:"id"`
	Action     string      `json:"action,omitempty"`
	Attempt    int         `json:"attempt"`
	Target     string      `json:"target"`
	Status     int         `json:"status"`
	DurationMS float64     `json:"duration_ms"`
	Error      string      `json:"error,omitempty"`
	Scheme     string      `json:"scheme,omitempty"`
	SecretFrom string      `json:"secret_from,omitempty"`
	Header     http.Header `json:"header,omitempty"`
	Body       *string     `json:"body,omitempty"`
	BodyBase64 []byte      `json:"body_base64,omitempty"`
}

// printSent prints the app's answer. No answer at all is an error (exit 1);
// any HTTP status is a successful replay, whatever the app thought of it.
func printSent(e *env, r sentReport, jsonOut bool) error {
	d, a := r.d, r.a
	if jsonOut {
		l := sentLine{
			Type: r.kind, ID: d.ID, Action: d.Action, Attempt: len(d.History), Target: a.Target,
			Status: a.Status, DurationMS: a.DurationMS(), Error: a.Error,
			Scheme: r.scheme, SecretFrom: r.secretFrom, Header: a.Header,
		}
		if utf8.Valid(a.Body) {
			s := string(a.Body)
			l.Body = &s
		} else {
			l.BodyBase64 = a.Body
		}
		if err := json.NewEncoder(e.stdout).Encode(l); err != nil {
			return err
		}
	} else {
		w := printable{e.stdout}
		what := d.Action
		if what == "" {
			what = d.Method + " " + requestPath(d)
		}
		fmt.Fprintf(w, "%s of %s (%s) to %s, attempt %d\n", r.kind, d.ID, what, a.Target, len(d.History))
		if r.scheme != "" {
			fmt.Fprintf(w, "signed with %s (secret from %s), fresh timestamp\n", r.scheme, r.secretFrom)
		} else if r.kind == "resend" {
			fmt.Fprintln(w, "unsigned, as the delivery arrived")
		}
		if a.Status != 0 {
			fmt.Fprintf(w, "%d %s  %.1fms\n", a.Status, http.StatusText(a.Status), a.DurationMS())
			writeHeaders(w, a.Header, "")
			fmt.Fprintln(w)
			fmt.Fprint(w, bodyPreview(a.Body, 2048))
		}
	}
	if a.Status == 0 {
		return fmt.Errorf("no answer from %s: %s", a.Target, a.Error)
	}
	return nil
}

// bodyPreview is up to limit bytes of body for a terminal, ending in a
// newline; binary bodies are described, not printed.
func bodyPreview(body []byte, limit int) string {
	switch {
	case len(body) == 0:
		return "(empty body)\n"
	case !utf8.Valid(body) || bytes.ContainsFunc(body, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }):
		return fmt.Sprintf("(%d bytes of binary data)\n", len(body))
	case len(body) > limit:
		cut := limit
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		return fmt.Sprintf("%s\n... (%d more bytes)\n", body[:cut], len(body)-cut)
	}
	s := string(body)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}
