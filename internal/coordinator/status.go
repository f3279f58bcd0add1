package coordinator

// Level is a Juju workload status, ordered by how much it needs attention.
type Level int

// The statuses a charm may set, least severe first (ops' priority order).
// They start at 1 so that a Status left empty is not silently Active: its
// level's name is "unknown", which status-set rejects.
const (
	Active Level = iota + 1
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
	case Active:
		return "active"
	default:
		return "unknown"
	}
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
