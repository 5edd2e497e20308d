package main

import (
	"net"
	"strings"
	"testing"
	"time"
)

// Cluster flags that mean nothing together are refused in one line, before
// anything starts (exit 2), and a --nats password is never echoed.
func TestRelayClusterFlagErrors(t *testing.T) {
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--nats uses an existing NATS", []string{"--nats", "nats://127.0.0.1:4222", "--cluster-listen", "127.0.0.1:6222"}},
		{"--nats uses an existing NATS", []string{"--nats", "nats://127.0.0.1:4222", "--cluster-name", "c"}},
		{"--cluster-listen and --cluster-routes need --cluster-name", []string{"--cluster-routes", "nats://127.0.0.1:6222"}},
		{"--cluster-listen and --cluster-routes need --cluster-name", []string{"--cluster-listen", "127.0.0.1:6222"}},
		{"--cluster-routes needs --cluster-listen", []string{"--cluster-name", "c", "--cluster-routes", "nats://127.0.0.1:6222"}},
		{"--cluster-listen needs --cluster-routes: every node's cluster URL", []string{"--cluster-name", "c", "--cluster-listen", "127.0.0.1:6222"}},
		{"--nats-creds goes with --nats", []string{"--nats-creds", "x.creds"}},
		{"--cluster-sync-always is for the embedded cluster", []string{"--nats", "nats://127.0.0.1:4222", "--cluster-sync-always"}},
		{"--cluster-sync-always needs --cluster-name", []string{"--cluster-sync-always"}},
		{"--node-name needs cluster mode", []string{"--node-name", "a"}},
		{`bad --cluster-routes entry "127.0.0.1:6222": want nats://HOST:PORT`, []string{"--cluster-name", "c", "--cluster-listen", "127.0.0.1:6222", "--cluster-routes", "127.0.0.1:6222"}},
		{`bad --cluster-listen "6222"`, []string{"--cluster-name", "c", "--cluster-listen", "6222"}},
		// A port no node can listen on: else the node waits a minute for a cluster that cannot form.
		{`bad --cluster-routes entry "nats://127.0.0.1:99999": want nats://HOST:PORT`, []string{"--cluster-name", "c", "--cluster-listen", "127.0.0.1:0", "--cluster-routes", "nats://127.0.0.1:99999"}},
		{`bad --cluster-routes entry "nats://127.0.0.1:0": want nats://HOST:PORT`, []string{"--cluster-name", "c", "--cluster-listen", "127.0.0.1:0", "--cluster-routes", "nats://127.0.0.1:0"}},
		{`bad --cluster-routes entry "nats://127.0.0.1:http": want nats://HOST:PORT`, []string{"--cluster-name", "c", "--cluster-listen", "127.0.0.1:0", "--cluster-routes", "nats://127.0.0.1:http"}},
		{"bad --nats URL", []string{"--nats", "bob:pw"}},
	} {
		oneLine(t, c.want, append([]string{"relay", "--data", t.TempDir()}, c.args...)...)
	}
	_, errOut, _ := hooktapOut(t, nil, "relay", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--nats", "nats://bob:s3cret@127.0.0.1:1")
	if strings.Contains(errOut, "s3cret") || !strings.Contains(errOut, "cannot connect to nats://127.0.0.1:1") {
		t.Errorf("unreachable --nats: stderr %q", errOut)
	}
}

// What stops a node at start-up is one line in hooktap's words, under
// "cluster:", at once: neither the internal package's name nor NATS's own
// wording, nor a minute's wait for a cluster that cannot form.
func TestRelayClusterStartErrorsOneLine(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	self := freeAddr(t)
	for _, c := range []struct {
		want string
		args []string
	}{
		{"cluster: --cluster-routes names no node but this one (--cluster-listen " + self + ")",
			[]string{"--cluster-name", "c", "--cluster-listen", self, "--cluster-routes", "nats://" + self}},
		{"cluster: --cluster-listen " + taken.Addr().String() + ": bind: address already in use",
			[]string{"--cluster-name", "c", "--cluster-listen", taken.Addr().String(), "--cluster-routes", "nats://" + taken.Addr().String() + ",nats://" + freeAddr(t)}},
		{"cluster: cannot connect to nats://127.0.0.1:1", []string{"--nats", "nats://127.0.0.1:1"}},
	} {
		start := time.Now()
		out, errOut, code := hooktapOut(t, nil, append([]string{"relay", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)...)
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "hooktap: "+c.want) || strings.Contains(errOut, "natsnode") {
			t.Errorf("%v: exit %d after %s, stdout %q, stderr %q; want exit 1 and one line starting %q",
				c.args, code, time.Since(start).Round(time.Millisecond), out, errOut, "hooktap: "+c.want)
		}
	}
}
