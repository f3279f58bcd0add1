package coordinator

// Level is a Juju workload status, ordered by how much it needs attention.
type Level int

// The statuses a charm may set, least severe first (ops' priority order).
const (
	Active Level = iota
	Waiting
	Maintenance
	Blocked
)

// String returns the name status-set expects.
func (l Level) String() string {
	switch l {
	case Waiting:
		return "waiting"
	case Maintenance:
		return "maintenance"
	case Blocked:
		return "blocked"
	default:
		return "active"
	}
}

// ParseLevel is the inverse of Level.String; unknown names give false.
func ParseLevel(s string) (Level, bool) {
	for _, l := range []Level{Active, Waiting, Maintenance, Blocked} {
		if l.String() == s {
			return l, true
		}
	}
	return Active, false
}

// Status is a unit status: a level and a message for `juju status`.
type Status struct {
	Level   Level
	Message string
}

// Highest returns the most severe status; among equals the first one wins,
// so callers decide ties by the order in which they list candidates.
// With no candidates it returns Active with fallback as message.
func Highest(candidates []Status, fallback string) Status {
	best := Status{Level: Active, Message: fallback}
	found := false
	for _, s := range candidates {
		if !found || s.Level > best.Level {
			best, found = s, true
		}
	}
	return best
}
