package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Result is one row of the table and one object of results.json.
type Result struct {
	// Group is the metric group (-only) that measured the row: a run of some groups replaces
	// those groups' rows in results.json and keeps the others (mergeResults).
	Group          string    `json:"group"`
	Name           string    `json:"name"`
	Unit           string    `json:"unit"`
	Median         float64   `json:"median"`
	Min            float64   `json:"min"`
	Max            float64   `json:"max"`
	Runs           []float64 `json:"runs"`
	Baseline       string    `json:"baseline,omitempty"`
	BaselineMedian float64   `json:"baseline_median,omitempty"`
	BaselineRuns   []float64 `json:"baseline_runs,omitempty"`
	// Ratio is median / baseline_median; read it with the unit: above 1 is better for
	// throughput and worse for times and sizes.
	Ratio  float64 `json:"ratio,omitempty"`
	Target string  `json:"target,omitempty"`
	// Notes says under which conditions the row was measured (the wan group: the path, and
	// whether the emulator kept up).
	Notes string `json:"notes,omitempty"`
}

// newResult summarises runs, and baseline runs if any.
func newResult(name, unit string, runs []float64, baseline string, base []float64, target string) Result {
	r := Result{Name: name, Unit: unit, Runs: runs, Target: target}
	r.Median, r.Min, r.Max = summary(runs)
	if baseline != "" && len(base) > 0 {
		r.Baseline, r.BaselineRuns = baseline, base
		r.BaselineMedian, _, _ = summary(base)
		if r.BaselineMedian != 0 {
			r.Ratio = r.Median / r.BaselineMedian
		}
	}
	return r
}

func summary(v []float64) (median, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[0], s[n-1]
}

// percentile returns the p-th percentile (0..100) of v, nearest rank.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// linkSessionsBaseline makes the single-session native throughput the baseline of the
// 100-session aggregate, as the target is stated against it.
func linkSessionsBaseline(rs []Result) {
	var single *Result
	for i := range rs {
		if rs[i].Name == metricNativeThroughput {
			single = &rs[i]
		}
	}
	if single == nil {
		return
	}
	for i := range rs {
		if rs[i].Name == metricSessionsThroughput {
			rs[i].Baseline = "1 session (" + metricNativeThroughput + ")"
			rs[i].BaselineMedian = single.Median
			rs[i].BaselineRuns = single.Runs
			if single.Median != 0 {
				rs[i].Ratio = rs[i].Median / single.Median
			}
		}
	}
}

func printTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tunit\tmedian\tmin\tmax\tbaseline\tbaseline median\tratio\ttarget\t")
	fmt.Fprintln(tw, strings.Repeat("-", 6)+"\t\t\t\t\t\t\t\t\t")
	for _, r := range rs {
		base, bm, ratio := "-", "-", "-"
		if r.Baseline != "" {
			base, bm, ratio = r.Baseline, num(r.BaselineMedian), fmt.Sprintf("%.2f×", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, r.Unit, num(r.Median), num(r.Min), num(r.Max), base, bm, ratio, r.Target)
	}
	tw.Flush()
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// mergeResults returns the rows of a run of the groups ran, in front of the rows of old, the
// results.json written before, that belong to another group: a partial run refreshes its own
// rows only. Rows without a group come from before groups were recorded, and are dropped.
func mergeResults(old, fresh []Result, ran []string) []Result {
	out := slices.Clone(fresh)
	for _, r := range old {
		if r.Group != "" && !slices.Contains(ran, r.Group) {
			out = append(out, r)
		}
	}
	return out
}
