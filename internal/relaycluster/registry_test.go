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

// TestRegistryTakesPutsInTheBucketsOrder: the watch hands over the bucket's
// puts in order, but this relay's own registration is in its copy before
// its put is in the bucket. Another relay's entry that comes before ours
// comes back is older than ours, and must not move the key away.
func TestRegistryTakesPutsInTheBucketsOrder(t *testing.T) {
	c := &Cluster{
		cfg: Config{TTL: time.Minute}, id: "aaaa", log: slog.New(slog.DiscardHandler),
		reg: make(map[keys.PublicKey]entry), pending: make(map[keys.PublicKey]time.Time), out: make(chan outMsg, 8),
	}
	key := newKey(t).Public()
	hexKey := hex.EncodeToString(key[:])
	c.Announce(key, nil)
	if put := <-c.out; put.subject != registrySubjectPrefix+hexKey {
		t.Fatalf("registration put on %s", put.subject)
	}
	at := func(relay string) []byte {
		b, err := encodeEntry(entry{relay: relay, candidates: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:7475")}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Now()

	c.learn(fakeEntry{key: hexKey, value: at("bbbb")}, now) // B's, put before ours
	if r, ok := c.Locate(key); ok {
		t.Fatalf("an entry older than our registration moved the key to %s", r.Relay)
	}
	c.learn(fakeEntry{key: hexKey, value: at("aaaa")}, now) // ours, back
	c.learn(fakeEntry{key: hexKey, value: at("bbbb")}, now) // B's, put after ours: the key moved
	if r, ok := c.Locate(key); !ok || r.Relay != "bbbb" {
		t.Fatalf("after the key registered at B it is at %q, %v; want bbbb", r.Relay, ok)
	}

	// A put of ours that never comes back stops holding others off.
	c.Announce(key, nil)
	<-c.out
	c.learn(fakeEntry{key: hexKey, value: at("cccc")}, now.Add(echoWait+time.Second))
	if r, ok := c.Locate(key); !ok || r.Relay != "cccc" {
		t.Fatalf("after our put was lost the key is at %q, %v; want cccc", r.Relay, ok)
	}
}
