package signing

import (
	"net/http"
	"testing"
	"time"
)

// FuzzParseHexHeader checks that the "t=...,v1=..." parser shared by monite,
// stripe and monk never panics and that a successful parse is usable.
func FuzzParseHexHeader(f *testing.F) {
	for _, tt := range hexHeaderCases {
		f.Add(tt.header)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHexHeader(s)
		if err == nil && len(h.v1) == 0 {
			t.Fatalf("parse %q: no error and no signature", s)
		}
	})
}

// FuzzParseStandard checks the Standard Webhooks signature list parser and
// the secret decoder never panic.
func FuzzParseStandard(f *testing.F) {
	for _, v := range standardVectors {
		f.Add(v.sig, v.secret)
	}
	f.Add("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "whsec_")
	f.Add("v1, v1a,x ,,, v1", "whsec_test_secret")
	f.Fuzz(func(t *testing.T, sig, secret string) {
		sigs, err := parseStandardSignatures(sig)
		if err == nil && len(sigs) == 0 {
			t.Fatalf("parse %q: no error and no signature", sig)
		}
		key, err := standardKey(secret)
		if err == nil && len(key) == 0 {
			t.Fatalf("standardKey: no error and an empty key")
		}
	})
}

// FuzzVerify feeds arbitrary header values and bodies to every scheme's
// Verify: it must never panic, and it must accept what Sign produced.
func FuzzVerify(f *testing.F) {
	for _, tt := range hexHeaderCases {
		f.Add(tt.header, "1700000000", []byte("{}"), int64(1700000000))
	}
	for _, v := range standardVectors {
		f.Add(v.sig, "1614265330", []byte(v.body), v.ts)
	}
	f.Add("t=-9223372036854775808,v1=00", "-9223372036854775808", []byte(" \n"), int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, value, ts string, body []byte, now int64) {
		for _, s := range schemes {
			h := http.Header{}
			h.Set("webhook-id", "msg_1")
			h.Set("webhook-timestamp", ts)
			for _, name := range []string{"Monite-Signature", "Stripe-Signature", "X-Monk-Signature", "webhook-signature"} {
				h.Set(name, value)
			}
			_ = s.Verify(h, body, testSecret, time.Unix(now, 0))
			_ = Verify(h, body, testSecret, time.Unix(now, 0))

			if now < -1<<40 || now > 1<<40 {
				continue // time.Unix is only meaningful in a sane range
			}
			signed := http.Header{}
			m := Message{ID: "msg_1", Timestamp: time.Unix(now, 0), Body: body}
			if err := s.Sign(signed, m, testSecret); err != nil {
				continue // a zero time
			}
			if r := s.Verify(signed, body, testSecret, m.Timestamp); r.State != Valid {
				t.Fatalf("%s: round trip: %+v", s.Name(), r)
			}
		}
	})
}
