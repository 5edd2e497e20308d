package signing

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// standardVectors are the Standard Webhooks test vectors from WEBHOOKS.md.
var standardVectors = []struct {
	secret, id string
	ts         int64
	body, sig  string
}{
	{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
	{"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553,
		`{"email":"test@example.com","username":"test_user"}`, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="},
}

func standardHeader(id string, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	if ts != "" {
		h.Set("webhook-timestamp", ts)
	}
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

func TestStandardVectors(t *testing.T) {
	for _, v := range standardVectors {
		t.Run(v.id, func(t *testing.T) {
			h := standardHeader(v.id, itoa(v.ts), v.sig)
			r := Verify(h, []byte(v.body), v.secret, time.Unix(v.ts, 0))
			if r.State != Valid || r.Scheme != "standard" {
				t.Fatalf("Verify = %+v, want valid standard", r)
			}
			if !r.Timestamp.Equal(time.Unix(v.ts, 0)) {
				t.Errorf("Timestamp = %v, want %v", r.Timestamp, time.Unix(v.ts, 0))
			}
			// Signing the same message must reproduce the vector.
			got := http.Header{}
			m := Message{ID: v.id, Timestamp: time.Unix(v.ts, 0), Body: []byte(v.body)}
			if err := standard.Sign(got, m, v.secret); err != nil {
				t.Fatal(err)
			}
			if got.Get("webhook-signature") != v.sig {
				t.Errorf("Sign = %q, want %q", got.Get("webhook-signature"), v.sig)
			}
		})
	}
}

func TestStandardMustFail(t *testing.T) {
	v := standardVectors[0]
	now := time.Unix(v.ts, 0)
	tests := []struct {
		name       string
		h          http.Header
		now        time.Time
		want       State
		wantReason string
	}{
		{"last char changed", standardHeader(v.id, itoa(v.ts), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="),
			now, Invalid, "signature does not match"},
		{"decoys only", standardHeader(v.id, itoa(v.ts), "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
			now, Invalid, "signature does not match"},
		{"other versions only", standardHeader(v.id, itoa(v.ts), "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,x"),
			now, Invalid, "no v1 signature"},
		{"missing header", standardHeader(v.id, itoa(v.ts), ""), now, Unsigned, "no webhook-signature"},
		{"missing id", standardHeader("", itoa(v.ts), v.sig), now, Invalid, "missing webhook-id"},
		{"missing timestamp", standardHeader(v.id, "", v.sig), now, Invalid, "missing webhook-timestamp"},
		{"non-numeric timestamp", standardHeader(v.id, "1614265330a", v.sig), now, Invalid, "webhook-timestamp header: not a number"},
		{"too old", standardHeader(v.id, itoa(v.ts), v.sig), now.Add(301 * time.Second), Expired, "301s old (tolerance 300s)"},
		{"too far in the future", standardHeader(v.id, itoa(v.ts), v.sig), now.Add(-301 * time.Second), Expired, "301s in the future"},
		{"timestamp changed", standardHeader(v.id, itoa(v.ts+1), v.sig), now, Invalid, "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := standard.Verify(tt.h, []byte(v.body), v.secret, tt.now)
			if r.State != tt.want || !strings.Contains(r.Reason, tt.wantReason) {
				t.Fatalf("Verify = %+v, want %s with reason containing %q", r, tt.want, tt.wantReason)
			}
		})
	}
}

func TestStripeVector(t *testing.T) {
	const want = "13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e"
	body := []byte(`{"id":"evt_test"}`)
	h := http.Header{}
	m := Message{Timestamp: time.Unix(1700000000, 0), Body: body}
	if err := stripe.Sign(h, m, "whsec_test_secret"); err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Stripe-Signature"); got != "t=1700000000,v1="+want {
		t.Fatalf("Stripe-Signature = %q, want v1=%s", got, want)
	}
	// A v0 and a decoy v1 next to the right one still pass.
	h.Set("Stripe-Signature", "t=1700000000,v0=abc,v1="+strings.Repeat("0", 64)+",v1="+want)
	if r := Verify(h, body, "whsec_test_secret", time.Unix(1700000000, 0)); r.State != Valid || r.Scheme != "stripe" {
		t.Fatalf("Verify = %+v, want valid stripe", r)
	}
}

// testSecret is a secret every scheme accepts.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func signed(t *testing.T, s Scheme, body string, ts time.Time) http.Header {
	t.Helper()
	h := http.Header{}
	m := Message{ID: "msg_1", Event: "payable.created", Timestamp: ts, Body: []byte(body)}
	if err := s.Sign(h, m, testSecret); err != nil {
		t.Fatalf("%s: Sign: %v", s.Name(), err)
	}
	return h
}

func TestRoundTrip(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	body := `{"id":"evt_1","action":"payable.created"}`
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			h := signed(t, s, body, ts)
			if d := Detect(h); d == nil || d.Name() != name {
				t.Fatalf("Detect = %v, want %s", d, name)
			}
			r := Verify(h, []byte(body), testSecret, ts.Add(time.Second))
			if r.State != Valid || r.Scheme != name || !r.Timestamp.Equal(ts) {
				t.Fatalf("Verify = %+v, want valid %s at %v", r, name, ts)
			}
		})
	}
}

