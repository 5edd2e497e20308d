package provider

import (
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
)

// shapeFor returns the payload shape (a catalog API version) for an
// x-monite-version value: the newest shape the catalog knows that is not
// newer than the date, so that a client on a newer version than the
// catalog gets the newest shape. "" means the value is not a date.
func shapeFor(version string) string {
	d, err := time.Parse(time.DateOnly, version)
	if err != nil {
		return ""
	}
	oldest := ""
	for _, v := range catalog.APIVersions() { // newest first
		vd, err := time.Parse(time.DateOnly, v)
		if err != nil {
			continue // legacy
		}
		if !vd.After(d) {
			return v
		}
		oldest = v
	}
	return oldest // older than every documented version
}
