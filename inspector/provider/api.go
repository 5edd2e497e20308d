package provider

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Handler serves the Monite API under /v1/ and hooktap's own extension
// under /v1/_emulator/.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, kind := range []string{kindSubscription, kindSetting} {
		base := "/v1/" + kind + "s"
		mux.HandleFunc("GET "+base, p.api(func(c *call) { p.listSubs(c, kind) }))
		mux.HandleFunc("POST "+base, p.api(func(c *call) { p.createSub(c, kind) }))
		mux.HandleFunc("GET "+base+"/{id}", p.api(func(c *call) { p.getSub(c, kind) }))
		mux.HandleFunc("PATCH "+base+"/{id}", p.api(func(c *call) { p.patchSub(c, kind) }))
		mux.HandleFunc("DELETE "+base+"/{id}", p.api(func(c *call) { p.deleteSub(c, kind) }))
	}
	sub := "/v1/" + kindSubscription + "s/{id}/"
	mux.HandleFunc("POST "+sub+"enable", p.api(func(c *call) { p.setStatus(c, statusEnabled) }))
	mux.HandleFunc("POST "+sub+"disable", p.api(func(c *call) { p.setStatus(c, statusDisabled) }))
	mux.HandleFunc("POST "+sub+"regenerate_secret", p.api(p.regenerate))
	mux.HandleFunc("GET /v1/webhook_deliveries", p.api(p.listDeliveries))
	mux.HandleFunc("GET /v1/webhooks", p.api(p.listDeliveries)) // API 2023-09-01's name
	mux.HandleFunc("GET /v1/events", p.api(p.listEvents))
	mux.HandleFunc("GET /v1/events/{id}", p.api(p.getEvent))
	mux.HandleFunc("POST /v1/_emulator/events", p.api(p.emitEvent))
	mux.HandleFunc("GET /v1/_emulator/deliveries/{id}/attempts", p.api(p.listAttempts))
	mux.HandleFunc("GET /v1/_emulator/{$}", p.page("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /v1/_emulator/page.js", p.page("page.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("/v1/", p.api(func(c *call) { c.fail(http.StatusNotFound, "no such endpoint: %s %s", c.r.Method, c.r.URL.Path) }))
	return mux
}

// call is one API request being answered.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	version string // x-monite-version as sent
}

// api wraps a handler with what every call needs: the body bound, a bearer
// token, the API version, and JSON answers.
func (p *Provider) api(h func(*call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		c := &call{w: w, r: r, version: strings.TrimSpace(r.Header.Get("X-Monite-Version"))}
		if !p.allowedHost(r.Host) {
			c.fail(http.StatusForbidden, "requests must be addressed to an IP address or localhost, not %q (hooktap provider --allow-host NAME allows a name)", r.Host)
			return
		}
		if !p.authorized(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			c.fail(http.StatusUnauthorized, "not authenticated: send Authorization: Bearer <token>")
			return
		}
		// Legacy webhook settings predate the header (seed 002); the
		// emulator's own extension does not need it either.
		legacy := strings.HasPrefix(r.URL.Path, "/v1/"+kindSetting+"s") || strings.HasPrefix(r.URL.Path, "/v1/_emulator/")
		if p.monk() {
			c.version = "" // Monk has no API versions
		} else if c.version == "" && !legacy {
			c.invalid(loc("header", "x-monite-version"), "field required: every call needs the x-monite-version header, e.g. 2024-05-25")
			return
		}
		if c.version != "" && shapeFor(c.version) == "" && !p.monk() {
			c.invalid(loc("header", "x-monite-version"), "%q is not an API version: use a date such as 2024-05-25", c.version)
			return
		}
		h(c)
	}
}

// allowedHost refuses requests addressed to a name that is not local: a web
// page whose name was rebound to 127.0.0.1 (DNS rebinding) could otherwise
// use the API, which takes any token, from the developer's browser.
func (p *Provider) allowedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	switch {
	case net.ParseIP(host) != nil, host == "localhost", strings.HasSuffix(host, ".localhost"), host == "host.docker.internal":
		return true
	}
	for _, a := range p.cfg.AllowHosts {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// authorized checks the bearer token: any non-empty one, or exactly the
// configured one (in constant time).
func (p *Provider) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	return p.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(p.cfg.Token)) == 1
}

// reply writes v as JSON with status.
func (c *call) reply(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.fail(http.StatusInternalServerError, "encode answer: %v", err)
		return
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	c.w.Write(append(b, '\n'))
}

// errorBody is Monite's error shape for everything but validation.
type errorBody struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

// fail answers {"error": {"message": ...}}.
func (c *call) fail(status int, format string, args ...any) {
	var e errorBody
	e.Error.Message = fmt.Sprintf(format, args...)
	b, _ := json.Marshal(e)
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	c.w.Write(append(b, '\n'))
}

// validationError is one item of a 422 answer, in the FastAPI shape
// Monite's OpenAPI spec gives its validation errors.
type validationError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

func loc(parts ...any) []any { return parts }

// invalid answers 422 {"detail": [{"loc", "msg", "type"}]}.
func (c *call) invalid(where []any, format string, args ...any) {
	c.reply(http.StatusUnprocessableEntity, map[string][]validationError{
		"detail": {{Loc: where, Msg: fmt.Sprintf(format, args...), Type: "value_error"}},
	})
}

// decode reads the JSON body into v: at most MaxBody bytes of UTF-8, one
// object, no fields v does not have (a typo such as "event_type" would
// otherwise subscribe to every event). It answers the error itself.
func (c *call) decode(v any) bool {
	b, err := io.ReadAll(c.r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		c.fail(http.StatusRequestEntityTooLarge, "request body over %d bytes", MaxBody)
		return false
	case err != nil:
		c.fail(http.StatusBadRequest, "read body: %v", err)
		return false
	case len(bytes.TrimSpace(b)) == 0:
		c.invalid(loc("body"), "field required: the body must be a JSON object")
		return false
	case !utf8.Valid(b):
		c.invalid(loc("body"), "the body is not valid UTF-8")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		where, msg := jsonProblem(err)
		c.invalid(where, "%s", msg)
		return false
	}
	if dec.More() {
		c.invalid(loc("body"), "extra data after the JSON object")
		return false
	}
	return true
}

// jsonProblem phrases a decoding error for people, with the field it is
// about in loc as FastAPI does (["body", "object_type"]), in JSON's words
// rather than Go's types.
func jsonProblem(err error) ([]any, string) {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		where := loc("body")
		if typ.Field != "" {
			for _, part := range strings.Split(typ.Field, ".") {
				where = append(where, part)
			}
		}
		return where, fmt.Sprintf("expected a JSON %s, got %s", jsonKind(typ.Type), typ.Value)
	case errors.As(err, &syn):
		return loc("body"), fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if u, uerr := strconv.Unquote(name); uerr == nil {
			name = u
		}
		return loc("body", name), "extra field not permitted"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return loc("body"), "invalid JSON: unexpected end"
	}
	return loc("body"), "invalid JSON: " + err.Error()
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value"
}

// idPattern is what an id in a path may look like: the emulator's ids are
// UUIDs, and anything else is simply not found.
var idPattern = regexp.MustCompile(`^[0-9a-fA-F-]{1,64}$`)

// pathID returns the {id} of the path, or "" when it cannot be one of ours.
func (c *call) pathID() string {
	id := c.r.PathValue("id")
	if !idPattern.MatchString(id) {
		return ""
	}
	return strings.ToLower(id)
}
