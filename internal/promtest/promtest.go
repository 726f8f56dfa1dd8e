// Package promtest reads samples from a Prometheus registry in tests.
// Only this module's tests import it.
package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Value returns the sample of metric family name whose labels include
// labels (name, value pairs): a counter's or gauge's value, a histogram's
// sample count; 0 when there is none.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, err := Get(g, name, labels...)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return v
}

// Get is Value without a test: the error is the registry's.
func Get(g prometheus.Gatherer, name string, labels ...string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), nil
			case m.Gauge != nil:
				return m.Gauge.GetValue(), nil
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), nil
			}
		}
	}
	return 0, nil
}
