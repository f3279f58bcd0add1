package jujusim

import (
	"maps"
	"slices"
)

// Op is one pending (transactional) write of the running hook.
type Op struct {
	// Kind is relation-set, state-set, state-delete, open-port,
	// close-port, secret-add, secret-set, secret-grant, secret-revoke or
	// secret-remove.
	Kind     string            `json:"kind"`
	Relation int               `json:"relation,omitempty"`
	App      bool              `json:"app,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
	Key      string            `json:"key,omitempty"`
	Port     string            `json:"port,omitempty"`
	// Secret is the new secret (secret-add) or the fields to update
	// (secret-set: non-empty fields and a non-nil Content replace).
	Secret *Secret       `json:"secret,omitempty"`
	Grant  *SecretGrant  `json:"grant,omitempty"`
	Meta   *SecretMeta   `json:"meta,omitempty"`
	Revoke *SecretRevoke `json:"revoke,omitempty"`
}

// SecretRevoke selects the grants a pending secret-revoke removes: a
// relation's (Relation set, optionally one Unit of it), a unit's, or every
// grant to an application's relations.
type SecretRevoke struct {
	Relation *int   `json:"relation,omitempty"`
	Unit     string `json:"unit,omitempty"`
	App      string `json:"app,omitempty"`
}

// SecretMeta says which metadata fields a pending secret-set changes.
type SecretMeta struct {
	Label, Description, Rotate, Expire bool
}

// apply performs a pending write on the model.
func (m *Model) apply(op Op) {
	switch op.Kind {
	case "relation-set":
		r := m.Relation(op.Relation)
		if r == nil {
			return
		}
		bag := &r.LocalUnitData
		if op.App {
			bag = &r.LocalAppData
		}
		if *bag == nil {
			*bag = map[string]string{}
		}
		for k, v := range op.Data {
			if v == "" {
				delete(*bag, k)
			} else {
				(*bag)[k] = v
			}
		}
	case "state-set":
		if m.State == nil {
			m.State = map[string]string{}
		}
		maps.Copy(m.State, op.Data)
	case "state-delete":
		delete(m.State, op.Key)
	case "open-port":
		if !slices.Contains(m.OpenedPorts, op.Port) {
			m.OpenedPorts = append(m.OpenedPorts, op.Port)
		}
	case "close-port":
		m.OpenedPorts = slices.DeleteFunc(m.OpenedPorts, func(p string) bool { return p == op.Port })
	case "secret-add":
		m.Secrets = append(m.Secrets, cloneSecret(op.Secret))
	case "secret-set":
		s := m.Secret(op.Secret.ID)
		if s == nil {
			return
		}
		if op.Meta.Label {
			s.Label = op.Secret.Label
		}
		if op.Meta.Description {
			s.Description = op.Secret.Description
		}
		if op.Meta.Rotate {
			s.Rotate = op.Secret.Rotate
		}
		if op.Meta.Expire {
			s.Expire = op.Secret.Expire
		}
		if op.Secret.Content != nil && !maps.Equal(op.Secret.Content, s.Content) {
			s.Content = maps.Clone(op.Secret.Content)
			s.Revision++
		}
	case "secret-grant":
		s := m.Secret(op.Secret.ID)
		if s != nil && !slices.Contains(s.Grants, *op.Grant) {
			s.Grants = append(s.Grants, *op.Grant)
		}
	case "secret-revoke":
		s := m.Secret(op.Secret.ID)
		if s == nil {
			return
		}
		rv := op.Revoke
		s.Grants = slices.DeleteFunc(s.Grants, func(g SecretGrant) bool {
			switch {
			case rv.Relation != nil:
				return g.Relation == *rv.Relation && (rv.Unit == "" || g.Unit == rv.Unit)
			case rv.Unit != "":
				return g.Unit == rv.Unit
			default:
				r := m.Relation(g.Relation)
				return r != nil && r.RemoteApp == rv.App
			}
		})
	case "secret-remove":
		m.Secrets = slices.DeleteFunc(m.Secrets, func(s *Secret) bool { return s.ID == op.Secret.ID })
	}
}

// view is the model as the running hook sees it: committed data with the
// pending writes applied (read-your-writes). Only the transactional parts
// are copied; the rest is shared with m.
func (m *Model) view() *Model {
	v := *m
	v.Relations = make([]*Relation, len(m.Relations))
	for i, r := range m.Relations {
		c := *r
		c.RemoteAppData = maps.Clone(r.RemoteAppData)
		c.LocalAppData = maps.Clone(r.LocalAppData)
		c.LocalUnitData = maps.Clone(r.LocalUnitData)
		c.RemoteUnits = cloneBags(r.RemoteUnits)
		c.Departed = cloneBags(r.Departed)
		v.Relations[i] = &c
	}
	v.State = maps.Clone(m.State)
	v.OpenedPorts = slices.Clone(m.OpenedPorts)
	v.Secrets = make([]*Secret, len(m.Secrets))
	for i, s := range m.Secrets {
		v.Secrets[i] = cloneSecret(s)
	}
	for _, op := range m.Pending {
		v.apply(op)
	}
	return &v
}

// commit applies the pending writes when ok, then drops them.
func (m *Model) commit(ok bool) {
	if ok {
		for _, op := range m.Pending {
			m.apply(op)
		}
	}
	m.Pending = nil
}

func cloneBags(b map[string]map[string]string) map[string]map[string]string {
	if b == nil {
		return nil
	}
	out := make(map[string]map[string]string, len(b))
	for k, v := range b {
		out[k] = maps.Clone(v)
	}
	return out
}

func cloneSecret(s *Secret) *Secret {
	c := *s
	c.Content = maps.Clone(s.Content)
	c.Grants = slices.Clone(s.Grants)
	return &c
}