func TestMonkHeaders(t *testing.T) {
	h := signed(t, monk, "{}", time.Unix(1700000000, 0))
	want := map[string]string{
		"X-Monk-Event":       "payable.created",
		"X-Monk-Delivery-Id": "msg_1",
		"User-Agent":         "Monk-Webhook/1.0",
		"Content-Type":       "application/json",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(h.Get("X-Monk-Signature"), "t=1700000000,v1=") {
		t.Errorf("X-Monk-Signature = %q", h.Get("X-Monk-Signature"))
	}
}

func TestSignOverwrites(t *testing.T) {
	for _, s := range schemes {
		t.Run(s.Name(), func(t *testing.T) {
			h := signed(t, s, "old", time.Unix(1700000000, 0))
			m := Message{ID: "msg_2", Timestamp: time.Unix(1700000100, 0), Body: []byte("new")}
			if err := s.Sign(h, m, testSecret); err != nil {
				t.Fatal(err)
			}
			if r := s.Verify(h, []byte("new"), testSecret, m.Timestamp); r.State != Valid {
				t.Fatalf("Verify after re-sign = %+v", r)
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		name   string
		s      Scheme
		m      Message
		secret string
	}{
		{"monite empty secret", monite, Message{Timestamp: ts}, ""},
		{"stripe no timestamp", stripe, Message{}, "x"},
		{"standard no id", standard, Message{Timestamp: ts}, testSecret},
		{"standard not base64", standard, Message{ID: "m", Timestamp: ts}, "whsec_test_secret"},
		{"standard no prefix, not base64", standard, Message{ID: "m", Timestamp: ts}, "not base64!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Sign(http.Header{}, tt.m, tt.secret)
			if err == nil {
				t.Fatal("Sign succeeded, want an error")
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}

func TestStandardSecretForms(t *testing.T) {
	// With and without the prefix, with and without padding: the same key.
	v := standardVectors[1] // its secret has padding-free length 32
	h := standardHeader(v.id, itoa(v.ts), v.sig)
	for _, secret := range []string{v.secret, strings.TrimPrefix(v.secret, "whsec_")} {
		if r := standard.Verify(h, []byte(v.body), secret, time.Unix(v.ts, 0)); r.State != Valid {
			t.Errorf("secret form %d chars: %+v", len(secret), r)
		}
	}
	h2 := signed(t, standard, "x", time.Unix(1, 0))
	for _, secret := range []string{"whsec_YWJj", "whsec_YWI=", "whsec_YWI"} {
		if err := standard.Sign(h2, Message{ID: "m", Timestamp: time.Unix(1, 0)}, secret); err != nil {
			t.Errorf("Sign with %q: %v", secret, err)
		}
	}
}

func TestTolerance(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	tests := []struct {
		offset time.Duration
		want   State // for every scheme; future offsets are special-cased below
	}{
		{0, Valid},
		{300 * time.Second, Valid},
		{300*time.Second + 999*time.Millisecond, Valid},
		{301 * time.Second, Expired},
		{3600 * time.Second, Expired},
		{-300 * time.Second, Valid},
	}
	for _, s := range schemes {
		for _, tt := range tests {
			h := signed(t, s, "{}", ts)
			r := s.Verify(h, []byte("{}"), testSecret, ts.Add(tt.offset))
			if r.State != tt.want {
				t.Errorf("%s at %v: %+v, want %s", s.Name(), tt.offset, r, tt.want)
			}
		}
		// 301 s in the future: Standard Webhooks checks both ways, the
		// Stripe construction checks age only.
		h := signed(t, s, "{}", ts)
		r := s.Verify(h, []byte("{}"), testSecret, ts.Add(-301*time.Second))
		want := Valid
		if s.Name() == "standard" {
			want = Expired
		}
		if r.State != want {
			t.Errorf("%s 301s in the future: %+v, want %s", s.Name(), r, want)
		}
		// Valid, but the reason says that a clock is off.
		if want == Valid && !strings.Contains(r.Reason, "301s in the future") {
			t.Errorf("%s 301s in the future: reason %q does not say so", s.Name(), r.Reason)
		}
	}
	h := signed(t, monite, "{}", ts)
	r := monite.Verify(h, []byte("{}"), testSecret, ts.Add(time.Hour))
	if want := "timestamp is 3600s old (tolerance 300s); the signature itself matches"; r.Reason != want {
		t.Errorf("Reason = %q, want %q", r.Reason, want)
	}
}

func TestMismatch(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	compact := `{"a":1,"b":[true,null]}`
	indented := "{\n  \"a\": 1,\n  \"b\": [\n    true,\n    null\n  ]\n}"
	python := `{"a": 1, "b": [true, null]}`
	tests := []struct {
		name             string
		signedBody, body string
		secret           string
		want             string
	}{
		{"wrong secret", compact, compact, "whsec_b3RoZXI=", "signature does not match: wrong secret, or the body was changed"},
		{"body changed", compact, `{"a":2,"b":[true,null]}`, testSecret, "signature does not match: wrong secret, or the body was changed"},
		{"compacted after signing", indented, compact, testSecret, "body changed after signing (whitespace/re-serialized)"},
		{"indented after signing", compact, indented, testSecret, "body changed after signing (whitespace/re-serialized)"},
		{"python style re-serialized", python, compact, testSecret, "body changed after signing (whitespace/re-serialized)"},
		{"trailing newline added", compact, compact + "\n", testSecret, "body changed after signing (whitespace/re-serialized)"},
		{"trailing newline removed", "not json\n", "not json", testSecret, "body changed after signing (whitespace/re-serialized)"},
	}
	for _, s := range schemes {
		for _, tt := range tests {
			t.Run(s.Name()+"/"+tt.name, func(t *testing.T) {
				h := signed(t, s, tt.signedBody, ts)
				r := s.Verify(h, []byte(tt.body), tt.secret, ts)
				if r.State != Invalid || r.Reason != tt.want {
					t.Fatalf("Verify = %+v, want invalid: %q", r, tt.want)
				}
			})
		}
	}
}

// hexHeaderCases seed TestMalformedHex and the fuzz target.
var hexHeaderCases = []struct {
	header, reason string // reason "" means the header parses
}{
	{"t=1700000000,v1=13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e", ""},
	{" t = 1700000000 , v1 = 13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e ", ""},
	{"v1=13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e", "missing t"},
	{"t=,v1=13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e", "t is not a number"},
	{"t=17e8,v1=13941114bb88ac44a76abcfddea5b92aa6182a4b63d8be3aae908a616083bd7e", "t is not a number"},
	{"t=1700000000", "no v1 signature"},
	{"t=1700000000,v0=abcd", "no v1 signature"},
	{"t=1700000000,v1=xyz", "v1 is not 64 hex characters"},
	{"t=1700000000,v1=abcd", "v1 is not 64 hex characters"},
	{"", "missing t"},
	{",,,=,t", "missing t"},
}

func TestMalformedHex(t *testing.T) {
	for _, tt := range hexHeaderCases {
		for _, s := range []hexScheme{monite, stripe, monk} {
			h := http.Header{}
			h.Set(s.header, tt.header)
			r := Verify(h, []byte("{}"), testSecret, time.Unix(1700000000, 0))
			if tt.reason == "" {
				if r.State == Invalid && strings.HasPrefix(r.Reason, "malformed") {
					t.Errorf("%s %q: %+v, want it to parse", s.name, tt.header, r)
				}
				continue
			}
			if r.State != Invalid || !strings.Contains(r.Reason, tt.reason) || r.Scheme != s.name {
				t.Errorf("%s %q: %+v, want invalid: %s", s.name, tt.header, r, tt.reason)
			}
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want string
	}{
		{"none", http.Header{"Content-Type": {"application/json"}}, ""},
		{"monite", http.Header{"Monite-Signature": {"t=1,v1=00"}}, "monite"},
		{"standard", standardHeader("m", "1", "v1,AA=="), "standard"},
		{"standard lowercase keys", http.Header{"webhook-signature": {"v1,AA=="}}, "standard"},
		{"standard id only", http.Header{"Webhook-Id": {"m"}}, ""},
		{"stripe", http.Header{"Stripe-Signature": {"t=1,v1=00"}}, "stripe"},
		{"monk", http.Header{"X-Monk-Signature": {"t=1,v1=00"}, "X-Monk-Event": {"invoice.created"}}, "monk"},
		{"monk event only", http.Header{"X-Monk-Event": {"invoice.created"}}, ""},
		{"monite wins over stripe", http.Header{"Stripe-Signature": {"x"}, "Monite-Signature": {"x"}}, "monite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if s := Detect(tt.h); s != nil {
				got = s.Name()
			}
			if got != tt.want {
				t.Fatalf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerifyStates(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	if r := Verify(http.Header{}, []byte("{}"), testSecret, ts); r.State != Unsigned || r.Scheme != "" {
		t.Errorf("no headers: %+v, want unsigned", r)
	}
	for _, s := range schemes {
		h := signed(t, s, "{}", ts)
		if r := Verify(h, []byte("{}"), "", ts); r.State != NoSecret || r.Scheme != s.Name() {
			t.Errorf("%s without secret: %+v, want no-secret", s.Name(), r)
		}
		if r := s.Verify(h, []byte("{}"), "", ts); r.State != NoSecret {
			t.Errorf("%s.Verify without secret: %+v, want no-secret", s.Name(), r)
		}
		if r := s.Verify(http.Header{}, []byte("{}"), testSecret, ts); r.State != Unsigned {
			t.Errorf("%s.Verify without header: %+v, want unsigned", s.Name(), r)
		}
	}
}

func TestReasonsNeverQuoteSecret(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	secrets := []string{testSecret, "whsec_test_secret", "s3cr3t-value", "whsec_!!notbase64!!"}
	bodies := []string{"{}", `{"a": 1}`, "s3cr3t-value"}
	var results []Result
	for _, s := range schemes {
		for _, signWith := range secrets {
			for _, verifyWith := range secrets {
				for _, body := range bodies {
					h := http.Header{}
					_ = s.Sign(h, Message{ID: "m", Timestamp: ts, Body: []byte(body)}, signWith)
					for _, off := range []time.Duration{0, time.Hour, -time.Hour} {
						results = append(results, s.Verify(h, []byte("{}"), verifyWith, ts.Add(off)))
						results = append(results, Verify(h, []byte(body), verifyWith, ts.Add(off)))
					}
				}
			}
		}
	}
	for _, r := range results {
		for _, secret := range secrets {
			bare := strings.TrimPrefix(secret, "whsec_")
			if strings.Contains(r.Reason, secret) || strings.Contains(r.Reason, bare) {
				t.Fatalf("reason %q quotes secret %q", r.Reason, secret)
			}
		}
	}
}

func TestLookupAndNames(t *testing.T) {
	if got, want := Names(), []string{"monite", "standard", "stripe", "monk"}; !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	if Names()[0] != DefaultScheme {
		t.Errorf("default scheme is not first")
	}
	if s, err := Lookup("Stripe"); err != nil || s.Name() != "stripe" {
		t.Errorf("Lookup(Stripe) = %v, %v", s, err)
	}
	_, err := Lookup("svix")
	if err == nil || !strings.Contains(err.Error(), "monite, standard, stripe, monk") {
		t.Errorf("Lookup(svix) error = %v, want the known names", err)
	}
}

func TestStrip(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	h := http.Header{}
	for _, s := range schemes {
		if err := s.Sign(h, Message{ID: "m", Event: "invoice.created", Timestamp: ts, Body: []byte("{}")}, testSecret); err != nil {
			t.Fatal(err)
		}
	}
	h["webhook-signature"] = []string{"v1,AA=="} // a hand-built, non-canonical key
	Strip(h)
	if s := Detect(h); s != nil {
		t.Fatalf("after Strip Detect = %s", s.Name())
	}
	for _, k := range []string{"Webhook-Id", "Webhook-Timestamp"} {
		if h.Get(k) != "" {
			t.Errorf("%s survived Strip", k)
		}
	}
	if h.Get("X-Monk-Event") != "invoice.created" || h.Get("Content-Type") == "" {
		t.Errorf("Strip removed descriptive headers: %v", h)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
