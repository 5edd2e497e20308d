package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/provider"
)

// triggerProvider asks the provider emulator to emit the event: it goes to
// every matching subscription, signed with each one's secret, in the shape
// of each one's API version, so --to, --secret, --scheme and --api-version
// do not apply.
func triggerProvider(ctx context.Context, e *env, fs *flag.FlagSet, f *triggerFlags, pos []string) error {
	var clash []string
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "to", "secret", "scheme", "api-version":
			clash = append(clash, "--"+fl.Name)
		}
	})
	if len(clash) > 0 {
		return usagef("--provider sends through the emulator's subscriptions (their URLs, secrets and API versions): drop %s", strings.Join(clash, ", "))
	}
	if len(pos) != 1 {
		return usagef("trigger needs one event, e.g. hooktap trigger payable.created --provider %s", f.provider)
	}
	if _, err := catalog.Lookup(pos[0]); err != nil {
		return usageError{err.Error()}
	}
	if f.count < 1 {
		return usagef("--count must be at least 1")
	}
	endpoint, err := emulatorEndpoint(f.provider)
	if err != nil {
		return usagef("--provider: %v", err)
	}
	req := provider.EmitRequest{Action: pos[0], EntityID: f.entityID, Set: map[string]json.RawMessage{}}
	for _, s := range f.sets {
		path, value, _ := jsonedit.ParseAssignment(s)
		if json.Valid([]byte(value)) {
			req.Set[path] = json.RawMessage(value)
		} else {
			req.Set[path], _ = json.Marshal(value)
		}
	}
	enc := json.NewEncoder(e.stdout)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range f.count {
		out, err := emit(ctx, client, endpoint, f.providerToken, req)
		if ctx.Err() != nil {
			return interruptedf("interrupted %s", requestsDone(i, f.count))
		}
		if err != nil {
			return err
		}
		if f.json {
			if err := enc.Encode(out); err != nil {
				return err
			}
			continue
		}
		var ev struct{ ID, Action string }
		json.Unmarshal(out.Event, &ev)
		fmt.Fprintf(printable{e.stdout}, "%s  event %s %s: %d deliver%s\n", clock(time.Now()), ev.ID, ev.Action, len(out.Deliveries), plural(len(out.Deliveries), "y", "ies"))
		for _, d := range out.Deliveries {
			fmt.Fprintf(printable{e.stdout}, "  delivery %s  subscription %s  %s\n", d.ID, d.SubscriptionID, d.URL)
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// emulatorEndpoint is the emit URL for an emulator's base URL, given with
// or without /v1.
func emulatorEndpoint(base string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL such as http://127.0.0.1:8790", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/v1") + "/v1/_emulator/events"
	return u.String(), nil
}

// emit POSTs one event to the emulator and reads what it made.
func emit(ctx context.Context, client *http.Client, endpoint, token string, req provider.EmitRequest) (*provider.Emitted, error) {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("provider emulator: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("provider emulator answered %d: %s", resp.StatusCode, answerLine(raw))
	}
	var out provider.Emitted
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("provider emulator: unexpected answer: %s", answerLine(raw))
	}
	return &out, nil
}

// answerLine shortens an answer to one printable line.
func answerLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
