package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// promSample is one sample of a /metrics page; a histogram gives its
// _bucket, _sum and _count samples.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseProm parses a page in the Prometheus text format with the
// Prometheus parser, checks that every family has a help text, and returns
// each family's type and every sample.
func parseProm(t *testing.T, text string) (map[string]string, []promSample) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	types := map[string]string{}
	var samples []promSample
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
		types[name] = strings.ToLower(f.GetType().String())
		for _, m := range f.GetMetric() {
			samples = append(samples, flatten(name, m)...)
		}
	}
	return types, samples
}

// flatten gives m's samples as the text format writes them.
func flatten(name string, m *dto.Metric) []promSample {
	labels := func(extra ...string) map[string]string {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	switch {
	case m.Counter != nil:
		return []promSample{{name, labels(), m.GetCounter().GetValue()}}
	case m.Gauge != nil:
		return []promSample{{name, labels(), m.GetGauge().GetValue()}}
	case m.Untyped != nil:
		return []promSample{{name, labels(), m.GetUntyped().GetValue()}}
	case m.Histogram != nil:
		h := m.GetHistogram()
		var out []promSample
		for _, b := range h.GetBucket() {
			le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
			if math.IsInf(b.GetUpperBound(), 1) {
				le = "+Inf"
			}
			out = append(out, promSample{name + "_bucket", labels("le", le), float64(b.GetCumulativeCount())})
		}
		return append(out,
			promSample{name + "_sum", labels(), h.GetSampleSum()},
			promSample{name + "_count", labels(), float64(h.GetSampleCount())})
	}
	panic(fmt.Sprintf("%s: a metric of a type the relay does not use", name))
}

// metric returns the value of the sample with name and exactly labels.
func metric(samples []promSample, name string, labels map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.name == name && fmt.Sprint(s.labels) == fmt.Sprint(labels) {
			return s.value, true
		}
	}
	return 0, false
}
