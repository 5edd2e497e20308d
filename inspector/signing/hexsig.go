package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// hexScheme is the Stripe construction shared by monite, stripe and monk: a
// header "t=<unix>,v1=<hex>[,v1=<hex>...]" carrying HMAC-SHA256, keyed with
// the secret string's bytes, over "{t}.{raw body}". The timestamp is checked
// for age only, as Stripe's libraries do.
type hexScheme struct {
	name   string
	header string
	// extra sets scheme-specific descriptive headers when signing.
	extra func(h http.Header, m Message)
}

var _ Scheme = hexScheme{}

func (s hexScheme) Name() string { return s.name }

func (s hexScheme) headers() []string { return []string{s.header} }

func (s hexScheme) Detect(h http.Header) bool { return has(h, s.header) }

func (s hexScheme) Sign(h http.Header, m Message, secret string) error {
	if secret == "" {
		return fmt.Errorf("sign %s: empty secret", s.name)
	}
	if m.Timestamp.IsZero() {
		return fmt.Errorf("sign %s: message has no timestamp", s.name)
	}
	t := m.Timestamp.Unix()
	sig := hex.EncodeToString(hexMAC([]byte(secret), t, m.Body))
	del(h, s.header)
	h.Set(s.header, "t="+strconv.FormatInt(t, 10)+",v1="+sig)
	if s.extra != nil {
		s.extra(h, m)
	}
	return nil
}

func (s hexScheme) Verify(h http.Header, body []byte, secret string, now time.Time) Result {
	r := Result{Scheme: s.name}
	v := values(h, s.header)
	switch {
	case len(v) == 0:
		r.State, r.Reason = Unsigned, "no "+s.header+" header"
		return r
	case secret == "":
		r.State, r.Reason = NoSecret, "signed with "+s.name+", but no secret is configured"
		return r
	}
	sig, err := parseHexHeader(strings.Join(v, ","))
	if err != nil {
		r.State, r.Reason = Invalid, "malformed "+s.header+" header: "+err.Error()
		return r
	}
	r.Timestamp = time.Unix(sig.t, 0)
	key := []byte(secret)
	match := func(b []byte) bool {
		want := hexMAC(key, sig.t, b)
		for _, got := range sig.v1 {
			if hmac.Equal(got, want) {
				return true
			}
		}
		return false
	}
	return judge(r, match, body, sig.t, now, false)
}

// hexMAC is HMAC-SHA256(key, "{t}.{body}").
func hexMAC(key []byte, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(strconv.AppendInt(nil, t, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// hexHeader is a parsed "t=...,v1=..." header.
type hexHeader struct {
	t  int64
	v1 [][]byte // decoded signatures; never empty after a successful parse
}

// parseHexHeader parses "t=<unix>,v1=<hex>[,...]". Unknown keys (Stripe's
// v0, for one) are skipped; the first t wins.
func parseHexHeader(s string) (hexHeader, error) {
	var (
		out          hexHeader
		haveT, badV1 bool
	)
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "t":
			if haveT {
				continue
			}
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return hexHeader{}, errors.New("t is not a number")
			}
			out.t, haveT = t, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				badV1 = true
				continue
			}
			out.v1 = append(out.v1, b)
		}
	}
	switch {
	case !haveT:
		return hexHeader{}, errors.New("missing t")
	case len(out.v1) == 0 && badV1:
		return hexHeader{}, errors.New("v1 is not 64 hex characters")
	case len(out.v1) == 0:
		return hexHeader{}, errors.New("no v1 signature")
	}
	return out, nil
}
