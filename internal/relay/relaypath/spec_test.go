package relaypath

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/keys"
)

// TestChooseRelay: --relay HOST:PORT, KEY@HOST:PORT or HOST alone (the
// default port); remembered in the data dir, so a start without --relay
// uses it, and a key learned or given stays pinned while the address is
// the same; a key that is no key is a usage error.
func TestChooseRelay(t *testing.T) {
	dir := t.TempDir()
	if specs, err := Choose("", dir); len(specs) != 0 || err != nil {
		t.Fatalf("no --relay and none remembered: %v, err %v", specs, err)
	}
	specs, err := Choose("relay.example", dir)
	if err != nil || len(specs) != 1 || specs[0].Host != "relay.example:7477" || !specs[0].Key.IsZero() {
		t.Fatalf("--relay relay.example: %+v, %v", specs, err)
	}
	key := mustKey(t).Public()
	if err := Save(dir, []Spec{{Host: "relay.example:7477", Key: key}}); err != nil { // learned on first use
		t.Fatal(err)
	}
	for _, given := range []string{"", "relay.example:7477"} {
		specs, err = Choose(given, dir)
		if err != nil || len(specs) != 1 || specs[0].Host != "relay.example:7477" || specs[0].Key != key {
			t.Errorf("--relay %q after the key was learned: %+v, %v; want it pinned", given, specs, err)
		}
	}
	other := mustKey(t).Public()
	otherText, _ := other.MarshalText()
	specs, err = Choose(string(otherText)+"@[2001:db8::1]:9000", dir)
	if err != nil || len(specs) != 1 || specs[0].Host != "[2001:db8::1]:9000" || specs[0].Key != other {
		t.Errorf("KEY@HOST:PORT: %+v, %v", specs, err)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, File))
	if string(saved) != string(otherText)+"@[2001:db8::1]:9000\n" {
		t.Errorf("remembered %q", saved)
	}
	if _, err := Choose("nokey@relay.example:7477", dir); err == nil {
		t.Error("a key that is no key was taken")
	}
	if h := Handle(key); !IsHandle(h) || IsHandle(netip.MustParseAddrPort("[2001:db8::1]:7477")) {
		t.Errorf("relay handle %v", h)
	}
}

// TestChooseSeveralRelays: --relay a,b names relays in the order they are
// tried, each [KEY@]HOST[:PORT]; all are remembered, each with its own key
// pinned once learned, and a later --relay naming one of them again keeps
// its pin. An empty entry, a bad key in any entry, and a relay named twice
// are usage errors, and change nothing remembered.
func TestChooseSeveralRelays(t *testing.T) {
	dir := t.TempDir()
	bKey := mustKey(t).Public()
	bText, _ := bKey.MarshalText()
	specs, err := Choose("a.example, "+string(bText)+"@[2001:db8::2]:9000,192.0.2.3", dir)
	want := []Spec{{Host: "a.example:7477"}, {Host: "[2001:db8::2]:9000", Key: bKey}, {Host: "192.0.2.3:7477"}}
	if err != nil || !slices.Equal(specs, want) {
		t.Fatalf("--relay with three relays: %+v, %v; want %+v", specs, err, want)
	}
	aKey := mustKey(t).Public()
	specs[0].Key = aKey // learned on first use
	if err := Save(dir, specs); err != nil {
		t.Fatal(err)
	}
	if got, err := Choose("", dir); err != nil || !slices.Equal(got, specs) {
		t.Errorf("without --relay: %+v, %v; want the three remembered, a's key learned: %+v", got, err, specs)
	}
	got, err := Choose("192.0.2.3,a.example", dir)
	want = []Spec{{Host: "192.0.2.3:7477"}, {Host: "a.example:7477", Key: aKey}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("--relay naming two of them again, in another order: %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"a.example,", ",a.example", "a.example,,b.example", "a.example,nokey@b.example", "a.example,a.example:7477"} {
		if _, err := Choose(bad, dir); !errors.As(err, new(UsageError)) {
			t.Errorf("--relay %q: %v, want a usage error", bad, err)
		}
	}
	if got, _ := Choose("", dir); !slices.Equal(got, want) {
		t.Errorf("after the mistakes, remembered %+v, want %+v", got, want)
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
