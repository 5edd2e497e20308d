package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runningStatus is what status reads of the web inspector's /api/status.
type runningStatus struct {
	Conn *struct {
		State          string  `json:"state"`
		Relay          string  `json:"relay"`
		URL            string  `json:"url"`
		Reason         string  `json:"reason"`
		HeartbeatAgeMS *int64  `json:"heartbeat_age_ms"`
		RTTMS          float64 `json:"rtt_ms"`
		Stalled        bool    `json:"stalled"`
	} `json:"conn"`
	App *struct {
		Addr       string  `json:"addr"`
		Listening  bool    `json:"listening"`
		Problem    string  `json:"problem"`
		LastStatus int     `json:"last_status"`
		Forwards   int     `json:"forwards_1m"`
		Failures   int     `json:"failures_1m"`
		ErrorRate  float64 `json:"error_rate_1m"`
	} `json:"app"`
	Deliveries int64  `json:"deliveries"`
	DB         string `json:"db"`
	StoreCause string `json:"store_cause"`
}

// cmdStatus asks a running agent (its web inspector) how its relay
// connection, its app and its store are doing. It exits 0 when all is
// well, 1 otherwise: for scripts.
func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "status [--web 127.0.0.1:4040] [--json]")
	addr := fs.String("web", "127.0.0.1:4040", "the web inspector address of the running listen or dev")
	jsonOut := fs.Bool("json", false, "print the agent's status as JSON (its /api/status)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("status takes no arguments")
	}
	if err := checkAddr("web", strings.TrimPrefix(*addr, "http://")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + strings.TrimPrefix(*addr, "http://") + "/api/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("bad --web %q: %v", *addr, err)
	}
	// With --json, a script gets an object on stdout whatever happens:
	// "running" says whether an agent answered.
	notRunning := func(err error) error {
		if *jsonOut {
			printJSONLine(e.stdout, map[string]any{"running": false, "web": *addr, "error": err.Error()})
		}
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return notRunning(fmt.Errorf("no hooktap agent answers on %s (is hooktap dev or listen running? its --web address goes in --web)", *addr))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st runningStatus
	var fields map[string]json.RawMessage
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &st) != nil || json.Unmarshal(raw, &fields) != nil {
		return notRunning(fmt.Errorf("%s is not a hooktap web inspector (%s)", *addr, resp.Status))
	}
	if *jsonOut {
		fields["running"] = json.RawMessage("true")
		if err := printJSONLine(e.stdout, fields); err != nil {
			return err
		}
	} else {
		printStatus(e.stdout, &st)
	}
	if problem := st.problem(); problem != "" {
		return fmt.Errorf("%s", problem)
	}
	return nil
}

// problem is what is wrong, in one line; "" when all is well.
func (st *runningStatus) problem() string {
	switch {
	case st.Conn == nil:
		return "no relay connection: this is a store-only inspector (hooktap web)"
	case st.Conn.State != "connected":
		return "relay " + st.Conn.State + ifSet(" ("+st.Conn.Reason+")", st.Conn.Reason)
	case st.StoreCause != "":
		return "the store cannot write: " + st.StoreCause
	case st.App != nil && !st.App.Listening:
		return st.App.Problem
	}
	return ""
}

// ifSet is s when cond is not empty.
func ifSet(s, cond string) string {
	if cond == "" {
		return ""
	}
	return s
}

func printStatus(w io.Writer, st *runningStatus) {
	p := printable{w}
	if c := st.Conn; c != nil {
		line := c.State
		if c.Stalled && c.State != "connected" {
			line = "not answering, " + line
		}
		line += " to " + c.Relay
		var more []string
		if c.RTTMS > 0 {
			more = append(more, fmt.Sprintf("rtt %.1fms", c.RTTMS))
		}
		if c.HeartbeatAgeMS != nil {
			more = append(more, "heartbeat "+(time.Duration(*c.HeartbeatAgeMS)*time.Millisecond).Round(time.Second).String()+" ago")
		}
		if c.Reason != "" && c.State != "connected" {
			more = append(more, c.Reason)
		}
		if len(more) > 0 {
			line += " (" + strings.Join(more, ", ") + ")"
		}
		fmt.Fprintf(p, "relay    %s\n", line)
		if c.URL != "" {
			fmt.Fprintf(p, "webhook  %s\n", c.URL)
		}
	}
	if a := st.App; a != nil {
		line := a.Problem
		if a.Listening {
			line = "listening on " + a.Addr
			if a.LastStatus != 0 {
				line += fmt.Sprintf(", last answer %d", a.LastStatus)
			}
		}
		if a.Forwards > 0 {
			line += fmt.Sprintf("; %d of %d forwards failed in the last minute", a.Failures, a.Forwards)
		}
		fmt.Fprintf(p, "app      %s\n", line)
	}
	store := fmt.Sprintf("%s, %d %s", st.DB, st.Deliveries, plural(int(st.Deliveries), "delivery", "deliveries"))
	if st.StoreCause != "" {
		store += "; cannot write: " + st.StoreCause
	}
	fmt.Fprintf(p, "store    %s\n", store)
}
