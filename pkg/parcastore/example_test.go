package parcastore_test

import (
	"fmt"

	"github.com/tempo-coordinator/coordinator/pkg/parcastore"
)

// A store's leader publishes its address and a token per relation.
func ExampleProvider_AppData() {
	p := parcastore.Provider{BindAddress: "10.1.64.7", Port: 7993, Insecure: true,
		Token: func(relationID int) (string, error) { return "kept-in-a-secret", nil }}
	bags, err := p.AppData(true, []int{3})
	if err != nil {
		panic(err)
	}
	fmt.Println(bags[3]["remote-store-address"], bags[3]["remote-store-insecure"])
	// Output: 10.1.64.7:7993 true
}

// A requirer reads the store from its relation; without one, it drops its
// store configuration.
func ExampleRequirerStore() {
	store, ok, err := parcastore.RequirerStore([]map[string]string{{
		"remote-store-address": "parca.example.com:443", "remote-store-bearer-token": "abc", "remote-store-insecure": "false"}})
	fmt.Println(store.Address, store.Insecure, ok, err)
	_, ok, _ = parcastore.RequirerStore(nil)
	fmt.Println(ok)
	// Output:
	// parca.example.com:443 false true <nil>
	// false
}
