package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Case is one measured case: a hook on a cluster size, as the first hook
// on a fresh model (everything to write) or as an unchanged second hook,
// repeated.
type Case struct {
	Size   Size
	Hook   string
	Second bool
	Runs   []*Result
}

// Run names the case's run ("first" or "second").
func (c *Case) Run() string {
	if c.Second {
		return "second"
	}
	return "first"
}

// Deterministic reports whether every repetition made the same calls.
func (c *Case) Deterministic() bool {
	for _, r := range c.Runs[1:] {
		if !maps.Equal(r.Counts, c.Runs[0].Counts) || r.DatabagBytes != c.Runs[0].DatabagBytes {
			return false
		}
	}
	return true
}

func (c *Case) med(f func(*Result) time.Duration) time.Duration {
	var ds []time.Duration
	for _, r := range c.Runs {
		ds = append(ds, f(r))
	}
	return median(ds)
}

func (c *Case) medKB(f func(*Result) int64) int64 {
	var ds []time.Duration
	for _, r := range c.Runs {
		ds = append(ds, time.Duration(f(r)))
	}
	return int64(median(ds))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

// ShortHook abbreviates the relation hook's name for tables.
func ShortHook(name string) string {
	return strings.Replace(name, "tempo-cluster-relation-changed", "cluster-rel-changed", 1)
}

// WriteTables writes the results as Markdown: the cost table, then the
// calls by tool against the minimum.
func WriteTables(w io.Writer, cases []*Case, cal Calibration) {
	fmt.Fprintln(w, "| units | apps | hook | run | calls | min | calls−min | wall ms | CPU ms (wait4) | tools CPU ms | **own CPU ms** | own CPU, wait4 − tools ms | own CPU at last call ms | own CPU excl. spawning ms | **peak RSS MB** | VmHWM at last call MB | databag bytes | state bytes |")
	fmt.Fprintln(w, "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cases {
		r := c.Runs[0]
		flag := ""
		if !c.Deterministic() {
			flag = " (varies!)"
		}
		fmt.Fprintf(w, "| %d | %d | %s | %s | %d%s | %d | %+d | %s | %s | %s | **%s** | %s | %s | %s | **%s** | %s | %d | %d |\n",
			c.Size.Units, c.Size.Apps, ShortHook(c.Hook), c.Run(), len(r.Calls), flag, r.Minimum.Total(), len(r.Calls)-r.Minimum.Total(),
			ms(c.med(func(r *Result) time.Duration { return r.Wall })),
			ms(c.med(func(r *Result) time.Duration { return r.CPU })),
			ms(c.med(func(r *Result) time.Duration { return r.ToolsCPU() })),
			ms(c.med(func(r *Result) time.Duration { return r.OwnCPU(cal) })),
			ms(c.med(func(r *Result) time.Duration { return r.Wait4OwnCPU(cal) })),
			ms(c.med(func(r *Result) time.Duration { cpu, _ := r.CharmAtLastCall(); return cpu })),
			ms(c.med(func(r *Result) time.Duration { return r.OwnCompute(cal) })),
			mb(c.medKB(func(r *Result) int64 { return r.MaxRSSKB })),
			mb(c.medKB(func(r *Result) int64 { _, hwm := r.CharmAtLastCall(); return hwm })),
			r.DatabagBytes, r.StateBytes)
	}
	fmt.Fprintln(w)

	toolSet := map[string]bool{}
	for _, c := range cases {
		for t := range c.Runs[0].Counts {
			toolSet[t] = true
		}
		for t, n := range c.Runs[0].Minimum {
			if n > 0 {
				toolSet[t] = true
			}
		}
	}
	tools := slices.Sorted(maps.Keys(toolSet))
	fmt.Fprintf(w, "Hook-tool calls by tool, measured/minimum (a single number: not in the minimum):\n\n")
	fmt.Fprintf(w, "| units | hook | run | %s | beyond the minimum |\n", strings.Join(tools, " | "))
	fmt.Fprintf(w, "|---:|---|---|%s---|\n", strings.Repeat("---:|", len(tools)))
	for _, c := range cases {
		r := c.Runs[0]
		var cells []string
		for _, t := range tools {
			n, min := r.Counts[t], r.Minimum[t]
			_, inMin := r.Minimum[t]
			switch {
			case inMin:
				cells = append(cells, fmt.Sprintf("%d/%d", n, min))
			default:
				cells = append(cells, fmt.Sprintf("%d", n))
			}
		}
		var extra []string
		ex := r.Extra()
		for _, t := range slices.Sorted(maps.Keys(ex)) {
			extra = append(extra, fmt.Sprintf("%s %+d", t, ex[t]))
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", c.Size.Units, ShortHook(c.Hook), c.Run(), strings.Join(cells, " | "), strings.Join(extra, ", "))
	}
	fmt.Fprintln(w)
}

// Floor is the read floor's two cases at one size: its reads alone
// (against the charm's unchanged second update-status) and its reads
// followed by the charm's first-hook writes replayed (against the charm's
// first update-status).
type Floor struct {
	Reads, Writes *Case
}

// WriteFloorTable compares the charm's update-status hooks with the read
// floor (bench/cmd/readfloor: the same calls and nothing else) at each
// size: what is left is the cost of the charm's own logic.
func WriteFloorTable(w io.Writer, floors []Floor, cases []*Case, cal Calibration) {
	fmt.Fprintln(w, "| units | hook | calls (floor / charm) | floor own CPU ms | charm own CPU ms | charm − floor ms |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|")
	own := func(r *Result) time.Duration { return r.OwnCPU(cal) }
	for _, f := range floors {
		for _, fc := range []*Case{f.Writes, f.Reads} {
			i := slices.IndexFunc(cases, func(c *Case) bool {
				return c.Size == fc.Size && c.Hook == fc.Hook && c.Second == fc.Second
			})
			if i < 0 || len(fc.Runs) == 0 {
				continue
			}
			charm := cases[i]
			what := "first update-status (floor: reads + its writes replayed)"
			if fc.Second {
				what = "unchanged update-status (floor: reads only)"
			}
			fmt.Fprintf(w, "| %d | %s | %d / %d | %s | %s | %+.1f |\n", fc.Size.Units, what,
				len(fc.Runs[0].Calls), len(charm.Runs[0].Calls), ms(fc.med(own)), ms(charm.med(own)),
				float64(charm.med(own)-fc.med(own))/float64(time.Millisecond))
		}
	}
	fmt.Fprintln(w)
}
