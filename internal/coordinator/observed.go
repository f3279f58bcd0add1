package coordinator

import "time"

// Observed is everything the charm read in one hook. It is the only input
// of Reconcile.
type Observed struct {
	Model, ModelUUID string
	// App and Unit name this coordinator ("tempo", "tempo/0").
	App, Unit string
	Leader    bool
	// Config is the config-get map (typed JSON values).
	Config map[string]any
	// Relations maps each endpoint to its relations, sorted by ID.
	Relations map[string][]Relation
	// AppFQDN and UnitFQDN are the in-cluster names of the app and the unit.
	AppFQDN, UnitFQDN string
	// Nginx describes the nginx container; nil when it cannot be reached.
	Nginx *NginxFacts
	// UnresolvedAddresses are upstream hosts (worker addresses, the
	// telemetry proxy's destinations) nginx could not resolve in this hook
	// (see UnresolvedHost); nginx.conf leaves them out.
	UnresolvedAddresses []string
	// TLS is this unit's certificate material as the charm last left it.
	TLS TLSState
	// Now is the hook's time (certificate validity and renewal).
	Now time.Time
	// Assets are the charm's rule files and dashboards; the charm reads
	// them only when AssetsNeeded (nil otherwise).
	Assets Assets
	// DashboardCache is the compressed dashboards the previous hook kept
	// (Desired.DashboardCache), by digest of their file.
	DashboardCache map[string]string
}
