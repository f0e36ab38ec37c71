package main

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/trust"
)

func TestIsPeerName(t *testing.T) {
	for who, want := range map[string]bool{
		"carol":       true,
		"Carol Smith": true,
		"localhost":   true, // a name; "localhost:7475" is the address
		"BLAKE2s:CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC": true,
		"blake2s:cccccccccccccccccccccccccccccccc":        true,
		"127.0.0.1":           false, // an address without its port
		"::1":                 false,
		"192.0.2.7:7475":      false,
		"[::1]:7475":          false,
		"chat.example.org:80": false,
	} {
		if got := isPeerName(who); got != want {
			t.Errorf("isPeerName(%q) = %v, want %v", who, got, want)
		}
	}
}

// finderLab is a finder over a known-peers file that knows carol (at her
// last address) and has dave's key pinned with no address, and a node that
// hears people nearby.
type finderLab struct {
	f           *finder
	node        *chat.Node
	carol, dave keys.PublicKey
	carolLastAt netip.AddrPort
}

func newFinderLab(t *testing.T, withLAN bool) *finderLab {
	t.Helper()
	known, err := trust.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := &finderLab{carol: newKey(t), dave: newKey(t), carolLastAt: netip.MustParseAddrPort("192.0.2.9:7475")}
	if err := known.Admit(l.carolLastAt, l.carol, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := known.Trust("dave", l.dave.Fingerprint(), true); err != nil {
		t.Fatal(err)
	}
	node, _ := chattest.NewNode(t, chat.Config{Name: "alice"}, "192.0.2.1:7475")
	t.Cleanup(func() { node.Close(context.Background()) })
	l.node = node
	l.f = &finder{node: node, known: known}
	if withLAN {
		l.f.lan = &lan{interval: 5 * time.Second}
	}
	return l
}

func newKey(t *testing.T) keys.PublicKey {
	t.Helper()
	k, err := keys.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// A known peer is found by name, in any case, or key, at the address it was
// last seen at; with discovery, at the one it is nearby at now.
func TestFinderKnownPeers(t *testing.T) {
	for _, withLAN := range []bool{false, true} {
		l := newFinderLab(t, withLAN)
		for _, who := range []string{"carol", "CAROL", l.carol.Fingerprint(), strings.ToLower(l.carol.Fingerprint())} {
			if got, err := l.f.find(who); err != nil || got != l.carolLastAt {
				t.Errorf("lan %v: find(%q) = %v, %v; want %v", withLAN, who, got, err, l.carolLastAt)
			}
		}
		_, err := l.f.find("dave") // known, but never seen anywhere
		want := `no one called "dave" is known (udpchat trust --list)`
		if withLAN {
			want = `no one called "dave" is known or nearby`
		}
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("lan %v: find(dave) = %v, want a usage error saying %s", withLAN, err, want)
		}
	}

	l := newFinderLab(t, true)
	now := netip.MustParseAddrPort("192.0.2.10:7475")
	l.node.SawNearby(chat.Nearby{Name: "carol", Fingerprint: l.carol.Fingerprint(), Addr: now})
	// Another key announcing carol's name is not her.
	l.node.SawNearby(chat.Nearby{Name: "carol", Fingerprint: newKey(t).Fingerprint(), Addr: netip.MustParseAddrPort("192.0.2.66:7475")})
	if got, err := l.f.find("carol"); err != nil || got != now {
		t.Errorf("find(carol) nearby = %v, %v; want %v, where her key is nearby now", got, err, now)
	}
}

// Someone nearby and not known is found by name; two of one name are an
// error naming their keys; --peer waits for a name not heard yet, saying
// so, and gives up once discovery has had its time.
func TestFinderNearby(t *testing.T) {
	l := newFinderLab(t, true)
	zoe := chat.Nearby{Name: "zoe", Fingerprint: newKey(t).Fingerprint(), Addr: netip.MustParseAddrPort("192.0.2.20:7475")}
	l.node.SawNearby(zoe)
	if got, err := l.f.find("Zoe"); err != nil || got != zoe.Addr {
		t.Errorf("find(Zoe) = %v, %v; want %v", got, err, zoe.Addr)
	}
	other := chat.Nearby{Name: "zoe", Fingerprint: newKey(t).Fingerprint(), Addr: netip.MustParseAddrPort("192.0.2.21:7475")}
	l.node.SawNearby(other)
	if _, err := l.f.find("zoe"); err == nil || !strings.Contains(err.Error(), zoe.Fingerprint) || !strings.Contains(err.Error(), other.Fingerprint) {
		t.Errorf("find(zoe) with two zoes = %v, want an error naming both keys", err)
	}

	// dave's key is pinned: --peer dave waits for that key, under any
	// name. He is heard once udpchat says it is looking.
	davePC := chat.Nearby{Name: "dave-laptop", Fingerprint: l.dave.Fingerprint(), Addr: netip.MustParseAddrPort("192.0.2.30:7475")}
	var stderr strings.Builder
	heard := writerFunc(func(b []byte) (int, error) {
		stderr.Write(b)
		l.node.SawNearby(davePC)
		return len(b), nil
	})
	if got, err := l.f.findWaiting(t.Context(), "dave", heard); err != nil || got != davePC.Addr {
		t.Errorf("findWaiting(dave) = %v, %v; want %v", got, err, davePC.Addr)
	}
	if got := stderr.String(); got != "udpchat: looking for dave on the LAN…\n" {
		t.Errorf("stderr %q", got)
	}

	l.f.lan.interval = time.Millisecond // nobody nearby is called nobody, and all have announced
	if _, err := l.f.findWaiting(t.Context(), "nobody", io.Discard); err == nil || !strings.Contains(err.Error(), `no one called "nobody" is known or nearby`) {
		t.Errorf("findWaiting(nobody) = %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Plain mode has no keys, so no names.
func TestFinderPlain(t *testing.T) {
	f := &finder{}
	if _, err := f.find("carol"); err == nil || !strings.Contains(err.Error(), "plain mode knows peers by address only") {
		t.Errorf("find(carol) in plain mode = %v", err)
	}
}

// contactList is a contactBook of fixed contacts.
type contactList []store.Contact

func (l contactList) Contacts(context.Context) ([]store.Contact, error) { return l, nil }

// The name the user gave a contact is found before the known peers' names,
// at the contact's newest endpoint, unless they are nearby now; so is a
// contact's fingerprint. A contact seen nowhere is found where the known
// peers last saw its key. Names the contact only announced are left to the
// known peers and discovery.
func TestFinderContacts(t *testing.T) {
	l := newFinderLab(t, true)
	newest := netip.MustParseAddrPort("192.0.2.40:7475")
	erin := newKey(t)
	l.f.contacts = contactList{
		{Key: [32]byte(erin), AnnouncedName: "erin", GivenName: "carol", Endpoints: []store.Endpoint{
			{Address: newest.String(), Source: store.FromPacket}, {Address: "192.0.2.41:7475", Source: store.FromFlag},
		}},
		{Key: [32]byte(l.carol), AnnouncedName: "carol", GivenName: "cc"}, // seen nowhere the store kept
		{Key: [32]byte(newKey(t)), AnnouncedName: "zed"},
	}
	for who, want := range map[string]netip.AddrPort{
		"carol":            newest, // erin, whom the user calls carol, not the known carol
		"CAROL":            newest,
		erin.Fingerprint(): newest,
		"cc":               l.carolLastAt, // the known carol's address
	} {
		if got, err := l.f.find(who); err != nil || got != want {
			t.Errorf("find(%q) = %v, %v; want %v", who, got, err, want)
		}
	}
	if _, err := l.f.find("zed"); err == nil || !strings.Contains(err.Error(), `no one called "zed" is known or nearby`) {
		t.Errorf("find(zed), a name only announced = %v", err)
	}
	now := netip.MustParseAddrPort("192.0.2.42:7475")
	l.node.SawNearby(chat.Nearby{Name: "erin", Fingerprint: erin.Fingerprint(), Addr: now})
	if got, err := l.f.find("carol"); err != nil || got != now {
		t.Errorf("find(carol) with erin nearby = %v, %v; want %v", got, err, now)
	}
}
