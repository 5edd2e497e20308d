package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hooktap/hooktap/relay"
)

// cmdChannels manages a team relay's channels through its admin API.
func cmdChannels(ctx context.Context, e *env, args []string) error {
	c, err := parseChannels(e, args)
	if err != nil {
		return err
	}
	switch c.sub {
	case "create", "rotate-token":
		return c.token(ctx, e)
	case "rotate-url":
		return c.rotateURL(ctx, e)
	case "delete":
		return c.delete(ctx, e)
	}
	return c.list(ctx, e)
}

// channelsCmd is a checked channels command.
type channelsCmd struct {
	sub, name string
	json      bool
	secretURL bool
	api       *adminClient
}

// parseChannels reads and checks the channels command line.
func parseChannels(e *env, args []string) (*channelsCmd, error) {
	const synopsis = "channels create [--secret-url]|list|delete|rotate-token|rotate-url [NAME] --relay URL --admin-token T [--json]"
	fs := newFlags(e, "channels", synopsis)
	relayURL := fs.String("relay", envOr(e, "HOOKTAP_RELAY", ""), "relay base URL (or HOOKTAP_RELAY)")
	admin := fs.String("admin-token", envOr(e, "HOOKTAP_ADMIN_TOKEN", ""), "the relay's admin `token` (or HOOKTAP_ADMIN_TOKEN)")
	c := &channelsCmd{}
	fs.BoolVar(&c.json, "json", false, "print JSON")
	fs.BoolVar(&c.secretURL, "secret-url", false, "create: give the channel's webhook URL a secret segment, so that the URL cannot be guessed from the name")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) == 0 {
		return nil, usagef("channels needs a subcommand: create, list, delete, rotate-token or rotate-url (see hooktap channels -h)")
	}
	c.sub, pos = pos[0], pos[1:]
	wantName := map[string]bool{"create": true, "delete": true, "rotate-token": true, "rotate-url": true, "list": false}
	needs, ok := wantName[c.sub]
	switch {
	case !ok:
		return nil, usagef("unknown channels subcommand %q: use create, list, delete, rotate-token or rotate-url", c.sub)
	case c.secretURL && c.sub != "create":
		return nil, usagef("--secret-url goes with channels create (rotate-url gives an existing channel a secret URL)")
	case needs && len(pos) != 1:
		return nil, usagef("channels %s needs one channel name", c.sub)
	case !needs && len(pos) != 0:
		return nil, usagef("channels list takes no arguments")
	case needs && !relay.ValidChannel(pos[0]):
		return nil, usagef("bad channel name %q: use 1-64 letters, digits, '.', '_' or '-'", pos[0])
	case *relayURL == "":
		return nil, usagef("--relay is required, e.g. --relay https://relay.example.com")
	case *admin == "":
		return nil, usagef("no admin token: set HOOKTAP_ADMIN_TOKEN to the relay's admin token in this shell, or pass it with --admin-token TOKEN")
	}
	if needs {
		c.name = pos[0]
	}
	base, err := url.Parse(strings.TrimRight(*relayURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, usagef("--relay %q must look like https://host[:port]", *relayURL)
	}
	c.api = &adminClient{base: base.String(), token: *admin, http: &http.Client{Timeout: 15 * time.Second}}
	return c, nil
}

// token creates a channel or rotates its token, and shows the token once.
func (c *channelsCmd) token(ctx context.Context, e *env) error {
	var ct relay.ChannelToken
	var err error
	if c.sub == "create" {
		body, _ := json.Marshal(map[string]any{"name": c.name, "secret_url": c.secretURL})
		err = c.api.do(ctx, http.MethodPost, "/api/channels", string(body), http.StatusCreated, &ct)
	} else {
		err = c.api.do(ctx, http.MethodPost, "/api/channels/"+c.name+"/rotate-token", "", http.StatusOK, &ct)
	}
	if err != nil {
		return err
	}
	if c.json {
		return json.NewEncoder(e.stdout).Encode(ct)
	}
	what := "created"
	if c.sub == "rotate-token" {
		what = "has a new token; agents using the old one were disconnected"
	}
	fmt.Fprintf(e.stdout, "channel %s %s\n  Webhook URL  %s\n  Agent token  %s\n  (the token is shown only now; share it with your team like a password)\n",
		ct.Name, what, ct.URL, ct.Token)
	if ct.SecretURL {
		fmt.Fprintln(e.stdout, "  (the webhook URL is a secret too: whoever has it can post to the channel)")
	}
	fmt.Fprintf(e.stdout, "\n  %s listen --relay %s --channel %s --token %s --forward-to http://localhost:3000/webhooks\n",
		selfCommand(), shellArg(c.api.base), shellArg(ct.Name), shellArg(ct.Token))
	return nil
}

func (c *channelsCmd) rotateURL(ctx context.Context, e *env) error {
	var st relay.ChannelStatus
	if err := c.api.do(ctx, http.MethodPost, "/api/channels/"+c.name+"/rotate-url", "", http.StatusOK, &st); err != nil {
		return err
	}
	if c.json {
		return json.NewEncoder(e.stdout).Encode(st)
	}
	fmt.Fprintf(e.stdout, "channel %s has a new webhook URL; the old one no longer works\n  Webhook URL  %s\n  (set it in your provider's webhook settings; it is a secret: whoever has it can post to the channel)\n",
		st.Name, st.URL)
	return nil
}

func (c *channelsCmd) delete(ctx context.Context, e *env) error {
	if err := c.api.do(ctx, http.MethodDelete, "/api/channels/"+c.name, "", http.StatusNoContent, nil); err != nil {
		return err
	}
	if c.json {
		return json.NewEncoder(e.stdout).Encode(map[string]string{"name": c.name, "status": "deleted"})
	}
	fmt.Fprintf(e.stdout, "channel %s deleted, with its buffered deliveries\n", c.name)
	return nil
}

func (c *channelsCmd) list(ctx context.Context, e *env) error {
	var cs []relay.ChannelStatus
	if err := c.api.do(ctx, http.MethodGet, "/api/channels", "", http.StatusOK, &cs); err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(e.stdout)
		for _, ch := range cs {
			enc.Encode(ch)
		}
		return nil
	}
	if len(cs) == 0 {
		fmt.Fprintf(e.stdout, "no channels yet: %s\n", createCommand("NAME", c.api.base))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAGENTS\tCREATED\tURL")
	for _, ch := range cs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", ch.Name, ch.Agents, ch.CreatedAt.Local().Format("2006-01-02 15:04"), ch.URL)
	}
	return tw.Flush()
}

// createCommand is the channels create command for a relay, to paste: the
// admin token comes from the variable channels reads.
func createCommand(channel, relayURL string) string {
	return selfCommand() + " channels create " + shellArg(channel) + " --relay " + shellArg(relayURL) +
		` --admin-token "$HOOKTAP_ADMIN_TOKEN"`
}

// adminClient calls a relay's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// do sends one request and decodes the JSON answer into out (when not nil).
// An unexpected status becomes the relay's one-line message.
func (c *adminClient) do(ctx context.Context, method, path, body string, want int, out any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("relay %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "hooktap: "))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = resp.Status
		}
		return fmt.Errorf("relay answered %d: %s", resp.StatusCode, msg)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("relay answered with unexpected JSON: %w", err)
		}
	}
	return nil
}
