package relaycluster

import (
	"encoding/hex"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/udpchat/udpchat/internal/keys"
)

// fakeEntry is an update of the registry as the watch delivers it.
type fakeEntry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
}

func (e fakeEntry) Key() string                     { return e.key }
func (e fakeEntry) Value() []byte                   { return e.value }
func (e fakeEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

// TestRegistryKeepsTheLatestRegistration: puts of two relays for one key
// reach the bucket in the order their relays sent them, which need not be
// the order in which the key registered (a relay's put may be slow); the
// registration that came last, by the time in the entry, holds the key.
func TestRegistryKeepsTheLatestRegistration(t *testing.T) {
	c := &Cluster{
		cfg: Config{TTL: time.Minute}, id: "aaaa", log: slog.New(slog.DiscardHandler),
		reg: make(map[keys.PublicKey]entry), out: make(chan outMsg, 8),
	}
	key := newKey(t).Public()
	hexKey := hex.EncodeToString(key[:])
	c.Announce(key, nil) // the key registers here
	if put := <-c.out; put.subject != registrySubjectPrefix+hexKey || !put.registry {
		t.Fatalf("registration put on %s", put.subject)
	}
	now := time.Now()
	update := func(relay string, since time.Time) {
		t.Helper()
		b, err := encodeEntry(entry{relay: relay, since: since, candidates: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:7475")}})
		if err != nil {
			t.Fatal(err)
		}
		c.learn(fakeEntry{key: hexKey, value: b}, now)
	}

	update("bbbb", now.Add(-time.Second)) // B's put from before the key came here, late
	if r, ok := c.Locate(key); ok {
		t.Fatalf("a registration older than ours moved the key to %s", r.Relay)
	}
	update("bbbb", now.Add(time.Second)) // the key registered at B since
	if r, ok := c.Locate(key); !ok || r.Relay != "bbbb" {
		t.Fatalf("after the key registered at B it is at %q, %v; want bbbb", r.Relay, ok)
	}
	update("cccc", now.Add(500*time.Millisecond)) // C's, older than B's
	if r, _ := c.Locate(key); r.Relay != "bbbb" {
		t.Errorf("an older registration at C moved the key from B to %q", r.Relay)
	}
	update("bbbb", now.Add(time.Millisecond)) // a refresh at B: B's own entries always count
	if r, _ := c.Locate(key); r.Relay != "bbbb" {
		t.Errorf("B's refresh moved the key to %q", r.Relay)
	}
}
