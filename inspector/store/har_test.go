package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// harRequired lists, per HAR 1.2 object, the fields the spec requires and
// the JSON type each must have.
var harRequired = map[string]map[string]string{
	"log":      {"version": "string", "creator": "object", "entries": "array"},
	"creator":  {"name": "string", "version": "string"},
	"entry":    {"startedDateTime": "string", "time": "number", "request": "object", "response": "object", "cache": "object", "timings": "object"},
	"request":  {"method": "string", "url": "string", "httpVersion": "string", "cookies": "array", "headers": "array", "queryString": "array", "headersSize": "number", "bodySize": "number"},
	"response": {"status": "number", "statusText": "string", "httpVersion": "string", "cookies": "array", "headers": "array", "content": "object", "redirectURL": "string", "headersSize": "number", "bodySize": "number"},
	"content":  {"size": "number", "mimeType": "string"},
	"timings":  {"send": "number", "wait": "number", "receive": "number"},
	"postData": {"mimeType": "string", "params": "array", "text": "string"},
	"nv":       {"name": "string", "value": "string"},
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case bool:
		return "bool"
	}
	return "null"
}

func checkHAR(t *testing.T, kind string, v any) map[string]any {
	t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %s, want object", kind, jsonType(v))
	}
	for field, typ := range harRequired[kind] {
		if got := jsonType(obj[field]); got != typ {
			t.Errorf("%s.%s is %s, want %s", kind, field, got, typ)
		}
	}
	return obj
}

func TestExportHAR(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	fillStore(t, s, storeFixtures)
	bin := &Delivery{ID: "dlv_zbin", Channel: "dev", ReceivedAt: storeBase, Method: "POST", Path: "/x", Query: "a=1&b=two%20words",
		Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: []byte{0xff, 0x00, 0x01}}
	if err := Wait(ctx, s.Insert(bin)); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, s.AddAttempt(&Attempt{DeliveryID: "dlv_zbin", Kind: KindForward, Target: "http://127.0.0.1:3000/webhooks/x?a=1&b=two%20words",
		StartedAt: storeBase, Duration: 3 * time.Millisecond, Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"ok":true}`)})); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	n, err := s.ExportHAR(ctx, &buf, Query{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// One entry per attempt, and one for the delivery never forwarded.
	if want := 6 + 1 + 1; n != want {
		t.Fatalf("%d entries, want %d", n, want)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	log := checkHAR(t, "log", doc["log"])
	if log["version"] != "1.2" {
		t.Errorf("version %v", log["version"])
	}
	checkHAR(t, "creator", log["creator"])
	entries := log["entries"].([]any)
	if len(entries) != n {
		t.Fatalf("%d entries in the log, %d reported", len(entries), n)
	}
	for _, e := range entries {
		entry := checkHAR(t, "entry", e)
		if _, err := time.Parse(time.RFC3339Nano, entry["startedDateTime"].(string)); err != nil {
			t.Errorf("startedDateTime: %v", err)
		}
		req := checkHAR(t, "request", entry["request"])
		resp := checkHAR(t, "response", entry["response"])
		checkHAR(t, "content", resp["content"])
		checkHAR(t, "timings", entry["timings"])
		for _, list := range []any{req["headers"], req["queryString"], req["cookies"], resp["headers"]} {
			for _, nv := range list.([]any) {
				checkHAR(t, "nv", nv)
			}
		}
		if pd, ok := req["postData"]; ok {
			checkHAR(t, "postData", pd)
		}
	}

	last := entries[len(entries)-1].(map[string]any)
	req := last["request"].(map[string]any)
	if req["url"] != "http://127.0.0.1:3000/webhooks/x?a=1&b=two%20words" || req["method"] != "POST" {
		t.Errorf("request %v %v", req["method"], req["url"])
	}
	qs := req["queryString"].([]any)
	if len(qs) != 2 || qs[1].(map[string]any)["value"] != "two words" {
		t.Errorf("queryString %v", qs)
	}
	pd := req["postData"].(map[string]any)
	raw, err := base64.StdEncoding.DecodeString(pd["text"].(string))
	if pd["_encoding"] != "base64" || err != nil || !bytes.Equal(raw, bin.Body) {
		t.Errorf("binary postData %v", pd)
	}
	resp := last["response"].(map[string]any)
	content := resp["content"].(map[string]any)
	if resp["status"] != 200.0 || resp["statusText"] != "OK" || content["text"] != `{"ok":true}` || content["mimeType"] != "application/json" {
		t.Errorf("response %v", resp)
	}
	if last["time"] != 3.0 {
		t.Errorf("time %v", last["time"])
	}

	// The connection-refused attempt has status 0 and says why.
	var failed map[string]any
	for _, e := range entries {
		if e.(map[string]any)["_deliveryId"] == "dlv_b2" {
			failed = e.(map[string]any)
		}
	}
	if failed == nil || failed["response"].(map[string]any)["status"] != 0.0 || failed["_error"] != "connection refused" {
		t.Errorf("failed attempt entry %v", failed)
	}
}

func TestExportHAREmpty(t *testing.T) {
	s := openTestStore(t)
	var buf bytes.Buffer
	if _, err := s.ExportHAR(t.Context(), &buf, Query{}, "test"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	log := checkHAR(t, "log", doc["log"])
	if len(log["entries"].([]any)) != 0 {
		t.Errorf("entries %v", log["entries"])
	}
}
