package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks 1.0 headers.
const (
	headerID        = "webhook-id"
	headerTimestamp = "webhook-timestamp"
	headerSignature = "webhook-signature"
)

// standard is Standard Webhooks 1.0: HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{raw body}", keyed with the base64
// decoding of the secret after its "whsec_" prefix, sent as
// "webhook-signature: v1,<base64>" (several space-separated signatures may
// appear; versions other than v1 are skipped). The timestamp must be within
// Tolerance both ways.
var standard standardScheme

type standardScheme struct{}

var _ Scheme = standardScheme{}

func (standardScheme) Name() string { return "standard" }

func (standardScheme) headers() []string {
	return []string{headerID, headerTimestamp, headerSignature}
}

func (standardScheme) Detect(h http.Header) bool { return has(h, headerSignature) }

func (standardScheme) Sign(h http.Header, m Message, secret string) error {
	key, err := standardKey(secret)
	if err != nil {
		return fmt.Errorf("sign standard: %w", err)
	}
	if m.ID == "" {
		return errors.New("sign standard: message has no id")
	}
	if m.Timestamp.IsZero() {
		return errors.New("sign standard: message has no timestamp")
	}
	t := m.Timestamp.Unix()
	sig := base64.StdEncoding.EncodeToString(standardMAC(key, m.ID, t, m.Body))
	for _, name := range []string{headerID, headerTimestamp, headerSignature} {
		del(h, name)
	}
	h.Set(headerID, m.ID)
	h.Set(headerTimestamp, strconv.FormatInt(t, 10))
	h.Set(headerSignature, "v1,"+sig)
	return nil
}

func (standardScheme) Verify(h http.Header, body []byte, secret string, now time.Time) Result {
	r := Result{Scheme: "standard"}
	sigHeader := values(h, headerSignature)
	switch {
	case len(sigHeader) == 0:
		r.State, r.Reason = Unsigned, "no webhook-signature header"
		return r
	case secret == "":
		r.State, r.Reason = NoSecret, "signed with standard, but no secret is configured"
		return r
	}
	id := values(h, headerID)
	if len(id) == 0 {
		r.State, r.Reason = Invalid, "missing webhook-id header"
		return r
	}
	ts := values(h, headerTimestamp)
	if len(ts) == 0 {
		r.State, r.Reason = Invalid, "missing webhook-timestamp header"
		return r
	}
	t, err := strconv.ParseInt(strings.TrimSpace(ts[0]), 10, 64)
	if err != nil {
		r.State, r.Reason = Invalid, "malformed webhook-timestamp header: not a number"
		return r
	}
	r.Timestamp = time.Unix(t, 0)
	sigs, err := parseStandardSignatures(strings.Join(sigHeader, " "))
	if err != nil {
		r.State, r.Reason = Invalid, "malformed webhook-signature header: "+err.Error()
		return r
	}
	key, err := standardKey(secret)
	if err != nil {
		r.State, r.Reason = Invalid, err.Error()
		return r
	}
	match := func(b []byte) bool {
		want := standardMAC(key, id[0], t, b)
		for _, got := range sigs {
			if hmac.Equal(got, want) {
				return true
			}
		}
		return false
	}
	return judge(r, match, body, t, now, true)
}

// standardMAC is HMAC-SHA256(key, "{id}.{t}.{body}").
func standardMAC(key []byte, id string, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, t, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// standardKey decodes a "whsec_<base64>" secret; the prefix and the padding
// are optional. Errors never quote the secret.
func standardKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("empty secret")
	}
	s := strings.TrimPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("secret is not valid base64 (standard webhooks secrets are whsec_ and base64): %w", err)
	}
	if len(key) == 0 {
		return nil, errors.New("secret decodes to an empty key")
	}
	return key, nil
}

// parseStandardSignatures returns the decoded v1 signatures of a
// space-separated "v1,<base64> v1a,<...> ..." list, skipping other versions.
func parseStandardSignatures(s string) ([][]byte, error) {
	var (
		sigs  [][]byte
		badV1 bool
	)
	for _, f := range strings.Fields(s) {
		version, sig, ok := strings.Cut(f, ",")
		if !ok || version != "v1" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			badV1 = true
			continue
		}
		sigs = append(sigs, b)
	}
	switch {
	case len(sigs) == 0 && badV1:
		return nil, errors.New("v1 is not a base64 HMAC-SHA256")
	case len(sigs) == 0:
		return nil, errors.New("no v1 signature")
	}
	return sigs, nil
}
