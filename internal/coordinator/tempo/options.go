package tempo

import (
	"fmt"
	"math"
	"strconv"

	"github.com/tempo-coordinator/coordinator/internal/coordinator"
)

// Option names, as in the charm's config.
const (
	OptionRetentionPeriod = "retention-period"
	// The always_enable_<receiver> options are built from the receiver name.
	optionAlwaysEnablePrefix = "always_enable_"
)

// DefaultRetentionHours is the default of retention-period.
const DefaultRetentionHours = 720

// MaxRetentionHours bounds retention-period: 100 years, far below what
// overflows a Go time.Duration (about 292 years), which Tempo parses it into.
const MaxRetentionHours = 876000

// Options are Tempo's validated config options.
type Options struct {
	// RetentionHours is retention-period.
	RetentionHours int
	// AlwaysEnable holds the receivers whose always_enable_* option is true.
	AlwaysEnable map[Receiver]bool
}

// AlwaysEnableOption names the option that always enables receiver r.
func AlwaysEnableOption(r Receiver) string { return optionAlwaysEnablePrefix + string(r) }

// ParseOptions reads the options from the config-get map. Invalid options
// keep their default and are reported, one Blocked status each, in a fixed
// order (retention-period first, then the receivers by name).
func ParseOptions(config map[string]any) (Options, []coordinator.Status) {
	opts := Options{RetentionHours: DefaultRetentionHours, AlwaysEnable: map[Receiver]bool{}}
	var bad []coordinator.Status
	if raw, ok := config[OptionRetentionPeriod]; ok && raw != nil {
		hours, msg := parseRetention(raw)
		if msg != "" {
			bad = append(bad, invalidOption(OptionRetentionPeriod, msg))
		} else {
			opts.RetentionHours = hours
		}
	}
	for _, r := range Receivers {
		name := AlwaysEnableOption(r)
		raw, ok := config[name]
		if !ok || raw == nil {
			continue
		}
		b, isBool := raw.(bool)
		if !isBool {
			bad = append(bad, invalidOption(name, "want true or false, got "+describe(raw)))
			continue
		}
		if b {
			opts.AlwaysEnable[r] = true
		}
	}
	return opts, bad
}

func invalidOption(name, msg string) coordinator.Status {
	return coordinator.Status{Level: coordinator.Blocked, Message: "[config] invalid " + name + ": " + msg}
}

// parseRetention returns the hours, or a message saying what is wrong.
func parseRetention(raw any) (int, string) {
	const want = "want a whole number of hours ≥ 1, got "
	var f float64
	switch v := raw.(type) {
	case float64:
		f = v
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	default:
		return 0, want + describe(raw)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < 1 {
		return 0, want + describe(raw)
	}
	if f > MaxRetentionHours {
		return 0, fmt.Sprintf("want at most %d hours (100 years), got %s", MaxRetentionHours, describe(raw))
	}
	return int(f), ""
}

// describe renders an untrusted config value for a status message, short.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(coordinator.Truncate(x, 40))
	case float64:
		return coordinator.Truncate(strconv.FormatFloat(x, 'g', -1, 64), 40)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a value of type %T", v)
	}
}
