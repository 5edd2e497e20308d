package store

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hooktap/hooktap/relay/wire"
)

// Copy as curl, for the TUI and the web inspector. Everything in a stored
// request came from a webhook sender, so nothing of it reaches the shell
// unquoted: every word is single-quoted, bytes a terminal or a clipboard
// could change go through printf escapes or base64, and no word starts
// with '@' where curl would read a file. The command is POSIX sh.

// maxInlineBody is the largest body written as an argument; larger ones go
// through printf, a shell builtin, as Linux limits one argument of a
// program to 128 KiB.
const maxInlineBody = 64 << 10

// CurlTarget is the URL a copied command sends d to: with to, where d
// would go at that base (as `replay --to` sends it); else where d was
// first forwarded; else its path and query at http://localhost.
func CurlTarget(d *Delivery, to string) (string, error) {
	if to == "" {
		if t := d.ForwardedTo(); t != "" {
			return t, nil
		}
		to = "http://localhost"
	}
	base, err := ParseTarget(to)
	if err != nil {
		return "", err
	}
	u, err := TargetURL(base, d.Path, d.Query)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// CurlCommand is a POSIX sh command that sends d to target with curl: the
// stored method, headers (but those curlSkips) and exact body bytes.
func CurlCommand(d *Delivery, target string) string {
	method := d.Method
	if method == "" {
		method = http.MethodGet
	}
	body := d.Body
	inline := len(body) <= maxInlineBody && (len(body) == 0 || body[0] != '@') && plainText(string(body), true)
	var b strings.Builder
	switch {
	case inline:
	case plainText(string(body), true):
		b.WriteString("printf '%s' " + quote(string(body)) + " | ")
	default:
		b.WriteString("printf '%s\\n' " + quote(base64.StdEncoding.EncodeToString(body)) + " | base64 -d | ")
	}
	b.WriteString("curl -sS -i" + curlMethod(method, len(body) > 0))
	if strings.ContainsAny(target, "[]{}") {
		b.WriteString(" -g") // no URL globbing
	}
	if hasDotSegment(target) {
		b.WriteString(" --path-as-is")
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		b.WriteString(" " + shellWord(target))
	} else {
		b.WriteString(" --url " + shellWord(target)) // never an option
	}
	// The Via entries hooktap added on the delivery's way here would count
	// as hops again: a relay refuses what came round too often.
	hdr := d.Header.Clone()
	wire.DropOwnVia(hdr)
	for _, k := range slices.Sorted(maps.Keys(hdr)) {
		if curlSkips(k, hdr) {
			continue
		}
		for _, v := range hdr[k] {
			h := k + ": " + v
			if v == "" {
				h = k + ";" // curl's way to send an empty value; "k:" removes k
			}
			b.WriteString(" \\\n  -H " + shellWord(h))
		}
	}
	if len(body) == 0 {
		return b.String()
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(hdr)), isContentType) {
		b.WriteString(" \\\n  -H 'Content-Type:'") // or curl adds a form type
	}
	if inline {
		b.WriteString(" \\\n  --data-binary " + quote(string(body)))
	} else {
		b.WriteString(" \\\n  --data-binary @-")
	}
	return b.String()
}

// exampleBody is the webhook the UIs suggest sending to try a channel:
// short enough that its curl line fits 80 columns, and a real event name,
// so that the list shows its action.
const exampleBody = `{"action":"payable.created","object":{"id":"pay_1"}}`

// ExampleCurl is a POSIX sh command, to copy and paste, that POSTs an
// example webhook to webhookURL: shown while no delivery has arrived yet.
func ExampleCurl(webhookURL string) string {
	return ExampleCurlBody(webhookURL, []byte(exampleBody))
}

// ExampleCurlBody is ExampleCurl with another JSON body (one a filter
// takes).
func ExampleCurlBody(webhookURL string, body []byte) string {
	d := &Delivery{
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   body,
	}
	return CurlCommand(d, webhookURL)
}

// ExampleTrigger is the hooktap command that sends a realistic, signed
// example event to webhookURL; self is how this hooktap is run in a shell
// ("" for hooktap).
func ExampleTrigger(self, webhookURL string) string {
	if self == "" {
		self = "hooktap"
	}
	return self + " trigger payable.created --to " + shellWord(webhookURL)
}

// ShellWord quotes s as one word of a POSIX shell command.
func ShellWord(s string) string { return shellWord(s) }

// curlMethod is the options that make curl send method.
func curlMethod(method string, body bool) string {
	switch {
	case method == http.MethodGet && !body:
		return ""
	case method == http.MethodHead && !body:
		return " -I"
	case method == http.MethodHead:
		// -I cannot carry a body, and with -X HEAD curl waits for the body
		// the answer's Content-Length announces.
		return " -X 'HEAD' --ignore-content-length -H 'Connection: close'"
	}
	return " -X " + shellWord(method)
}

// curlSkips says which stored headers a copied command leaves out: those
// for one hop (the standard ones and those Connection names), those curl
// writes itself, Accept-Encoding (curl would print a compressed answer),
// X-Forwarded-* (they describe the way to the relay), and names that are
// not HTTP tokens (curl cannot send them).
func curlSkips(name string, h http.Header) bool {
	c := http.CanonicalHeaderKey(name)
	switch c {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Host", "Content-Length", "Expect", "Accept-Encoding":
		return true
	}
	if strings.HasPrefix(c, "X-Forwarded-") || !wire.ValidHeaderName(name) {
		return true
	}
	for _, v := range h.Values("Connection") {
		for _, n := range strings.Split(v, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(n)) == c {
				return true
			}
		}
	}
	return false
}

func isContentType(name string) bool { return http.CanonicalHeaderKey(name) == "Content-Type" }

// plainText reports whether s can be pasted into a terminal inside single
// quotes and arrive unchanged: UTF-8 without control characters (bodies
// may have tabs and newlines).
func plainText(s string, body bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r == '\t' || r == '\n') && body {
			continue
		}
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return false
		}
	}
	return true
}

// shellWord is s as one sh word: single-quoted when it is plain text, else
// printed by printf from octal escapes, which keeps every byte (but NUL
// and trailing newlines, which no argument can hold) and makes the command
// ASCII.
func shellWord(s string) string {
	if plainText(s, false) {
		return quote(s)
	}
	var b strings.Builder
	b.WriteString(`"$(printf '`)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			b.WriteString(`'\''`)
		case c == '%':
			b.WriteString("%%")
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c >= 0x7f || c == '-' && i == 0: // a leading '-' is no option
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`')"`)
	return b.String()
}

// quote single-quotes s for sh.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hasDotSegment reports whether the path of URL u has "." or ".."
// segments, which curl would resolve unless told not to.
func hasDotSegment(u string) bool {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	u, _, _ = strings.Cut(u, "?")
	u, _, _ = strings.Cut(u, "#")
	return slices.ContainsFunc(strings.Split(u, "/")[1:], func(seg string) bool { return seg == "." || seg == ".." })
}
