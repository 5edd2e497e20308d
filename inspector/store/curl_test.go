package store

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestCurlCommandShape(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name   string
		d      Delivery
		target string
		want   string
	}{
		{"get", Delivery{Method: "GET", Header: http.Header{"Accept": {"*/*"}}}, "http://127.0.0.1:3000/h?a=1",
			"curl -sS -i 'http://127.0.0.1:3000/h?a=1' \\\n  -H 'Accept: */*'"},
		{"head", Delivery{Method: "HEAD"}, "http://a/", "curl -sS -i -I 'http://a/'"},
		{"head with body", Delivery{Method: "HEAD", Header: json, Body: []byte("{}")}, "http://a/",
			"curl -sS -i -X 'HEAD' --ignore-content-length -H 'Connection: close' 'http://a/' \\\n  -H 'Content-Type: application/json' \\\n  --data-binary '{}'"},
		{"get with body", Delivery{Method: "GET", Body: []byte("x")}, "http://a/",
			"curl -sS -i -X 'GET' 'http://a/' \\\n  -H 'Content-Type:' \\\n  --data-binary 'x'"},
		{"post without body", Delivery{Method: "POST"}, "http://a/", "curl -sS -i -X 'POST' 'http://a/'"},
		// hooktap's own Via entries would count as hops again (508 from a
		// relay that the pasted command reaches); another proxy's stay.
		{"via", Delivery{Method: "POST", Header: http.Header{"Via": {"1.1 hooktap", "1.1 lb.example, 1.1 hooktap"}}}, "http://a/",
			"curl -sS -i -X 'POST' 'http://a/' \\\n  -H 'Via: 1.1 lb.example'"},
		{"post", Delivery{Method: "POST", Header: http.Header{
			"Content-Type": {"application/json"}, "Host": {"relay"}, "Content-Length": {"11"}, "Connection": {"X-Hop"},
			"X-Hop": {"1"}, "Accept-Encoding": {"gzip"}, "X-Forwarded-For": {"1.2.3.4"}, "Keep-Alive": {"5"},
			"Transfer-Encoding": {"chunked"}, "Expect": {"100-continue"}, "X-Empty": {""}, "Two": {"a", "b"},
		}, Body: []byte(`{"a":"it's"}`)}, "http://a/hooks",
			"curl -sS -i -X 'POST' 'http://a/hooks' \\\n  -H 'Content-Type: application/json' \\\n  -H 'Two: a' \\\n  -H 'Two: b' \\\n" +
				"  -H 'X-Empty;' \\\n  --data-binary '{\"a\":\"it'\\''s\"}'"},
		{"hostile method", Delivery{Method: "PUT`touch$IFS'x'`"}, "http://a/", `curl -sS -i -X 'PUT` + "`touch$IFS'\\''x'\\''`" + `' 'http://a/'`},
		{"binary body", Delivery{Method: "POST", Header: json, Body: []byte{0, 0xff, '\'', 'a'}}, "http://a/",
			"printf '%s\\n' 'AP8nYQ==' | base64 -d | curl -sS -i -X 'POST' 'http://a/' \\\n  -H 'Content-Type: application/json' \\\n  --data-binary @-"},
		{"body with a carriage return", Delivery{Method: "POST", Header: json, Body: []byte("a\r\n")}, "http://a/",
			"printf '%s\\n' 'YQ0K' | base64 -d | curl -sS -i -X 'POST' 'http://a/' \\\n  -H 'Content-Type: application/json' \\\n  --data-binary @-"},
		{"body naming a file", Delivery{Method: "POST", Header: json, Body: []byte("@/etc/passwd")}, "http://a/",
			"printf '%s' '@/etc/passwd' | curl -sS -i -X 'POST' 'http://a/' \\\n  -H 'Content-Type: application/json' \\\n  --data-binary @-"},
		{"header bytes", Delivery{Method: "GET", Header: http.Header{"X-Sig": {"caf\xe9 \xff%\\'"}, "X-Tab": {"a\tb"}}}, "http://a/",
			"curl -sS -i 'http://a/' \\\n  -H \"$(printf 'X-Sig: caf\\351 \\377%%\\\\'\\''')\" \\\n  -H \"$(printf 'X-Tab: a\\011b')\""},
		{"bad header name", Delivery{Method: "GET", Header: http.Header{"@/etc/passwd": {"x"}, "A b": {"c"}}}, "http://a/",
			"curl -sS -i 'http://a/'"},
		{"odd target", Delivery{Method: "GET"}, "http://a/x/../y?q[]={1}", "curl -sS -i -g --path-as-is 'http://a/x/../y?q[]={1}'"},
		{"not a URL", Delivery{Method: "GET"}, "-o/tmp/x", "curl -sS -i --url '-o/tmp/x'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CurlCommand(&c.d, c.target); got != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestCurlTarget(t *testing.T) {
	d := &Delivery{Path: "/billing", Query: "a=1", Target: "http://latest/x", History: []*Attempt{
		{Kind: KindReplay, Target: "http://replayed/"}, {Kind: KindForward, Target: "http://first/webhooks/billing?a=1"},
		{Kind: KindForward, Target: "http://second/"},
	}}
	for _, c := range []struct{ to, want string }{
		{"", "http://first/webhooks/billing?a=1"},
		{"http://127.0.0.1:9/base", "http://127.0.0.1:9/base/billing?a=1"},
	} {
		if got, err := CurlTarget(d, c.to); err != nil || got != c.want {
			t.Errorf("to %q: %q %v, want %q", c.to, got, err, c.want)
		}
	}
	d.History = nil
	if got, _ := CurlTarget(d, ""); got != "http://latest/x" {
		t.Errorf("no history: %q", got)
	}
	d.Target = ""
	if got, _ := CurlTarget(d, ""); got != "http://localhost/billing?a=1" {
		t.Errorf("never forwarded: %q", got)
	}
	if _, err := CurlTarget(d, "ftp://x"); err == nil {
		t.Error("an ftp target was taken")
	}
}

// received is a request as a test server saw it.
type received struct {
	method, uri string
	header      http.Header
	body        []byte
}

// receiver is a server that keeps the last request it got.
func receiver(t *testing.T) (*httptest.Server, <-chan received) {
	got := make(chan received, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		got <- received{r.Method, r.RequestURI, r.Header.Clone(), b}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(ts.Close)
	return ts, got
}

// runShell runs cmd with shell in an empty directory; a command of the
// sender that ran would leave a file there.
func runShell(t *testing.T, shell, cmd string) {
	t.Helper()
	dir := t.TempDir()
	c := exec.Command(shell, "-c", cmd)
	if len(cmd) > 100<<10 {
		// Too long for one argument: the shell reads it, as when pasted.
		c = exec.Command(shell, "-s")
		c.Stdin = strings.NewReader(cmd)
	}
	c.Dir = dir
	out, err := c.CombinedOutput()
	if len(cmd) > 2000 {
		cmd = cmd[:2000] + "…"
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s\ncommand:\n%s", shell, err, out, cmd)
	}
	if files, _ := os.ReadDir(dir); len(files) > 0 {
		t.Fatalf("%s: the command made %v in its directory:\n%s", shell, files, cmd)
	}
}

// checkReceived compares what the server got with d sent to uri.
func checkReceived(t *testing.T, got received, d *Delivery, uri string) {
	t.Helper()
	method := d.Method
	if method == "" {
		method = "GET"
	}
	if got.method != method || got.uri != uri || !bytes.Equal(got.body, d.Body) {
		t.Errorf("got %q %q %q, want %q %q %q", got.method, got.uri, got.body, method, uri, d.Body)
	}
	for k, vs := range d.Header {
		if curlSkips(k, d.Header) {
			continue
		}
		if g := got.header.Values(k); !slices.Equal(g, vs) {
			t.Errorf("header %s: got %q, want %q", k, g, vs)
		}
	}
	if _, ok := d.Header["Content-Type"]; !ok && got.header.Get("Content-Type") != "" {
		t.Errorf("curl added Content-Type %q", got.header.Get("Content-Type"))
	}
}

func TestCurlCommandRuns(t *testing.T) {
	ts, got := receiver(t)
	big := strings.Repeat(`{"pad":"$(touch big)"}`, 8<<10) // 176 KiB, over one argument's limit
	hostile := http.Header{
		"X-Dollar":     {"$(touch h1)", "`touch h2`"},
		"X-Quote":      {"';touch h3;'"},
		"X-Bytes":      {"caf\xe9 \xff \\n %s"},
		"X-Tab":        {"a\tb"},
		"X-Empty":      {""},
		"X-Q'`$":       {"name"},
		"Content-Type": {"application/json"},
	}
	cases := []struct {
		name string
		d    Delivery
		path string
	}{
		{"get", Delivery{Method: "GET"}, "/"},
		{"get with body", Delivery{Method: "GET", Body: []byte(`{"q":1}`)}, "/g"},
		{"head", Delivery{Method: "HEAD"}, "/h"},
		{"head with body", Delivery{Method: "HEAD", Body: []byte("x")}, "/h"},
		{"post", Delivery{Method: "POST", Header: hostile, Body: []byte("'$(touch b1)';`touch b2`\"\n\t\\")}, "/p"},
		{"post without body", Delivery{Method: "POST"}, "/p"},
		{"method", Delivery{Method: "PUT`touch$IFS'x'`", Body: []byte("x")}, "/m"},
		{"method pipe", Delivery{Method: "A|touch$IFS'y'&&touch$IFS'z'", Header: hostile}, "/m"},
		{"method quote", Delivery{Method: "'`touch$IFS'w'`'"}, "/m"},
		{"path and query", Delivery{Method: "POST", Body: []byte("{}")}, "/a/$(touch%20p)/%60touch%20q%60;touch$IFS'r'?x=';touch$IFS's';'&y[]={1}&z=`touch$IFS't'`"},
		{"binary body", Delivery{Method: "POST", Header: hostile, Body: []byte("\x00\xff'$(touch b3)'\x00\n")}, "/b"},
		{"body naming a file", Delivery{Method: "POST", Body: []byte("@/etc/passwd")}, "/f"},
		{"large body", Delivery{Method: "POST", Body: []byte(big)}, "/l"},
	}
	for _, shell := range []string{"/bin/sh", "/bin/bash"} {
		for _, c := range cases {
			t.Run(shell+" "+c.name, func(t *testing.T) {
				runShell(t, shell, CurlCommand(&c.d, ts.URL+c.path))
				checkReceived(t, <-got, &c.d, c.path)
			})
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"payable.created":                       "payable.created",
		"a\tb\nc":                               "a\tb\nc",
		"payable.\x1b]52;c;Y3Vy\x07created":     "payable.\uFFFD]52;c;Y3Vy\uFFFDcreated",
		"\x1b[2K\x1b[1A\r\b\x7f\u009b":          "\uFFFD[2K\uFFFD[1A\uFFFD\uFFFD\uFFFD\uFFFD",
		"caf\xe9":                               "caf\uFFFD",
		"\u202e reversed is not a control char": "\u202e reversed is not a control char",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
