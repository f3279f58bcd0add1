package coordinator

import "strconv"

// Relation is one relation as observed in a hook: the remote side's
// databags, exactly as Juju returned them (untrusted).
type Relation struct {
	ID        int
	Endpoint  string
	RemoteApp string
	// AppData is the remote application's databag.
	AppData map[string]string
	// Units maps each remote unit in scope to its databag.
	Units map[string]map[string]string
}

// Ref names the relation as hook tools expect it: "endpoint:id".
func (r Relation) Ref() string { return RelationRef(r.Endpoint, r.ID) }

// RelationRef formats an "endpoint:id" relation reference.
func RelationRef(endpoint string, id int) string {
	return endpoint + ":" + strconv.Itoa(id)
}
