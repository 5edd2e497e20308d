package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Where deliveries go: a forward target is an absolute http(s) URL; a
// delivery goes to it with its path suffix (after /h/{channel}) and query
// appended.

// ParseTarget checks that target is an absolute http or https URL.
func ParseTarget(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forward target %q must be an http:// or https:// URL", target)
	}
	return u, nil
}

// TargetURL is base with a delivery's path suffix (escaped, "" or starting
// with "/") and query appended. A suffix that would leave base's path (dot
// segments) or carries control characters is refused.
func TargetURL(base *url.URL, suffix, query string) (*url.URL, error) {
	u := *base
	if suffix != "" {
		if !strings.HasPrefix(suffix, "/") {
			return nil, fmt.Errorf("path suffix %q must start with /", suffix)
		}
		dec, err := url.PathUnescape(suffix)
		if err != nil {
			return nil, fmt.Errorf("path suffix %q: %w", suffix, err)
		}
		if strings.ContainsFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("path suffix %q has control characters", suffix)
		}
		for _, seg := range strings.Split(dec, "/") {
			if seg == ".." || seg == "." {
				return nil, fmt.Errorf("path suffix %q has dot segments", suffix)
			}
		}
		base := strings.TrimSuffix(u.EscapedPath(), "/")
		u.Path = strings.TrimSuffix(u.Path, "/") + dec
		u.RawPath = base + suffix
		if u.EscapedPath() != u.RawPath {
			u.RawPath = "" // let url re-escape consistently
		}
	}
	switch {
	case query == "":
	case u.RawQuery == "":
		u.RawQuery = query
	default:
		u.RawQuery += "&" + query
	}
	if strings.ContainsAny(u.RawQuery, "\r\n") {
		return nil, errors.New("query has line breaks")
	}
	return &u, nil
}

// ForwardedTo is the URL d was first forwarded to, else the target of its
// latest attempt; "" when it was never sent anywhere.
func (d *Delivery) ForwardedTo() string {
	for _, a := range d.History {
		if a.Kind == KindForward && a.Target != "" {
			return a.Target
		}
	}
	return d.Target
}
