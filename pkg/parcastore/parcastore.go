// Package parcastore speaks the parca_store relation interface of the Parca
// charms (charms.parca_k8s.v0.parca_store), on the same wire as the Python
// library: a profile store (Parca) tells its clients (e.g. a Parca agent, or
// a Parca that forwards to another one) where and how to send profiles.
//
// The provider's leader writes three raw strings (not JSON) in its
// application databag: remote-store-address ("host:port", no scheme),
// remote-store-bearer-token (may be empty) and remote-store-insecure
// ("true" or "false": whether to connect without TLS). The requirer writes
// nothing.
//
// The package is pure data: databags in and out, no Juju or network access.
// Malformed data gives an error, never a panic.
package parcastore

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Names of the interface, its conventional endpoint, its databag keys and
// the library's default port.
const (
	Interface       = "parca_store"
	DefaultEndpoint = "parca-store-endpoint"

	KeyAddress     = "remote-store-address"
	KeyBearerToken = "remote-store-bearer-token"
	KeyInsecure    = "remote-store-insecure"

	DefaultPort = 7070
)

// Store is where and how to send profiles.
type Store struct {
	// Address is "host:port", without scheme.
	Address string
	// BearerToken authenticates the client; "" for none.
	BearerToken string
	// Insecure tells the client to connect without TLS.
	Insecure bool
}

// AppData is the provider's application databag for this store.
func (s Store) AppData() map[string]string {
	return map[string]string{
		KeyAddress:     s.Address,
		KeyBearerToken: s.BearerToken,
		KeyInsecure:    strconv.FormatBool(s.Insecure),
	}
}

func (s Store) validate() error {
	if err := validAddress(s.Address); err != nil {
		return err
	}
	return validToken(s.BearerToken)
}

// validAddress accepts "host:port" with a DNS name or an IP address.
func validAddress(address string) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("store address %q is not host:port (without scheme)", address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return fmt.Errorf("store address %q: invalid port", address)
	}
	if !validHost(host) {
		return fmt.Errorf("store address %q: invalid host", address)
	}
	return nil
}

func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if ip := net.ParseIP(s); ip != nil {
		return true
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validToken rejects what cannot travel in an HTTP header or a flag:
// control characters, spaces and non-ASCII bytes.
func validToken(token string) error {
	for _, c := range []byte(token) {
		if c <= ' ' || c >= 0x7f {
			return errors.New("bearer token has a space, control or non-ASCII character")
		}
	}
	return nil
}

// Provider describes a store. Its AppData is what the Python provider
// publishes, with one fix: only the leader writes (the Python library writes
// from every unit, which Juju refuses on non-leaders).
type Provider struct {
	// ExternalAddress, when set, is published as it is: "host:port"
	// without scheme (e.g. behind an ingress).
	ExternalAddress string
	// BindAddress is the unit's address on the relation (network-get's
	// bind-address): published when it is an IP address.
	BindAddress string
	// FQDN is the unit's host name: published when BindAddress is not an
	// IP address.
	FQDN string
	// Port is the store's port; 0 means DefaultPort.
	Port int
	// Insecure tells clients to connect without TLS.
	Insecure bool
	// Token returns the bearer token of a relation; nil publishes an
	// empty token. It is called for every relation at every call: return
	// the same token each time (e.g. one kept in a Juju secret) unless it
	// should rotate.
	Token func(relationID int) (string, error)
}

// Address is the store address published when there is no external
// address: "<bind IP or FQDN>:<port>".
func (p Provider) Address() string {
	if p.ExternalAddress != "" {
		return p.ExternalAddress
	}
	host := p.FQDN
	if ip := net.ParseIP(p.BindAddress); ip != nil {
		host = p.BindAddress
	}
	port := p.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// AppData returns, for each relation ID, the application databag to write.
// It is nil on a non-leader unit: only the leader writes application data.
func (p Provider) AppData(leader bool, relationIDs []int) (map[int]map[string]string, error) {
	if !leader || len(relationIDs) == 0 {
		return nil, nil
	}
	out := map[int]map[string]string{}
	for _, id := range relationIDs {
		s := Store{Address: p.Address(), Insecure: p.Insecure}
		if p.Token != nil {
			token, err := p.Token(id)
			if err != nil {
				return nil, fmt.Errorf("cannot generate the bearer token of relation %d: %w", id, err)
			}
			s.BearerToken = token
		}
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("cannot publish the store on relation %d: %w", id, err)
		}
		out[id] = s.AppData()
	}
	return out, nil
}

// RequirerStore returns the store a requirer sends profiles to, from the
// provider application databags of its relations (the endpoint takes one
// store: more than one relation is an error, as in the Python library).
//
// ok is false when there is no store to use: no relation (the store was
// removed: the requirer must drop its store configuration) or a provider
// that has not published its address yet. Malformed data (an address that
// is not host:port, remote-store-insecure neither "true" nor "false", a
// token with spaces or control characters) is an error.
func RequirerStore(relations []map[string]string) (store Store, ok bool, err error) {
	switch {
	case len(relations) == 0:
		return Store{}, false, nil
	case len(relations) > 1:
		return Store{}, false, fmt.Errorf("%d stores related, want one", len(relations))
	}
	data := relations[0]
	if data[KeyAddress] == "" {
		return Store{}, false, nil
	}
	store = Store{Address: data[KeyAddress], BearerToken: data[KeyBearerToken]}
	switch v := data[KeyInsecure]; v {
	case "true":
		store.Insecure = true
	case "false", "":
		// "" is what an old provider without the key means: TLS.
	default:
		return Store{}, false, fmt.Errorf("%s %q is neither true nor false", KeyInsecure, v)
	}
	if err := store.validate(); err != nil {
		return Store{}, false, err
	}
	return store, true, nil
}
