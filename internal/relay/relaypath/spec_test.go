package relaypath

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
)

// TestChooseRelay: --relay HOST:PORT, KEY@HOST:PORT or HOST alone (the
// default port); remembered in the data dir, so a start without --relay
// uses it, and a key learned or given stays pinned while the address is
// the same; a key that is no key is a usage error.
func TestChooseRelay(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Choose("", dir); ok || err != nil {
		t.Fatalf("no --relay and none remembered: ok %v, err %v", ok, err)
	}
	spec, ok, err := Choose("relay.example", dir)
	if !ok || err != nil || spec.Host != "relay.example:7477" || !spec.Key.IsZero() {
		t.Fatalf("--relay relay.example: %+v, %v, %v", spec, ok, err)
	}
	key := mustKey(t).Public()
	if err := Save(dir, Spec{Host: "relay.example:7477", Key: key}); err != nil { // learned on first use
		t.Fatal(err)
	}
	for _, given := range []string{"", "relay.example:7477"} {
		spec, ok, err = Choose(given, dir)
		if !ok || err != nil || spec.Host != "relay.example:7477" || spec.Key != key {
			t.Errorf("--relay %q after the key was learned: %+v, %v, %v; want it pinned", given, spec, ok, err)
		}
	}
	other := mustKey(t).Public()
	otherText, _ := other.MarshalText()
	spec, _, err = Choose(string(otherText)+"@[2001:db8::1]:9000", dir)
	if err != nil || spec.Host != "[2001:db8::1]:9000" || spec.Key != other {
		t.Errorf("KEY@HOST:PORT: %+v, %v", spec, err)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, File))
	if string(saved) != string(otherText)+"@[2001:db8::1]:9000\n" {
		t.Errorf("remembered %q", saved)
	}
	if _, _, err := Choose("nokey@relay.example:7477", dir); err == nil {
		t.Error("a key that is no key was taken")
	}
	if h := Handle(key); !IsHandle(h) || IsHandle(netip.MustParseAddrPort("[2001:db8::1]:7477")) {
		t.Errorf("relay handle %v", h)
	}
}

func mustKey(t *testing.T) keys.PrivateKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
